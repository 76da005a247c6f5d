"""The phone bridge's line into a meeting's video room, so phone and video people meet.

People who join by phone key their own PIN on the bridge and land in its conference of
the joint room (``room_access.seat_phone_caller``). When the meeting also has a video
room, the first caller seated there queues one ``bridge_line`` provider call: the bridge
rings the video room (its SIP address, or its own dial-in number and the keys to press,
``VideoProvider.phone_entry``) and puts that line into the conference. The video room's
own rules then hold the line as they hold anyone: Zoom until its host starts it, Teams'
lobby and BigBlueButton's voice bridge as the provider keeps them (decision record 017).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.db import Database
from orchestrator.core.models import (
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    OutboxMessage,
    Room,
)
from orchestrator.meeting import provider_queue
from orchestrator.meeting.providers import Providers, room_from_dict
from orchestrator.meeting.transitions import note_on_timeline

_LIVE = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)


def wants_line(meeting: Meeting, room: Room) -> bool:
    """True when callers seated in ``room`` need the line into the meeting's video room."""
    return (
        meeting.mode in (MeetingMode.video, MeetingMode.hybrid)
        and bool(meeting.provider_room)
        and room.kind != "caucus"
    )


async def queue_line(session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime) -> None:
    """Queue the line from ``room``'s conference into the video room, once per meeting
    version and room (Twilio keeps one conference of that name while anyone is in it)."""
    if not wants_line(meeting, room):
        return
    await provider_queue.queue_provider_call(
        session,
        meeting=meeting,
        action="bridge_line",
        key=f"{meeting.id}:{meeting.sequence}:{room.id}:{meeting.room_key}",
        now=now,
        room_id=str(room.id),
        conference=room.room_key,
    )


async def place_bridge_line(
    db: Database, providers: Providers, message: OutboxMessage, *, status_callback_url: str
) -> None:
    """Ring the meeting's video room from its phone conference, where it can be reached.

    Raises ProviderAuthError, ProviderUnavailable (retried) or ProviderRejected.
    """
    async with db.read() as session:
        meeting = await session.get(Meeting, uuid.UUID(str(message.payload["meeting_id"])))
    if meeting is None or meeting.status not in _LIVE or not meeting.provider_room:
        return
    room = room_from_dict(meeting.provider_room)
    entry = providers.video(room.provider).phone_entry(room)
    if entry is None:
        async with db.write() as session:
            fresh = await session.get(Meeting, meeting.id)
            if fresh is not None:
                note_on_timeline(
                    session,
                    fresh,
                    kind="meeting.phone_line_missing",
                    summary=f"The {room.provider} video room takes no phone line: "
                    "people on the phone are in a call of their own",
                    at=message.created_at,
                    actor="system",
                )
        return
    await providers.phone().bridge_to_room(
        str(message.payload["conference"]), entry, status_callback_url=status_callback_url
    )


async def host_account(db: Database, meeting: Meeting) -> str | None:
    """The mediator's account, for a provider where they run the room as its co-organiser
    (Teams: their address in the organiser's tenant)."""
    if meeting.mediator_id is None:
        return None
    async with db.read() as session:
        mediator = await session.get(Mediator, meeting.mediator_id)
    return mediator.email if mediator is not None else None
