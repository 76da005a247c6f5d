"""Keep a mediator and a venue from being booked twice, and offer the next free times.

Three layers, each catching what the one before may miss: a lock on the mediator's (and
venue's) calendar, an advisory lock on PostgreSQL and the write lock SQLite already holds;
the check against live meetings, the mediator's buffer and their most sessions a day
(``claim_time`` does both); and the database's exclusion constraints, whose refusal
``exclusion_guard`` turns into the same Conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.intervals import Interval
from calendars.rules import MediatorRules
from calendars.slots import candidate_starts
from calendars.workdays import WorkingDays
from orchestrator.core.errors import Conflict
from orchestrator.core.models import Case, Mediator, Meeting, MeetingStatus
from orchestrator.scheduling import search_inputs

ALTERNATIVES = 5
ALTERNATIVES_WINDOW = timedelta(days=28)
CLASHES = {
    "mediator_busy": "the mediator is already booked then (allowing their buffer)",
    "mediator_full": "the mediator already has their most sessions that day",
    "venue_busy": "the venue is already booked then",
}


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


async def _lock_calendars(session: AsyncSession, *keys: str) -> None:
    """Serialise bookings of one mediator (and venue) across replicas until commit.

    SQLite needs nothing: the writer transaction began with BEGIN IMMEDIATE and holds the
    database's only write lock already.
    """
    if not _is_postgres(session):
        return
    for key in sorted(set(keys)):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def _bookings(
    session: AsyncSession,
    holder: ColumnElement[bool],
    start: datetime,
    end: datetime,
    exclude: uuid.UUID | None,
) -> list[Interval]:
    """Live meetings of one mediator or venue (``holder``) overlapping [start, end)."""
    query = select(Meeting.start_at, Meeting.end_at).where(
        holder,
        col(Meeting.status) != MeetingStatus.cancelled,
        col(Meeting.start_at) < end,
        col(Meeting.end_at) > start,
    )
    if exclude is not None:
        query = query.where(col(Meeting.id) != exclude)
    rows = (await session.execute(query)).all()
    return [Interval(s, e) for s, e in rows]


async def _mediator_clashes(
    session: AsyncSession,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo,
    exclude: uuid.UUID | None,
) -> list[str]:
    """Whether the mediator is busy then (allowing their buffer) or full that day."""
    buffer = timedelta(minutes=mediator.buffer_minutes)
    local_day = start.astimezone(zone).date()
    day_start = datetime.combine(local_day, time(0), tzinfo=zone)
    day_end = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
    around = await _bookings(
        session,
        col(Meeting.mediator_id) == mediator.id,
        min(start - buffer, day_start),
        max(end + buffer, day_end),
        exclude,
    )
    reasons: list[str] = []
    slot = Interval(start - buffer, end + buffer)
    if any(booking.overlaps(slot) for booking in around):
        reasons.append("mediator_busy")
    same_day = [b for b in around if b.start.astimezone(zone).date() == local_day]
    if len(same_day) >= mediator.max_sessions_per_day:
        reasons.append("mediator_full")
    return reasons


def _conflict(
    reasons: Sequence[str], alternatives: Sequence[tuple[datetime, datetime]]
) -> Conflict:
    """The Conflict naming the first clash (``CLASHES`` order), every reason, and free times."""
    return Conflict(
        CLASHES[reasons[0]],
        details={
            "reasons": list(reasons),
            "alternatives": [
                {
                    "start": s.isoformat().replace("+00:00", "Z"),
                    "end": e.isoformat().replace("+00:00", "Z"),
                }
                for s, e in alternatives
            ],
        },
    )


async def check_free(
    session: AsyncSession,
    *,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    exclude: uuid.UUID | None = None,
    notice_working_days: int | None = None,
) -> None:
    """Raise Conflict, with the next free times, if the slot clashes or breaks capacity."""
    reasons = await _mediator_clashes(session, mediator, start, end, zone=zone, exclude=exclude)
    if venue_key is not None:
        if await _bookings(session, col(Meeting.venue_key) == venue_key, start, end, exclude):
            reasons.append("venue_busy")
    if not reasons:
        return
    alternatives = await next_free_slots(
        session,
        mediator=mediator,
        after=max(start, now),
        duration=end - start,
        zone=zone,
        venue_key=venue_key,
        now=now,
        workdays=workdays,
        exclude=exclude,
        notice_working_days=notice_working_days,
    )
    raise _conflict(reasons, alternatives)


async def next_free_slots(
    session: AsyncSession,
    *,
    mediator: Mediator,
    after: datetime,
    duration: timedelta,
    zone: ZoneInfo,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    exclude: uuid.UUID | None = None,
    limit: int = ALTERNATIVES,
    notice_working_days: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """The mediator's next free times of ``duration`` after ``after`` that keep every rule."""
    window_end = after + ALTERNATIVES_WINDOW
    bookings = await _bookings(
        session,
        col(Meeting.mediator_id) == mediator.id,
        after - timedelta(days=1),
        window_end + timedelta(days=1),
        exclude,
    )
    busy: list[Interval] = []
    if venue_key is not None:
        busy = await _bookings(
            session, col(Meeting.venue_key) == venue_key, after, window_end, exclude
        )
    starts = candidate_starts(
        Interval(after, window_end),
        duration,
        search_inputs.scheduling_rules(zone.key, workdays, notice_working_days=notice_working_days),
        MediatorRules(
            working_hours=search_inputs.working_hours(mediator.working_hours),
            max_sessions_per_day=mediator.max_sessions_per_day,
            buffer_minutes=mediator.buffer_minutes,
            bookings=bookings,
            busy=busy,
        ),
        now,
        step_minutes=30,
    )
    return [(s, s + duration) for s in starts[:limit]]


async def claim_time(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    waived: str | None,
    exclude: uuid.UUID | None = None,
) -> None:
    """Lock the mediator's (and venue's) calendar, then refuse the time if it is taken.

    Under a waiver, the free times offered instead may fall inside the notice period.
    """
    await _lock_calendars(
        session, f"mediator:{mediator.id}", *([f"venue:{venue_key}"] if venue_key else [])
    )
    await check_free(
        session,
        mediator=mediator,
        start=start,
        end=end,
        zone=ZoneInfo(case.timezone),
        venue_key=venue_key,
        now=now,
        workdays=workdays,
        exclude=exclude,
        notice_working_days=0 if waived else None,
    )


@asynccontextmanager
async def exclusion_guard(session: AsyncSession) -> AsyncIterator[None]:
    """Write a meeting's times in a savepoint; the exclusion constraint's refusal becomes
    Conflict and leaves the transaction usable."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise Conflict(
            "the mediator or venue is already booked then",
            details={"reasons": ["overlap"], "alternatives": []},
        ) from exc
