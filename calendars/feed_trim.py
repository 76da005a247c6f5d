"""Cut an iCalendar feed down to what busy time needs, before it is parsed.

A published feed carries years of history and every event's summary, description,
attendees, alarms and attachments; busy time needs only when each event is and whether it
repeats. Parsing costs about as much per byte as the whole feed holds, so a few megabytes
of history take seconds and hundreds of megabytes to read. Working on raw content lines
(RFC 5545 section 3.1), this keeps only the timing properties of each event, drops single
events that end before or start after the window, and refuses a feed that still holds more
components than ``max_components``. A recurring series goes too, with all its overrides, when
its rules end before the window (UNTIL, or COUNT steps of a plain rule) or it starts after
it, and none of its overrides is moved into the window: three years of term-long weekly
meetings are most of a published calendar's series. Any other series is kept whole: whether
it touches the window is for the recurrence expansion to say.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from calendars.errors import CalendarParseError, CalendarTooLarge

# The event properties that bear on busy time; everything else in an event is dropped.
BUSY_PROPERTIES = frozenset(
    {
        b"UID",
        b"DTSTART",
        b"DTEND",
        b"DURATION",
        b"RRULE",
        b"RDATE",
        b"EXDATE",
        b"RECURRENCE-ID",
        b"SEQUENCE",
        b"STATUS",
        b"TRANSP",
        b"X-MICROSOFT-CDO-BUSYSTATUS",
    }
)
_RECURRENCE_PROPERTIES = frozenset({b"RRULE", b"RDATE", b"RECURRENCE-ID"})
# The longest a step of each FREQ may be, in days, for a rule without BYxxx parts.
_FREQ_DAYS = {b"SECONDLY": 1, b"MINUTELY": 1, b"HOURLY": 1, b"DAILY": 1, b"WEEKLY": 7}
_FREQ_DAYS |= {b"MONTHLY": 31, b"YEARLY": 366}
# Children of the calendar worth parsing: events, and the zones their times refer to.
_KEPT_COMPONENTS = frozenset({b"VEVENT", b"VTIMEZONE"})

# The same unfolding as icalendar's parser: a line break followed by a space or a tab.
_FOLD = re.compile(rb"(?:(?<!\n)\r\n|(?<![\r\n])\n)(?:\r?\n)*[ \t]")
_NEWLINE = re.compile(rb"\r?\n")
_NAME_END = re.compile(rb"[;:]")
_BOM = b"\xef\xbb\xbf"


def trim_for_busy(
    data: bytes | str, *, first_day: date, last_day: date, max_components: int
) -> bytes:
    """Return ``data`` with only the components and properties busy time needs.

    Single events ending before ``first_day`` or starting after ``last_day`` are dropped
    (the caller widens the window enough for any time zone). Raises CalendarParseError
    when the data does not start a VCALENDAR or leaves a component open, and
    CalendarTooLarge when more than ``max_components`` components are left.
    """
    raw = data.encode() if isinstance(data, str) else data
    raw = raw.removeprefix(_BOM).lstrip()
    if not raw[:15].upper().startswith(b"BEGIN:VCALENDAR"):
        raise CalendarParseError("calendar data does not start with BEGIN:VCALENDAR")
    trimmer = _Trimmer(first_day, last_day, max_components)
    for line in _NEWLINE.split(_FOLD.sub(b"", raw)):
        if line:
            trimmer.feed(line)
    return trimmer.result()


class _Trimmer:
    """Walk content lines keeping a stack of open components; collect the lines kept."""

    def __init__(self, first_day: date, last_day: date, max_components: int) -> None:
        self.first_day = first_day
        self.last_day = last_day
        self.max_components = max_components
        self.kept: list[bytes | list[bytes]] = []  # a list is a recurring event, decided last
        self.series: dict[bytes, list[list[bytes]]] = {}  # recurring events by UID
        self.open: list[bytes] = []
        self.components = 0
        self.dropped_from: int | None = None  # depth where a dropped component began
        self.event: list[bytes] | None = None  # the kept lines of the event being read

    def feed(self, line: bytes) -> None:
        name = _name(line)
        if name == b"BEGIN":
            self._begin(line)
        elif name == b"END":
            self._end(line)
        elif self.dropped_from is not None:
            return
        elif self.event is None:
            self.kept.append(line)
        elif name in BUSY_PROPERTIES:
            self.event.append(line)

    def result(self) -> bytes:
        if self.open:
            raise CalendarParseError("calendar data ends before its components are closed")
        gone = {
            id(event)
            for events in self.series.values()
            if not _series_may_touch(events, self.first_day, self.last_day)
            for event in events
        }
        lines: list[bytes] = []
        for item in self.kept:
            if isinstance(item, bytes):
                lines.append(item)
            elif id(item) not in gone:
                lines.extend(item)
        return b"\r\n".join(lines) + b"\r\n"

    def _begin(self, line: bytes) -> None:
        component = _value(line).upper()
        self.open.append(component)
        if self.dropped_from is not None:
            return
        if not self._wanted():
            self.dropped_from = len(self.open)
        elif component == b"VEVENT" and len(self.open) == 2:
            self.event = [line]  # counted once it is known to be kept
        else:
            self._count()
            self._keep(line)

    def _end(self, line: bytes) -> None:
        # Like icalendar's parser, an END closes the innermost open component, whatever it names.
        if not self.open:
            raise CalendarParseError("calendar data closes a component it did not open")
        depth = len(self.open)
        self.open.pop()
        if self.dropped_from is not None:
            if depth == self.dropped_from:
                self.dropped_from = None
            return
        self._keep(line)
        if self.event is not None and depth == 2:
            self._close_event(self.event)
            self.event = None

    def _close_event(self, event: list[bytes]) -> None:
        """Keep a single event that may touch the days; set a recurring one aside by UID."""
        names = {_name(line) for line in event}
        uid = next((_value(line) for line in event if _name(line) == b"UID"), None)
        if _RECURRENCE_PROPERTIES & names and uid is not None:
            self._count()  # counted as it comes, as before: a hostile feed stops early
            self.kept.append(event)
            self.series.setdefault(uid, []).append(event)
        elif _may_touch(event, self.first_day, self.last_day):
            self._count()
            self.kept.extend(event)

    def _count(self) -> None:
        self.components += 1
        if self.components > self.max_components:
            raise CalendarTooLarge(
                f"calendar has more than {self.max_components} components near the window"
            )

    def _keep(self, line: bytes) -> None:
        (self.kept if self.event is None else self.event).append(line)

    def _wanted(self) -> bool:
        """Keep the calendar, its events and zones, and the zones' parts; drop the rest."""
        depth = len(self.open)
        if depth <= 1:
            return True
        if self.open[1] not in _KEPT_COMPONENTS:
            return False
        return depth == 2 or self.open[1] == b"VTIMEZONE"


