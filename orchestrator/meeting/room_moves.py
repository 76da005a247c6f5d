"""Moving people between a meeting's rooms: admitting from the lobby, caucus rooms, recall.

The mediator admits a party waiting in the lobby to the joint room, opens private caucus
rooms for some parties (parties cannot see or invite each other there), closes them and
recalls everyone to the joint room. Phone participants move through the bridge (one
conference per room); video participants are sent to their current room by their own
join link at their next click.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import (
    Meeting,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    Room,
    in_words,
)
from orchestrator.meeting import provider_queue, rooms
from orchestrator.meeting.transitions import (
    PRESENT,
    check_move,
    note_on_timeline,
    person_event,
    require_running,
)

PS = ParticipantStatus


async def admit(
    session: AsyncSession, *, meeting: Meeting, party_id: uuid.UUID, now: datetime
) -> ParticipantEvent:
    """Let a party in from the lobby to the joint room."""
    require_running(meeting)
    party = await rooms.party_of_meeting(session, meeting, party_id)
    states = rooms.current_states(await rooms.events_of(session, meeting.id), [party])
    current = states[party.id]
    if current.status not in (PS.in_lobby, PS.joining):
        raise InvalidState(
            f"this party is not waiting to be admitted ({in_words(current.status)})",
            details={"status": current.status.value},
        )
    check_move(current.status, PS.in_session)
    main = await rooms.main_room(session, meeting.id)
    event = person_event(
        meeting,
        party.id,
        PS.in_session,
        now=now,
        room_id=main.id,
        channel=current.channel,
        note="admitted",
    )
    session.add(event)
    await session.flush()
    return event


async def open_caucus(
    session: AsyncSession,
    *,
    meeting: Meeting,
    label: str,
    party_ids: Sequence[uuid.UUID],
    now: datetime,
) -> Room:
    """Open a private room for some parties and send them there (phone calls move too)."""
    require_running(meeting)
    parties = await _parties_free_for_caucus(session, meeting, party_ids)
    room = Room(
        meeting_id=meeting.id,
        kind="caucus",
        label=label,
        party_ids=[str(p.id) for p in parties],
        created_at=now,
    )
    session.add(room)
    await session.flush()
    # Those present go in; someone still waiting (or not yet come) is sent there later.
    await _move_parties(session, meeting=meeting, parties=parties, into=room, now=now)
    if meeting.provider_room:
        await provider_queue.queue_provider_call(
            session,
            meeting=meeting,
            action="create_caucus",
            key=str(room.id),
            now=now,
            room_id=str(room.id),
        )
    note_on_timeline(
        session,
        meeting,
        kind="meeting.caucus_opened",
        summary=f"Caucus room opened for {len(parties)} part{'y' if len(parties) == 1 else 'ies'}",
        at=now,
    )
    await session.flush()
    return room


async def _parties_free_for_caucus(
    session: AsyncSession, meeting: Meeting, party_ids: Sequence[uuid.UUID]
) -> list[Party]:
    """The parties named (once each), none of them in an open caucus room already."""
    if not party_ids:
        raise ValidationFailed("a caucus room needs at least one party")
    parties = [
        await rooms.party_of_meeting(session, meeting, pid) for pid in dict.fromkeys(party_ids)
    ]
    busy = {
        pid for room in await rooms.open_caucuses(session, meeting.id) for pid in room.party_ids
    }
    clash = [str(p.id) for p in parties if str(p.id) in busy]
    if clash:
        raise InvalidState("a party is already in a caucus room", details={"party_ids": clash})
    return parties


async def close_caucus(
    session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime
) -> Room:
    """Close a caucus room; its parties go back to the joint room.

    Its phone conference is not ended through the bridge: once the moves (retried by the
    outbox while the bridge is down) take the last caller out, the bridge ends the empty
    conference itself. Ending it here would race those moves and cut off a caller whose
    move is still pending. A conference that lingers because someone could not be moved
    is ended with the others when the session ends.
    """
    if room.kind != "caucus":
        raise InvalidState("the joint room closes when the session ends")
    if room.closed_at is not None:
        raise InvalidState("this room is already closed")
    room.closed_at = now
    main = await rooms.main_room(session, meeting.id)
    ids = [uuid.UUID(pid) for pid in room.party_ids]
    parties = [p for p in await rooms.parties_of(session, meeting.case_id) if p.id in ids]
    await _move_parties(
        session, meeting=meeting, parties=parties, into=main, now=now, only_from=room
    )
    await session.flush()
    return room


async def recall(session: AsyncSession, *, meeting: Meeting, now: datetime) -> list[Room]:
    """Bring everyone back to the joint room, closing every caucus room."""
    require_running(meeting)
    closed = []
    for room in await rooms.open_caucuses(session, meeting.id):
        closed.append(await close_caucus(session, meeting=meeting, room=room, now=now))
    return closed


# Someone present in a room is in caucus there or in the joint session, by the room's kind;
# the note names the move (the attendance list reads it: ``attendance.event_kind``).
_MOVES = {
    "caucus": (PS.in_caucus, "moved to caucus"),
    "main": (PS.in_session, "back to joint room"),
}


async def _move_parties(
    session: AsyncSession,
    *,
    meeting: Meeting,
    parties: Sequence[Party],
    into: Room,
    now: datetime,
    only_from: Room | None = None,
) -> None:
    """Put each party in ``into``, their phone call (if any) with them.

    Someone present takes the room's status (``_MOVES``); someone not present keeps theirs
    (and is sent there when they come). With ``only_from``, only those still in that room
    move.
    """
    present_as, note = _MOVES[into.kind]
    states = rooms.current_states(await rooms.events_of(session, meeting.id), parties)
    for party in parties:
        state = states[party.id]
        if only_from is not None and state.room_id != only_from.id:
            continue
        to = present_as if state.status in PRESENT else state.status
        check_move(state.status, to)
        session.add(
            person_event(
                meeting, party.id, to, now=now, room_id=into.id, channel=state.channel, note=note
            )
        )
        await provider_queue.queue_move_call(
            session, meeting=meeting, party=party, state=state, room=into, now=now
        )
