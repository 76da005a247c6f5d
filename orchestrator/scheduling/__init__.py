"""Scheduling: busy time and slots, availability polls, caseload planning, booking."""