def _may_touch(event: list[bytes], first_day: date, last_day: date) -> bool:
    """Tell whether an event may overlap the days; unsure (or recurring) means yes."""
    found = {_name(line): line for line in event}
    if _RECURRENCE_PROPERTIES & found.keys():
        return True
    return _own_time_may_touch(found, first_day, last_day)


def _own_time_may_touch(found: dict[bytes, bytes], first_day: date, last_day: date) -> bool:
    """Tell whether an event's own DTSTART to its end may overlap the days; unsure means yes."""
    start = _day_of(found.get(b"DTSTART"))
    if start is None:
        return True
    if start > last_day:
        return False
    end = _end_day(found, start)
    return end is None or end >= first_day


def _end_day(found: dict[bytes, bytes], start: date) -> date | None:
    """The day an event starting on ``start`` ends (by DTEND or DURATION); None if unsure."""
    if b"DTEND" in found:
        return _day_of(found[b"DTEND"])
    if b"DURATION" in found:
        return _end_day_after(found[b"DTSTART"], found[b"DURATION"])
    return start


def _series_may_touch(events: list[list[bytes]], first_day: date, last_day: date) -> bool:
    """Tell whether one UID's recurring events may overlap the days; unsure means yes.

    The series may be left out only when each of its masters repeats by rules alone and
    cannot reach the days, and each override lies outside them by its own times (it then
    moves an occurrence that lies outside too, since all of them do) and changes that one
    occurrence only (no RANGE). Overrides without a master are kept, as single events.
    """
    masters = 0
    for event in events:
        found = {_name(line): line for line in event}
        if b"RECURRENCE-ID" in found:
            if b"RANGE=" in found[b"RECURRENCE-ID"].upper().partition(b":")[0]:
                return True
            if _own_time_may_touch(found, first_day, last_day):
                return True
            continue
        masters += 1
        rules = [line for line in event if _name(line) == b"RRULE"]
        if b"RDATE" in found or _rules_may_touch(found, rules, first_day, last_day):
            return True
    return masters == 0


