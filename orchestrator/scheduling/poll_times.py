"""What a poll offers: where it looks, and the coarse starts the slot search allows there.

A poll offers a handful of coarse local times a parent can answer on a phone (e.g. 09:30
and 13:00 for a three-hour meeting) before the case's target, each one a time the slot
search itself would offer: the mediator's days, hours, bookings and calendar, the notice,
and the required parties' limits, calendars and answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from calendars.intervals import Interval
from calendars.slots import find_slots
from calendars.workdays import WorkingDays
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import OPEN_CASE_STATUSES, Case, Poll, in_words
from orchestrator.core.settings import Settings
from orchestrator.scheduling.busy_times import Calendars
from orchestrator.scheduling.search_inputs import search_inputs, target_end

# Coarse local starts a parent can answer on a phone: morning and afternoon, plus late
# morning and mid-afternoon for shorter meetings.
LONG_MEETING_STARTS = (time(9, 30), time(13, 0))
SHORT_MEETING_STARTS = (time(9, 30), time(11, 0), time(13, 0), time(14, 30))
SHORT_MEETING = timedelta(minutes=90)
# A poll window that would offer nothing before the target stretches this far past it.
STRETCH_PAST_TARGET = timedelta(days=21)


def poll_starts(duration: timedelta) -> tuple[time, ...]:
    """The local times a poll offers for a meeting of ``duration``."""
    return SHORT_MEETING_STARTS if duration <= SHORT_MEETING else LONG_MEETING_STARTS


def poll_candidates(poll: Poll) -> list[datetime]:
    """The poll's candidate starts as aware UTC datetimes, earliest first."""
    return sorted(datetime.fromisoformat(c).astimezone(UTC) for c in poll.candidates)


async def propose_candidates(
    session: AsyncSession,
    *,
    case: Case,
    duration: timedelta,
    window: Interval,
    now: datetime,
    calendar: WorkingDays,
    calendars: Calendars,
    max_candidates: int,
    notice_working_days: int | None = None,
) -> list[datetime]:
    """Coarse starts that everything ``/slots`` respects allows, earliest first.

    That is the mediator's working days, hours, bookings and calendar, the notice, and each
    required party's own limits, calendar and earlier answers.
    """
    inputs = await search_inputs(
        session,
        case=case,
        window=window,
        calendar=calendar,
        calendars=calendars,
        notice_working_days=notice_working_days,
    )
    found = find_slots(
        window=window,
        duration=duration,
        parties=inputs.people,
        mediator=inputs.mediator,
        rules=inputs.rules,
        target=window.end,
        now=now,
        limit=None,
        fixed_starts=poll_starts(duration),
    )
    return sorted(slot.start for slot in found.slots)[:max_candidates]


# Longer than any statutory clock: a poll is for the weeks ahead, not the years.
MAX_WINDOW = timedelta(days=180)


@dataclass(frozen=True)
class PollWindow:
    """Where a poll looks, and how far it stretches if that holds no time (None: it does not)."""

    start: datetime
    end: datetime
    stretched_end: datetime | None

    @property
    def widest(self) -> Interval:
        return Interval(self.start, max(self.start, self.end, self.stretched_end or self.start))


async def poll_window(
    session: AsyncSession,
    *,
    case: Case,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    window_start: datetime | None,
    window_end: datetime | None,
) -> PollWindow:
    """The default runs from now to the case's target; a given end is never stretched."""
    if case.status not in OPEN_CASE_STATUSES:
        raise InvalidState(f"the case is {in_words(case.status)}; availability cannot be asked")
    if window_start and window_end and window_end <= window_start:
        raise ValidationFailed("window_end must be after window_start")
    target = await target_end(session, case=case, settings=settings, calendar=calendar)
    start = max(window_start or now, now)
    if start - now > MAX_WINDOW:
        raise ValidationFailed(
            f"window_start may be at most {MAX_WINDOW.days} days ahead",
            details={"window_start": start.isoformat()},
        )
    # The default window is ours to choose: a target further off than the cap (target_days
    # may be up to 365) looks as far as the cap allows rather than refusing every poll.
    end = window_end or min(target, start + MAX_WINDOW)
    if end - start > MAX_WINDOW:
        # Every working day in the window is searched: centuries would never answer.
        raise ValidationFailed(
            f"the window may span at most {MAX_WINDOW.days} days",
            details={"window_start": start.isoformat(), "window_end": end.isoformat()},
        )
    stretched = (
        min(max(target, start) + STRETCH_PAST_TARGET, start + MAX_WINDOW)
        if window_end is None
        else None
    )
    return PollWindow(start=start, end=end, stretched_end=stretched)
