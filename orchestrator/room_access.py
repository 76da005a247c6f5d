"""Withdrawing a person's way into their meetings' rooms, beyond the links we can kill.

Revoking a person's links (or removing them from the case) kills the links at once, but
not what those links already handed out: a room URL from a click carries a provider
token valid until the join window closes. So every live meeting of theirs whose room
they may hold a URL for is moved to a new provider room (``rooms.move_room``); the
others' links follow it at their next click.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator import rooms
from orchestrator.models import Meeting, MeetingStatus, ParticipantEvent, Party

_LIVE = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)


async def _clicked_meetings(session: AsyncSession, party_id: uuid.UUID) -> list[Meeting]:
    """The live meetings with a room whose URL this party was handed by a join click."""
    clicked = (
        select(ParticipantEvent.meeting_id)
        .where(col(ParticipantEvent.party_id) == party_id, col(ParticipantEvent.source) == "link")
        .distinct()
    )
    query = select(Meeting).where(col(Meeting.id).in_(clicked), col(Meeting.status).in_(_LIVE))
    return [m for m in (await session.scalars(query)).all() if m.provider_room]


async def withdraw(session: AsyncSession, *, party: Party, now: datetime) -> int:
    """After a party's links are revoked: move the rooms they may hold a URL for.

    Returns how many rooms moved.
    """
    moved = 0
    for meeting in await _clicked_meetings(session, party.id):
        moved += int(await rooms.move_room(session, meeting=meeting, now=now))
    return moved
