"""Move a booked meeting to a new time, held to the same rules and checks as a booking.

A move is a new sequence of the meeting: new times, the old join links dead at once, new
ones issued, the video room made again, and ``MeetingRescheduled`` so everyone is told.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from calendars.workdays import WorkingDays
from orchestrator.cases import timeline
from orchestrator.core.errors import InvalidState
from orchestrator.core.events import EventBus, MeetingRescheduled
from orchestrator.core.models import Case, Mediator, Meeting, MeetingStatus, in_words
from orchestrator.core.settings import Settings
from orchestrator.scheduling import booking, booking_rules, conflicts


async def _move(
    session: AsyncSession, *, meeting: Meeting, start: datetime, end: datetime, now: datetime
) -> None:
    """New times and the next sequence (Conflict if the database sees an overlap).

    The old sequence's join links die at once because the sequence moved on
    (``links.verdict``), not by being withdrawn: so each holder's page can say where the
    meeting went (``old_join_links``).
    """
    meeting.start_at = start
    meeting.end_at = end
    meeting.sequence += 1
    meeting.calendar_sequence += 1
    meeting.updated_at = now
    async with conflicts.exclusion_guard(session):
        await session.flush()


async def _announce_moved(
    session: AsyncSession,
    *,
    meeting: Meeting,
    previous: datetime,
    zone: str,
    rules: booking_rules.RuleCheck,
    bus: EventBus,
    now: datetime,
    actor: str | None,
    actor_id: uuid.UUID | None,
) -> None:
    """Say where the meeting went: on the case timeline, in the audit trail for any waiver,
    and to the capabilities that tell everyone (MeetingRescheduled)."""
    booking.record_on_timeline(
        session,
        meeting=meeting,
        kind="meeting.rescheduled",
        summary="Meeting moved to "
        + timeline.meeting_words(meeting.start_at, meeting.mode, zone=zone, said_at=now),
        rules=rules,
        now=now,
        actor=actor,
        actor_id=actor_id,
        details=timeline.meeting_facts(meeting.start_at, meeting.mode)
        | {"previous_start": previous.isoformat()},
    )
    await session.flush()
    await bus.emit(
        session,
        MeetingRescheduled(
            case_id=meeting.case_id,
            at=now,
            meeting_id=meeting.id,
            previous_start=previous.isoformat(),
        ),
    )


async def reschedule(
    session: AsyncSession,
    *,
    meeting: Meeting,
    start: datetime,
    duration_minutes: int,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    workdays: WorkingDays,
    actor: str | None = None,
    actor_id: uuid.UUID | None = None,
    waiver: str | None = None,
) -> Meeting:
    """Move the meeting: new times, sequence + 1, old join links dead, new ones issued.

    The new time must keep the same rules as a booking, unless ``waiver`` says why not.
    """
    if meeting.status is not MeetingStatus.scheduled:
        raise InvalidState(f"a meeting that is {in_words(meeting.status)} cannot be moved")
    booking.check_start(start, now)
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    end = start + timedelta(minutes=duration_minutes)
    mediator = await session.get(Mediator, meeting.mediator_id) if meeting.mediator_id else None
    rules = await booking_rules.clear_time(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=end,
        venue_key=meeting.venue_key,
        now=now,
        workdays=workdays,
        waiver=waiver,
        exclude=meeting.id,
    )
    previous = meeting.start_at
    await _move(session, meeting=meeting, start=start, end=end, now=now)
    await booking.invite_and_link(
        session, meeting=meeting, parties=rules.parties, settings=settings, now=now
    )
    await _announce_moved(
        session,
        meeting=meeting,
        previous=previous,
        zone=case.timezone,
        rules=rules,
        bus=bus,
        now=now,
        actor=actor,
        actor_id=actor_id,
    )
    return meeting
