"""Busy time from iCalendar data: expand recurrences, drop free and cancelled time, go UTC."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar import Component

from calendars.errors import CalendarParseError, CalendarTooLarge
from calendars.feed_trim import trim_for_busy
from calendars.intervals import Interval, merge

# Expand a day beyond the window on each side: floating and all-day times are compared
# against the window before we place them in a zone, so they may sit up to ~14 h off.
_QUERY_MARGIN = timedelta(days=1)
# Single events are dropped before parsing only when this far outside the window: their
# dates are read as written, before any zone (at most 14 h off UTC) is applied.
_TRIM_MARGIN = _QUERY_MARGIN + timedelta(days=1)

# Seconds between candidate occurrences for each FREQ, before BYxxx expansion.
_FREQ_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,  # shortest month: over-estimates, which is the safe side
    "YEARLY": 365 * 86400,
}
_FREQ_RANK = {name: rank for rank, name in enumerate(_FREQ_SECONDS)}

_FREE_STATUSES = {"CANCELLED"}
_OUTLOOK_BUSY_STATUS = "X-MICROSOFT-CDO-BUSYSTATUS"

# What recurring-ical-events and icalendar raise on broken data.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def busy_from_ics(
    data: bytes | str,
    start: datetime,
    end: datetime,
    *,
    default_tz: str = "Europe/London",
    tentative_is_busy: bool = True,
    max_events: int = 50_000,
    max_components: int = 10_000,
    max_rule_steps: int = 200_000,
) -> list[Interval]:
    """Return the merged busy intervals (UTC) of ``data`` that overlap [start, end).

    Floating times and all-day events are placed in ``default_tz`` (or the feed's
    X-WR-TIMEZONE). Transparent, free and cancelled events are skipped; tentative ones
    are kept flagged ``tentative`` unless ``tentative_is_busy`` is False.
    Raises CalendarParseError on malformed data and CalendarTooLarge when reading it would
    take too long: more than ``max_components`` events near the window, any one
    recurrence rule or the whole window with more than ``max_events`` occurrences, or
    all the rules together stepping more than ``max_rule_steps`` times.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        return []
    zone = ZoneInfo(default_tz)
    trimmed = trim_for_busy(
        data,
        first_day=(start - _TRIM_MARGIN).astimezone(UTC).date(),
        last_day=(end + _TRIM_MARGIN).astimezone(UTC).date(),
        max_components=max_components,
    )
    calendar = _parse(trimmed)
    _refuse_runaway_rules(calendar, end + _QUERY_MARGIN, max_events, max_rule_steps)
    busy: list[Interval] = []
    for component, occ_start, occ_end in _occurrences(
        calendar, start - _QUERY_MARGIN, end + _QUERY_MARGIN, max_events
    ):
        tentative = _is_tentative(component)
        if tentative is None or (tentative and not tentative_is_busy):
            continue
        interval_start = _to_utc(occ_start, zone)
        interval_end = _to_utc(occ_end, zone)
        if interval_end <= interval_start or interval_end <= start or interval_start >= end:
            continue
        busy.append(Interval(interval_start, interval_end, tentative))
    return merge(busy)


def _parse(data: bytes | str) -> Component:
    """Parse one VCALENDAR and bring X-WR-TIMEZONE feeds into RFC 5545 form."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except _PARSE_ERRORS as exc:
        raise CalendarParseError("calendar data is not valid iCalendar") from exc
    if calendar.name != "VCALENDAR":
        raise CalendarParseError("calendar data does not contain a VCALENDAR")
    try:
        standard: Component = x_wr_timezone.to_standard(calendar)  # the library is untyped
    except ZoneInfoNotFoundError as exc:
        raise CalendarParseError("calendar names an unknown X-WR-TIMEZONE") from exc
    except _PARSE_ERRORS as exc:
        raise CalendarParseError("calendar has a malformed date or time") from exc
    return standard


def _occurrences(
    calendar: Component, start: datetime, end: datetime, max_events: int
) -> Iterator[tuple[Component, date | datetime, date | datetime]]:
    """Yield (component, start, end) of every event occurrence overlapping the window."""
    try:
        query = recurring_ical_events.of(calendar, components=["VEVENT"])
        count = 0
        for series in query.series:
            for occurrence in series.between(start, end):
                count += 1
                if count > max_events:
                    raise CalendarTooLarge(
                        f"calendar has more than {max_events} events in the window"
                    )
                component = occurrence.as_component(False)
                yield component, occurrence.start, occurrence.end
    except (recurring_ical_events.InvalidCalendar, *_PARSE_ERRORS) as exc:
        raise CalendarParseError(
            f"calendar has an event that cannot be read ({type(exc).__name__})"
        ) from exc


def _is_tentative(component: Component) -> bool | None:
    """Return None for time that is not busy, else whether the busy time is tentative."""
    status = str(component.get("STATUS", "")).upper()
    transparency = str(component.get("TRANSP", "OPAQUE")).upper()
    outlook_status = str(component.get(_OUTLOOK_BUSY_STATUS, "")).upper()
    if status in _FREE_STATUSES or transparency == "TRANSPARENT" or outlook_status == "FREE":
        return None
    return status == "TENTATIVE" or outlook_status == "TENTATIVE"


def _to_utc(value: date | datetime, zone: tzinfo) -> datetime:
    """Place a date (local midnight), floating or zoned time in UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=zone)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _refuse_runaway_rules(
    calendar: Component, until: datetime, max_events: int, max_rule_steps: int
) -> None:
    """Raise CalendarTooLarge if the rules would step through too many times.

    dateutil walks a rule from DTSTART, so a FREQ=SECONDLY rule started years ago would
    hang before reaching the window; estimate the steps first, from the rules alone. One
    rule may take ``max_events`` steps, and all of them together ``max_rule_steps``: a
    feed of a thousand daily rules from 1990 is as slow as one rule of a million steps.
    """
    total = 0.0
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        if rules is None:
            continue
        try:
            first = event.decoded("DTSTART")
            for rule in rules if isinstance(rules, list) else [rules]:
                steps = _estimated_steps(rule, first, until)
                if steps > max_events:
                    raise CalendarTooLarge(
                        f"calendar has a recurrence rule with more than {max_events} occurrences"
                    )
                total += steps
                if total > max_rule_steps:
                    raise CalendarTooLarge(
                        f"calendar's recurrence rules take more than {max_rule_steps} steps"
                    )
        except _PARSE_ERRORS as exc:
            raise CalendarParseError(
                f"calendar has a recurrence rule that cannot be read ({type(exc).__name__})"
            ) from exc


