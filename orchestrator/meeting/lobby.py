"""Our own lobby, in front of every provider: where a party's join link sends them now.

A party's video click does not go to the provider's room until the mediator has let them
in: it lands on our waiting page (``/j/{token}/wait``), which the mediator's "Admit"
releases. Admitting is then one thing on every provider: a row in our database
(``room_moves.admit``), which every replica sees. Someone let in once goes straight in
at every later click, into the room they really are in (their caucus room, else the
joint room), never admitted twice: the way past the provider's own lobby is in their
personal URL (``room_access.provider_url`` with ``past_lobby``). The provider's lobby
stays on for anyone who reaches the room URL without passing ours.

``place_of`` reads, in a few indexed statements, where a party is sent right now;
``Place.token`` changes whenever that would, so the waiting page's event stream can
poll it cheaply. See docs/decisions/016-our-own-lobby.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from orchestrator.core.models import (
    Meeting,
    MeetingStatus,
    ParticipantEvent,
    ParticipantStatus,
    Room,
)
from orchestrator.meeting.transitions import PRESENT

PS = ParticipantStatus
_RUNNING = (MeetingStatus.in_session, MeetingStatus.paused)


class Where(StrEnum):
    """Where a party's join link sends them now."""

    waiting = "waiting"  # in our lobby, until the mediator lets them in
    joint = "joint"  # let in: the joint room
    caucus = "caucus"  # let in, and sent to a private room
    ended = "ended"  # the meeting is over (or was called off)


@dataclass(frozen=True)
class Place:
    """Where one party is sent, and the provider room that is (None while waiting)."""

    where: Where
    room_id: uuid.UUID | None = None
    provider_room: dict[str, Any] | None = None

    @property
    def released(self) -> bool:
        return self.where in (Where.joint, Where.caucus)

    @property
    def token(self) -> str:
        """Changes whenever where the party is sent would (a room moved to a new provider
        room too)."""
        provider_room = (self.provider_room or {}).get("room_id", "making")
        return f"{self.where.value}:{self.room_id}:{provider_room}"

    @property
    def status(self) -> ParticipantStatus:
        """The status a click sent here records: in our lobby, or in the room they go to."""
        if self.where is Where.caucus:
            return PS.in_caucus
        return PS.in_session if self.where is Where.joint else PS.in_lobby


_MEETING = sa.select(col(Meeting.status), col(Meeting.provider_room)).where(
    col(Meeting.id) == sa.bindparam("meeting_id")
)
# Once present (let in by the mediator, or seen in a room by a provider), a party is let in
# for the rest of the session.
_LET_IN = (
    sa.select(col(ParticipantEvent.id))
    .where(
        col(ParticipantEvent.meeting_id) == sa.bindparam("meeting_id"),
        col(ParticipantEvent.party_id) == sa.bindparam("party_id"),
        col(ParticipantEvent.status).in_(list(PRESENT)),
    )
    .limit(1)
)
_OPEN_ROOMS = sa.select(
    col(Room.id), col(Room.kind), col(Room.party_ids), col(Room.provider_room)
).where(col(Room.meeting_id) == sa.bindparam("meeting_id"), col(Room.closed_at).is_(None))


async def place_of(
    executor: AsyncSession | AsyncConnection, *, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> Place:
    """Where the party's link sends them now (at most three indexed reads, Core only)."""
    ids = {"meeting_id": meeting_id, "party_id": party_id}
    meeting = (await executor.execute(_MEETING, ids)).first()
    if meeting is None or MeetingStatus(meeting[0]) in (
        MeetingStatus.closed,
        MeetingStatus.cancelled,
    ):
        return Place(Where.ended)
    if MeetingStatus(meeting[0]) not in _RUNNING:
        return Place(Where.waiting)
    if (await executor.execute(_LET_IN, ids)).first() is None:
        return Place(Where.waiting)
    joint: Place = Place(Where.joint, provider_room=meeting[1])
    for room_id, kind, members, provider_room in (await executor.execute(_OPEN_ROOMS, ids)).all():
        if kind == "main":
            joint = Place(Where.joint, room_id=room_id, provider_room=meeting[1])
        elif str(party_id) in (members or []):
            # A caucus room still being made: the joint room until it exists.
            caucus = Place(Where.caucus, room_id=room_id, provider_room=provider_room)
            if provider_room:
                return caucus
    return joint


def click_as_placed(click: dict[str, object], place: Place) -> dict[str, object]:
    """A party's click row, saying where it sends them: into our lobby, or back into the
    room they are in (so reopening a link never shows someone in a caucus as waiting)."""
    if place.released:
        return {**click, "status": place.status, "room_id": place.room_id, "note": "link reopened"}
    return {**click, "status": PS.in_lobby, "note": "waiting in our lobby"}
