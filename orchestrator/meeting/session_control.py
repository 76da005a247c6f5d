"""Starting, pausing and ending a meeting's session: the mediator's buttons for everyone.

Each is a move of the meeting's transition table (``transitions``). Starting waits until
joining opens; ending marks everyone still there as having left, closes every room (and
asks the providers to end theirs), and moves the case on to wait for its outcome (or,
for an information call, starts its certificate's clock).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.cases import lifecycle
from orchestrator.core.errors import InvalidState
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    CaseStatusCause,
    Meeting,
    MeetingStatus,
    ParticipantStatus,
    StaffUser,
)
from orchestrator.core.settings import Settings
from orchestrator.meeting import provider_queue, rooms
from orchestrator.meeting.rooms import RoomState
from orchestrator.meeting.transitions import (
    PRESENT,
    check_move,
    note_on_timeline,
    person_event,
    transition,
)
from orchestrator.scheduling import joining

MS = MeetingStatus
PS = ParticipantStatus
# Who is still there when the session ends: present, waiting to be let in, or joining.
STILL_THERE = PRESENT | {PS.in_lobby, PS.joining}


async def start(
    session: AsyncSession,
    *,
    meeting: Meeting,
    now: datetime,
    actor_id: uuid.UUID | None,
    settings: Settings,
) -> Meeting:
    """Open (or resume) the session; not before joining opens (InvalidState)."""
    opens = joining.join_opens_at(meeting, settings)  # the mediator starts when all may join
    if meeting.status is MS.scheduled and now < opens:
        case = await session.get(Case, meeting.case_id)
        local = opens.astimezone(ZoneInfo(case.timezone if case else "Europe/London"))
        raise InvalidState(
            f"the session can be started from {wording.clock(local)} on "
            f"{wording.day_and_month(local)}, when joining opens "
            f"({settings.join_opens_minutes} minutes before the meeting)",
            details={"opens_at": opens.isoformat()},
        )
    await transition(
        session, meeting=meeting, to=MS.in_session, source="mediator", now=now, actor_id=actor_id
    )
    note_on_timeline(session, meeting, kind="meeting.started", summary="Session started", at=now)
    return meeting


async def pause(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor_id: uuid.UUID | None
) -> Meeting:
    return await transition(
        session, meeting=meeting, to=MS.paused, source="mediator", now=now, actor_id=actor_id
    )


async def end(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor_id: uuid.UUID | None
) -> Meeting:
    """Close the session for everyone; people still there are marked as having left.

    Everyone still present, waiting or on their way in (``STILL_THERE``) is closed with
    the end time, so the attendance record leaves nobody joining or waiting after it.
    """
    await transition(
        session, meeting=meeting, to=MS.closed, source="mediator", now=now, actor_id=actor_id
    )
    state = await rooms.room_state(session, meeting)
    for person in state.participants:
        if person.party_id is not None and person.status in STILL_THERE:
            check_move(person.status, PS.left)
            session.add(
                person_event(meeting, person.party_id, PS.left, now=now, note="session ended")
            )
    await _close_rooms(session, meeting=meeting, state=state, now=now)
    if provider_queue.reads_attendance_report(meeting):
        await provider_queue.queue_attendance_read(
            session,
            meeting=meeting,
            after="session_end",
            due=now + provider_queue.ATTENDANCE_REPORT_WAITS[0],
            now=now,
        )
    note_on_timeline(session, meeting, kind="meeting.ended", summary="Session ended", at=now)
    await _case_after_session(session, meeting=meeting, actor_id=actor_id, now=now)
    await session.flush()
    return meeting


async def call_done(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor_id: uuid.UUID | None
) -> Meeting:
    """The adviser marks an information call as having taken place: it ends, and the
    3 working days of its certificate start. Not before the call's time (InvalidState)."""
    case = await session.get(Case, meeting.case_id)
    if case is None or case.kind is not CaseKind.mias:
        raise InvalidState("only an information call is marked done; end a meeting in its room")
    if now < meeting.start_at:
        local = meeting.start_at.astimezone(ZoneInfo(case.timezone))
        raise InvalidState(
            f"the call is booked for {wording.clock(local)} on {wording.day_and_month(local)}: "
            "mark it done once it has taken place",
            details={"start": meeting.start_at.isoformat()},
        )
    if meeting.status is MS.scheduled:
        await transition(
            session,
            meeting=meeting,
            to=MS.in_session,
            source="mediator",
            now=now,
            actor_id=actor_id,
        )
    return await end(session, meeting=meeting, now=now, actor_id=actor_id)


async def _close_rooms(
    session: AsyncSession, *, meeting: Meeting, state: RoomState, now: datetime
) -> None:
    """Close every room of the meeting, ending their phone conferences and provider room."""
    for room in state.rooms:
        if room.closed_at is None:
            room.closed_at = now
        await provider_queue.queue_end_conference(session, meeting=meeting, room=room, now=now)
    if meeting.provider_room:
        main = await rooms.main_room(session, meeting.id)
        await provider_queue.queue_provider_call(
            session,
            meeting=meeting,
            action="end_room",
            key=str(main.id),
            now=now,
            room_id=str(main.id),
        )


async def _case_after_session(
    session: AsyncSession, *, meeting: Meeting, actor_id: uuid.UUID | None, now: datetime
) -> None:
    """Move the case on now that its meeting took place."""
    case = await session.get(Case, meeting.case_id)
    assert case is not None  # a meeting belongs to its case (foreign key)
    # The meeting took place: the case waits for its outcome (or, for an information
    # call, its certificate). A case already past that stays where it is.
    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.held,
        cause=CaseStatusCause.session_ended,
        actor=await _actor(session, actor_id),
        now=now,
    )
    if case.kind is CaseKind.mias:
        # An information call has no outcome to record: its end is what starts the
        # 3 working days of its certificate.
        case.certificate_event_on = now.astimezone(ZoneInfo(case.timezone)).date()
        case.updated_at = now


async def _actor(session: AsyncSession, user_id: uuid.UUID | None) -> str | None:
    """The staff user as the case records name them (role and id), like the API's actor."""
    user = await session.get(StaffUser, user_id) if user_id else None
    return f"{user.role.value}:{user.id}" if user else None
