"""The scheduling rules the slot solver obeys: working hours, party limits, mediator capacity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

from calendars import wording
from calendars.intervals import Interval
from calendars.workdays import WorkingDays

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)

OFFICE_HOURS = (time(9, 0), time(17, 0))
SCHOOL_HOURS = (time(8, 45), time(15, 15))


def _office_week() -> Mapping[int, tuple[time, time]]:
    return MappingProxyType(dict.fromkeys(range(MONDAY, SATURDAY), OFFICE_HOURS))


def _clock(moment: time | None) -> str:
    return "" if moment is None else wording.clock(moment)


@dataclass(frozen=True)
class WorkingHours:
    """Local start and end time per weekday (0 = Monday); a missing weekday is not worked."""

    by_weekday: Mapping[int, tuple[time, time]] = field(default_factory=_office_week)

    def __post_init__(self) -> None:
        for weekday, (start, end) in self.by_weekday.items():
            if not 0 <= weekday <= SUNDAY:
                raise ValueError(f"weekday {weekday} is not 0..6")
            if end <= start:
                raise ValueError(f"working hours on weekday {weekday} end before they start")

    def hours_on(self, weekday: int) -> tuple[time, time] | None:
        """Return (start, end) local times worked on ``weekday``, or None for a day off."""
        return self.by_weekday.get(weekday)


@dataclass(frozen=True)
class PartyRules:
    """What one party cannot do, and what they would prefer, in their local time."""

    not_before: time | None = None
    not_after: time | None = None
    excluded_weekdays: frozenset[int] = frozenset()
    school_day: bool = False
    school_hours: tuple[time, time] = SCHOOL_HOURS
    term_dates: Sequence[tuple[date, date]] | None = None
    preferred_windows: Sequence[tuple[time, time]] = ()

    def allows(self, local_start: datetime, local_end: datetime) -> bool:
        """Say whether a meeting from ``local_start`` to ``local_end`` breaks none of the rules."""
        return self._broken(local_start, local_end) is None

    def broken(self, local_start: datetime, local_end: datetime) -> str | None:
        """Say in plain words which limit the meeting breaks ("cannot meet on Wednesdays")."""
        rule = self._broken(local_start, local_end)
        if rule is None:
            return None
        return {
            "overnight": "cannot meet across midnight",
            "not_before": f"cannot meet before {_clock(self.not_before)}",
            "not_after": f"cannot stay after {_clock(self.not_after)}",
            "weekday": f"cannot meet on {wording.weekday(local_start)}s",
            "school_day": (
                "can meet only during the school day "
                f"({_clock(self.school_hours[0])} to {_clock(self.school_hours[1])})"
            ),
            "term": "can meet only in term time",
        }[rule]

    def _broken(self, local_start: datetime, local_end: datetime) -> str | None:
        start, end, day = local_start.time(), local_end.time(), local_start.date()
        if local_end.date() != day:
            return "overnight"
        if self.not_before is not None and start < self.not_before:
            return "not_before"
        if self.not_after is not None and end > self.not_after:
            return "not_after"
        if local_start.weekday() in self.excluded_weekdays:
            return "weekday"
        if self.school_day and not (self.school_hours[0] <= start and end <= self.school_hours[1]):
            return "school_day"
        if self.term_dates is not None and not any(
            first <= day <= last for first, last in self.term_dates
        ):
            return "term"
        return None

    def prefers(self, local_start: datetime, local_end: datetime) -> bool:
        """Say whether the meeting lies inside one of the party's preferred windows."""
        start, end = local_start.time(), local_end.time()
        return any(low <= start and end <= high for low, high in self.preferred_windows)


@dataclass(frozen=True)
class MediatorRules:
    """The mediator's hours, daily capacity, buffer around bookings, bookings and other busy."""

    working_hours: WorkingHours = field(default_factory=WorkingHours)
    max_sessions_per_day: int = 2
    buffer_minutes: int = 30
    bookings: Sequence[Interval] = ()
    busy: Sequence[Interval] = ()


@dataclass(frozen=True)
class SchedulingRules:
    """Service-wide rules: time zone, grid, minimum notice and the working-day calendar."""

    tz: str = "Europe/London"
    grid_minutes: int = 15
    min_notice_working_days: int = 5
    working_days: WorkingDays = field(default_factory=WorkingDays)
    tentative_is_busy: bool = True

    def __post_init__(self) -> None:
        if self.grid_minutes <= 0:
            raise ValueError("grid_minutes must be positive")
        if self.min_notice_working_days < 0:
            raise ValueError("min_notice_working_days cannot be negative")
        ZoneInfo(self.tz)  # fail early on an unknown zone name

    @property
    def zone(self) -> ZoneInfo:
        """Return the service's time zone."""
        return ZoneInfo(self.tz)
