"""Errors raised while reading calendar data; messages never quote event contents."""

from __future__ import annotations


class CalendarError(Exception):
    """Base of every error raised by the pure calendar code."""


class CalendarParseError(CalendarError):
    """The data is not iCalendar we can read (malformed lines, broken dates or rules)."""


class CalendarTooLarge(CalendarError):
    """Expanding the calendar would take more occurrences than we are willing to compute."""
