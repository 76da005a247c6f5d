"""Cancel a booked meeting: its join links die at once and everyone is told.

The case goes back to negotiating when this was its only meeting still in play.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.clocks import certificate_due
from calendars.invite_text import clean_text
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, timeline
from orchestrator.core.events import EventBus, MeetingCancelled
from orchestrator.core.models import (
    Case,
    CaseStatus,
    CaseStatusCause,
    Meeting,
    MeetingStatus,
    Party,
)
from orchestrator.core.records import add_timeline
from orchestrator.meeting import transitions
from orchestrator.scheduling import lookups


async def _reopen_case(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor: str | None
) -> None:
    """Put a booked case back to negotiating once none of its meetings is still in play."""
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    others = await lookups.has_other_live_meeting(session, meeting)
    if case.status is CaseStatus.booked and not others:
        await lifecycle.move_case(
            session,
            case=case,
            to=CaseStatus.negotiating,
            cause=CaseStatusCause.meeting_cancelled,
            actor=actor,
            now=now,
        )


async def cancel(
    session: AsyncSession,
    *,
    meeting: Meeting,
    reason: str,
    now: datetime,
    bus: EventBus,
    actor: str | None = None,
    actor_id: uuid.UUID | None = None,
    reason_on_timeline: bool = False,
) -> Meeting:
    """Cancel the meeting: its links die at once; emit MeetingCancelled.

    ``reason_on_timeline`` is for a reason in the service's own words ("School will not
    take part"): staff's free text stays on the meeting only, where retention clears it.
    """
    await transitions.transition(
        session,
        meeting=meeting,
        to=MeetingStatus.cancelled,
        source="booking",
        now=now,
        actor_id=actor_id,
    )
    # As typed, but with one kind of line break (a form sends CRLF), for mail and pages alike.
    meeting.cancel_reason = clean_text(reason)[:1000]
    meeting.calendar_sequence += 1  # the CANCEL everyone is sent
    # The join links die with the meeting's status (``links.verdict``), not by being
    # withdrawn: so each holder's page can say it was cancelled, when and why.
    await _reopen_case(session, meeting=meeting, now=now, actor=actor)
    summary = "Meeting cancelled"
    if reason_on_timeline:
        summary += f": {meeting.cancel_reason}"
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.cancelled",
        summary=summary,
        at=now,
        actor=actor,
    )
    await session.flush()
    await bus.emit(
        session, MeetingCancelled(case_id=meeting.case_id, at=now, meeting_id=meeting.id)
    )
    return meeting


async def cancel_booked(
    session: AsyncSession,
    case: Case,
    *,
    reason: str,
    now: datetime,
    bus: EventBus,
    actor: str,
) -> list[Meeting]:
    """Cancel every booked meeting of the case as staff would, the reason on the timeline.

    For a reason in the service's own words ("The family withdrew"): everyone gets the
    CANCEL (and a text where they go by phone), reminders stop, write-back hears of it.
    """
    booked = await session.scalars(
        select(Meeting)
        .where(col(Meeting.case_id) == case.id, col(Meeting.status) == MeetingStatus.scheduled)
        .order_by(col(Meeting.start_at))
    )
    cancelled = list(booked.all())
    for meeting in cancelled:
        await cancel(
            session,
            meeting=meeting,
            reason=reason,
            now=now,
            bus=bus,
            actor=actor,
            reason_on_timeline=True,
        )
    return cancelled


async def end_without_meeting(
    session: AsyncSession,
    case: Case,
    *,
    party: Party,
    cause: CaseStatusCause,
    reason: str,
    said: str,
    now: datetime,
    bus: EventBus,
    calendar: WorkingDays,
    actor: str,
) -> date:
    """The case will have no meeting because of what ``party`` said: it moves on to its
    certificate, due 3 working days after today (``declined_on``; the due day returned),
    every booked meeting is cancelled for everyone with ``reason`` (in the service's
    words), and the timeline says ``said`` and when the certificate is due."""
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    case.declined_on = today
    case.updated_at = now
    # First, so that cancelling the meetings does not send the case back to finding a time.
    await lifecycle.move_case(
        session, case=case, to=CaseStatus.outcome_recorded, cause=cause, actor=actor, now=now
    )
    await cancel_booked(session, case, reason=reason, now=now, bus=bus, actor=actor)
    due = certificate_due(today, calendar)
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="case.declined",
        summary=f"{said}. Certificate due by {timeline.date_words(due)}",
        at=now,
        actor=actor,
        details={"certificate_due": due.isoformat()},
    )
    return due
