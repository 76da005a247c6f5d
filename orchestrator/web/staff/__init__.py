"""The staff's pages: sign-in, the deadline board, case pages, scheduling, console, reports."""