def _rules_may_touch(
    found: dict[bytes, bytes], rules: list[bytes], first_day: date, last_day: date
) -> bool:
    """Tell whether a master's occurrences by ``rules`` may overlap the days; unsure means yes."""
    start = _day_of(found.get(b"DTSTART"))
    if start is None:
        return True
    if start > last_day:
        return False  # every occurrence starts on or after DTSTART
    end = _end_day(found, start)
    if end is None or end < start:
        return True
    last_start = start
    for rule in rules:
        rule_end = _last_start_by_rule(_value(rule), start)
        if rule_end is None:
            return True
        last_start = max(last_start, rule_end)
    # The last occurrence starts no later than last_start and lasts as long as the first.
    return last_start + (end - start) + timedelta(days=1) >= first_day


def _last_start_by_rule(rule: bytes, start: date) -> date | None:
    """The latest day a rule's occurrence may start on: by UNTIL, or by COUNT steps of a rule
    without BYxxx parts; None when it runs on or cannot be read."""
    parts = dict(part.partition(b"=")[::2] for part in rule.upper().split(b";"))
    if b"UNTIL" in parts:
        return _day_of(parts[b"UNTIL"])
    step_days = _FREQ_DAYS.get(parts.get(b"FREQ", b""))
    count, interval = parts.get(b"COUNT", b""), parts.get(b"INTERVAL", b"1")
    if step_days is None or any(name.startswith(b"BY") for name in parts):
        return None
    if not (count.isdigit() and interval.isdigit()) or len(count) > 6 or len(interval) > 6:
        return None
    if int(interval) < 1:
        return None  # a rule that never moves on is for the parser to refuse
    if (step_days == 31 and start.day > 28) or (
        step_days == 366 and (start.month, start.day) == (2, 29)
    ):
        return None  # months without the 31st (years without 29 February) are skipped
    try:
        return start + timedelta(days=step_days * int(interval) * max(int(count) - 1, 0))
    except OverflowError:
        return None


# RFC 5545 dur-value: P then weeks, or days and/or a time part (hours, minutes, seconds).
_DURATION = re.compile(
    rb"([+-]?)P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?)",
    re.IGNORECASE,
)


def _end_day_after(start_line: bytes, duration_line: bytes) -> date | None:
    """The day a DTSTART plus DURATION event ends on; None when either is unreadable."""
    start = _local_time_of(start_line)
    found = _DURATION.fullmatch(_value(duration_line))
    if (
        start is None
        or found is None
        or found.group(1) == b"-"
        or found.groups()[1:] == (None,) * 5
    ):
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in found.groups()[1:])
    length = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    try:
        return (start + length).date()
    except OverflowError:
        return None


def _local_time_of(line: bytes) -> datetime | None:
    """The local date-time a DTSTART line names (midnight for a date), if it is readable."""
    day = _day_of(line)
    if day is None:
        return None
    value = line.rpartition(b":")[2].strip()
    clock = value[9:15] if value[8:9].upper() == b"T" else b""
    if len(clock) == 6 and clock.isdigit():
        hour, minute, second = int(clock[:2]), int(clock[2:4]), int(clock[4:6])
        if hour < 24 and minute < 60 and second < 61:
            return datetime(day.year, day.month, day.day, hour, minute, min(second, 59))
    return datetime(day.year, day.month, day.day)


def _name(line: bytes) -> bytes:
    found = _NAME_END.search(line)
    return (line[: found.start()] if found else line).upper()


def _value(line: bytes) -> bytes:
    return line.partition(b":")[2].strip()


def _day_of(line: bytes | None) -> date | None:
    """The calendar day a DTSTART or DTEND line names (its local date), if it is readable."""
    if line is None:
        return None
    value = line.rpartition(b":")[2].strip()
    if len(value) < 8 or not value[:8].isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None
