"""The rooms of a meeting and who is in which.

Rooms of a meeting are rows: the joint room, made at booking, and caucus rooms the
mediator opens for some parties. Where each person is comes from their latest
``ParticipantEvent``; ``room_state`` gives a console the whole picture and
``state_fingerprint`` tells it cheaply when that picture would change. A room also
remembers its live phone conference (``track_conference``), so ending the session can
end it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import NotFound
from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingStatus,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    Room,
)

PS = ParticipantStatus


async def main_room(session: AsyncSession, meeting_id: uuid.UUID) -> Room:
    room = await session.scalar(
        select(Room).where(col(Room.meeting_id) == meeting_id, col(Room.kind) == "main")
    )
    if room is None:
        raise NotFound("room", meeting_id)
    return room


async def list_rooms(session: AsyncSession, meeting_id: uuid.UUID) -> list[Room]:
    query = select(Room).where(col(Room.meeting_id) == meeting_id).order_by(col(Room.created_at))
    return list((await session.scalars(query)).all())


async def get_room(session: AsyncSession, meeting: Meeting, room_id: uuid.UUID) -> Room:
    room = await session.get(Room, room_id)
    if room is None or room.meeting_id != meeting.id:
        raise NotFound("room", room_id)
    return room


async def open_caucuses(session: AsyncSession, meeting_id: uuid.UUID) -> list[Room]:
    """The meeting's caucus rooms that are not closed yet, oldest first."""
    return [
        room
        for room in await list_rooms(session, meeting_id)
        if room.kind == "caucus" and room.closed_at is None
    ]


async def room_of_party(
    session: AsyncSession, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> Room | None:
    """The open caucus room a party has been sent to, if any."""
    for room in await open_caucuses(session, meeting_id):
        if str(party_id) in room.party_ids:
            return room
    return None


async def party_of_meeting(session: AsyncSession, meeting: Meeting, party_id: uuid.UUID) -> Party:
    """The current party ``party_id`` of the meeting's case; NotFound otherwise."""
    party = await session.get(Party, party_id)
    if party is None or party.case_id != meeting.case_id or party.removed_at is not None:
        raise NotFound("party", party_id)
    return party


@dataclass(frozen=True)
class ParticipantState:
    """Where one person is now."""

    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    status: ParticipantStatus
    room_id: uuid.UUID | None
    channel: Channel | None
    since: datetime | None
    call_id: str | None = None
    source: str | None = None  # who said so last: a provider, the phone bridge, a click, us

    @property
    def seen(self) -> bool:
        """True when a provider or the phone bridge reported it, not only our own command
        or a click (a command says where someone was sent, a provider where they are)."""
        return self.source not in (None, "mediator", "link")


@dataclass
class RoomState:
    """The live picture of a meeting for the mediator's console: who is where."""

    meeting_id: uuid.UUID
    status: MeetingStatus
    rooms: list[Room]
    participants: list[ParticipantState] = field(default_factory=list)

    def in_room(self, room_id: uuid.UUID) -> list[ParticipantState]:
        return [p for p in self.participants if p.room_id == room_id]


async def events_of(session: AsyncSession, meeting_id: uuid.UUID) -> list[ParticipantEvent]:
    query = (
        select(ParticipantEvent)
        .where(col(ParticipantEvent.meeting_id) == meeting_id)
        .order_by(col(ParticipantEvent.at), col(ParticipantEvent.id))
    )
    return list((await session.scalars(query)).all())


def current_states(
    events: Sequence[ParticipantEvent], parties: Sequence[Party]
) -> dict[uuid.UUID, ParticipantState]:
    """Each party's latest status from its events (not signed in when there are none)."""
    states: dict[uuid.UUID, ParticipantState] = {
        p.id: ParticipantState(p.id, None, PS.not_signed_in, None, None, None) for p in parties
    }
    calls: dict[uuid.UUID, str] = {}
    for event in events:
        if event.party_id is None:
            continue
        if event.call_id:
            calls[event.party_id] = event.call_id
        states[event.party_id] = ParticipantState(
            party_id=event.party_id,
            mediator_id=None,
            status=event.status,
            room_id=event.room_id,
            channel=event.channel,
            since=event.at,
            call_id=calls.get(event.party_id),
            source=event.source,
        )
    return states


async def parties_of(session: AsyncSession, case_id: uuid.UUID) -> list[Party]:
    """The case's current parties (not removed), in the order they were added."""
    query = (
        select(Party)
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at))
    )
    return list((await session.scalars(query)).all())


async def room_state(session: AsyncSession, meeting: Meeting) -> RoomState:
    """Who is where right now: every current party's status and room."""
    parties = await parties_of(session, meeting.case_id)
    states = current_states(await events_of(session, meeting.id), parties)
    return RoomState(
        meeting_id=meeting.id,
        status=meeting.status,
        rooms=await list_rooms(session, meeting.id),
        participants=[states[p.id] for p in parties],
    )


async def track_conference(session: AsyncSession, *, room_key: str, sid: str, live: bool) -> None:
    """Remember the phone bridge's live conference of the room keyed ``room_key``.

    The bridge's call-backs say when a room's conference goes live (someone joins, even
    a lobby waiting for the mediator) and when it is over; the room keeps the newest live
    one so that ending the session can end it, and forgets it once it has ended (a caucus
    room emptied by moving its callers back ends by itself). Each change is one UPDATE,
    the clearing one conditional on the SID, so a late end never clears a newer conference.
    """
    by_key = col(Room.room_key) == room_key
    if live:
        statement = update(Room).where(by_key).values(conference_sid=sid[:64])
    else:
        statement = (
            update(Room).where(by_key, col(Room.conference_sid) == sid).values(conference_sid=None)
        )
    await session.execute(statement)


async def state_fingerprint(session: AsyncSession, meeting_id: uuid.UUID) -> str:
    """A cheap summary that changes whenever who-is-where in the meeting would."""
    meeting = await session.get(Meeting, meeting_id)
    events = await session.execute(
        select(func.count(), func.max(col(ParticipantEvent.at))).where(
            col(ParticipantEvent.meeting_id) == meeting_id
        )
    )
    count, last = events.one()
    room_rows = await session.execute(
        select(func.count(), func.count(col(Room.closed_at))).where(
            col(Room.meeting_id) == meeting_id
        )
    )
    opened, closed = room_rows.one()
    status = meeting.status.value if meeting else "gone"
    return f"{status}:{count}:{last}:{opened}:{closed}"
