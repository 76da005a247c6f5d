"""iCalendar in and out, free/busy, the working-day calendar and the clocks.

Pure: value types and functions. No database, no web, no network; callers hand in bytes.
"""