def _estimated_steps(rule: icalendar.vRecur, first: date | datetime, until: datetime) -> float:
    """Over-estimate how many candidates a rule yields from ``first`` up to ``until``.

    COUNT bounds the walk only for a rule without BYxxx parts: with them, dateutil may step
    through every candidate up to ``until`` looking for matches (BYMONTHDAY=30 in
    February never matches). An INTERVAL below one would never step forward at all.
    """
    count = rule.get("COUNT")
    if count and not any(part.startswith("BY") for part in rule):
        return int(count[0])
    frequency = str(rule["FREQ"][0]).upper()
    interval = int(rule.get("INTERVAL", [1])[0])
    if interval < 1:
        raise CalendarParseError("calendar has a recurrence rule that never moves on")
    stop = until
    if rule.get("UNTIL"):
        stop = min(stop, _to_utc(rule["UNTIL"][0], UTC))
    span = (stop - _to_utc(first, UTC)).total_seconds()
    if span <= 0:
        return 0
    periods = math.ceil(span / (_FREQ_SECONDS[frequency] * interval)) + 1
    return periods * _expansion_per_period(rule, _FREQ_RANK[frequency])


def _expansion_per_period(rule: icalendar.vRecur, rank: int) -> int:
    """Upper bound on candidates per period from BYxxx parts that expand (RFC 5545 3.3.10)."""

    def size(part: str) -> int:
        return len(rule.get(part, [])) or 1

    factor = 1
    if rank > _FREQ_RANK["SECONDLY"]:
        factor *= size("BYSECOND")
    if rank > _FREQ_RANK["MINUTELY"]:
        factor *= size("BYMINUTE")
    if rank > _FREQ_RANK["HOURLY"]:
        factor *= size("BYHOUR")
    if rank >= _FREQ_RANK["WEEKLY"]:
        days_per_period = {
            _FREQ_RANK["WEEKLY"]: 1,
            _FREQ_RANK["MONTHLY"]: 5,
            _FREQ_RANK["YEARLY"]: 53,
        }[rank]
        factor *= size("BYDAY") * days_per_period
    if rank >= _FREQ_RANK["MONTHLY"]:
        factor *= size("BYMONTHDAY") * size("BYMONTH") * size("BYYEARDAY") * size("BYWEEKNO")
    return factor


def busy_from_freebusy(data: bytes | str, *, tentative_is_busy: bool = True) -> list[Interval]:
    """Return the merged busy intervals (UTC) listed by the VFREEBUSY components of ``data``.

    FBTYPE BUSY (the default) and BUSY-UNAVAILABLE are busy; BUSY-TENTATIVE is kept
    flagged ``tentative`` unless ``tentative_is_busy`` is False; FREE is skipped.
    Raises CalendarParseError on malformed data.
    """
    calendar = _parse(data)
    busy: list[Interval] = []
    try:
        for component in calendar.walk("VFREEBUSY"):
            periods = component.get("FREEBUSY", [])
            for period in periods if isinstance(periods, list) else [periods]:
                kind = str(period.params.get("FBTYPE", "BUSY")).upper()
                if kind == "FREE" or (kind == "BUSY-TENTATIVE" and not tentative_is_busy):
                    continue
                period_start, end_or_length = period.dt
                period_end = (
                    period_start + end_or_length
                    if isinstance(end_or_length, timedelta)
                    else end_or_length
                )
                busy.append(
                    Interval(
                        _to_utc(period_start, UTC),
                        _to_utc(period_end, UTC),
                        tentative=kind == "BUSY-TENTATIVE",
                    )
                )
    except _PARSE_ERRORS as exc:
        raise CalendarParseError(
            f"free/busy data has a period that cannot be read ({type(exc).__name__})"
        ) from exc
    return merge(busy)
