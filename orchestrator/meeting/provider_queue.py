"""Queueing what the rooms ask of the providers: one outbox row a call, once per key.

Each call (make a room or a caucus room, end one, move a phone call, end a phone
conference, read an attendance report) is a ``provider_call`` outbox row written in the
caller's transaction, so it is sent only if the change that wants it is committed;
``provider_calls.ProviderCalls`` delivers the rows. Moving a meeting to a new provider
room (``move_room``) is queued here too: it is nothing but such calls.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.models import Channel, Meeting, MeetingStatus, OutboxKind, Party, Room
from orchestrator.meeting import rooms
from orchestrator.meeting.rooms import ParticipantState
from orchestrator.meeting.transitions import PRESENT, note_on_timeline
from orchestrator.messaging.outbox import enqueue

MS = MeetingStatus

# Video providers whose attendance comes from a report read after the meeting, not from
# call-backs while it runs.
ATTENDANCE_REPORT_PROVIDERS = frozenset({"teams"})
# When to read that report: this long after the meeting ends, then again after each
# following wait while it has not appeared (Graph publishes it some minutes after a
# session ends); after the last, the case timeline records that none came (~4 hours).
ATTENDANCE_REPORT_WAITS: tuple[timedelta, ...] = tuple(
    timedelta(minutes=minutes) for minutes in (10, 10, 20, 40, 60, 120)
)


async def queue_provider_call(
    session: AsyncSession,
    *,
    meeting: Meeting,
    action: str,
    key: str,
    now: datetime,
    not_before: datetime | None = None,
    **details: Any,
) -> None:
    """Queue one provider call of ``meeting`` in the caller's transaction, once per ``key``."""
    await enqueue(
        session,
        kind=OutboxKind.provider_call,
        topic=action,
        idempotency_key=f"{action}:{key}",
        payload={"action": action, "meeting_id": str(meeting.id), **details},
        now=now,
        not_before=not_before,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
    )


async def queue_move_call(
    session: AsyncSession,
    *,
    meeting: Meeting,
    party: Party,
    state: ParticipantState,
    room: Room,
    now: datetime,
) -> None:
    """Queue the bridge call that moves a live phone call into ``room``'s conference."""
    if state.channel is not Channel.phone or not state.call_id or state.status not in PRESENT:
        return
    await queue_provider_call(
        session,
        meeting=meeting,
        action="move_call",
        key=f"{state.call_id}:{room.id}:{now.timestamp()}",
        now=now,
        room_id=str(room.id),
        call_id=state.call_id,
        conference=room.room_key,
        label=party.participant_ref,
    )


async def queue_end_conference(
    session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime
) -> None:
    """Queue the bridge call that ends ``room``'s live phone conference, if it has one.

    Keyed by the conference, so it is queued once; the delivery skips a conference whose
    end the bridge has reported meanwhile, so a repeated delivery sends nothing.
    """
    if room.conference_sid is None:
        return
    await queue_provider_call(
        session,
        meeting=meeting,
        action="end_conference",
        key=room.conference_sid,
        now=now,
        room_id=str(room.id),
        conference_sid=room.conference_sid,
    )


async def move_room(session: AsyncSession, *, meeting: Meeting, now: datetime) -> bool:
    """Give the meeting a new provider room, so that room URLs handed out so far lead nowhere.

    A Jitsi token (or a BigBlueButton join URL) someone was handed at a click stays valid
    for its room until the join window closes; withdrawing their link cannot recall it. So
    the meeting gets a new room key, hence a new provider room: the outbox creates it (and
    the open caucus rooms beside it) and ends the old one where the provider can. Everyone
    else's join link resolves the current room at their next click. Until the new room is
    made, a click answers "being prepared". False when there is no room to move.
    """
    if meeting.status not in (MS.scheduled, MS.in_session, MS.paused) or not meeting.provider_room:
        return False
    old = dict(meeting.provider_room)
    main = await rooms.main_room(session, meeting.id)
    meeting.room_key = uuid.uuid4().hex
    meeting.provider_room = None
    meeting.updated_at = now
    for room in await rooms.open_caucuses(session, meeting.id):
        if room.provider_room:
            room.provider_room = None  # made again beside the new room, once it exists
    await queue_provider_call(
        session,
        meeting=meeting,
        action="end_room",
        key=f"{main.id}:{old.get('room_id')}",
        now=now,
        room_id=str(main.id),
        provider_room=old,
    )
    await queue_provider_call(
        session,
        meeting=meeting,
        action="create_room",
        key=f"{main.id}:{meeting.room_key}",
        now=now,
        room_id=str(main.id),
        provider=str(old.get("provider") or meeting.provider or ""),
        sequence=meeting.sequence,
        room_key=meeting.room_key,
    )
    note_on_timeline(
        session,
        meeting,
        kind="meeting.room_moved",
        summary="Video room moved to a new address; the links still in use follow it",
        at=now,
        actor="system",
    )
    await session.flush()
    return True


async def queue_caucus_rooms(session: AsyncSession, *, meeting: Meeting, now: datetime) -> None:
    """Queue the creation of the open caucus rooms that have no provider room yet."""
    for room in await rooms.open_caucuses(session, meeting.id):
        if not room.provider_room:
            await queue_provider_call(
                session,
                meeting=meeting,
                action="create_caucus",
                key=f"{room.id}:{room.room_key}",
                now=now,
                room_id=str(room.id),
            )


def reads_attendance_report(meeting: Meeting) -> bool:
    """True when the meeting's video room reports attendance only after the meeting."""
    room = meeting.provider_room or {}
    return room.get("provider") in ATTENDANCE_REPORT_PROVIDERS


async def queue_attendance_read(
    session: AsyncSession,
    *,
    meeting: Meeting,
    after: str,
    due: datetime,
    now: datetime,
    look: int = 0,
) -> None:
    """Queue a read of the provider's attendance report of ``meeting``, not before ``due``.

    ``after`` names what it follows: ``session_end`` (the mediator ended the session) or
    ``scheduled_end`` (queued with the room, for a meeting nobody ends here); ``look``
    counts the reads before it. Keyed by all of these and the meeting's sequence, so each
    is queued once and a moved meeting's reads are told apart.
    """
    await queue_provider_call(
        session,
        meeting=meeting,
        action="fetch_attendance",
        key=f"{meeting.id}:{meeting.sequence}:{after}:{look}",
        now=now,
        not_before=due,
        sequence=meeting.sequence,
        after=after,
        look=look,
    )
