"""Who a dialled PIN lets in, and withdrawing a person's ways into their meetings' rooms.

Each person has their own PIN for a meeting people dial into (the phone bridge, Jitsi's
dial-in): ``find_pin`` tells the bridge or the dial-in gateway whose it is, so attendance
is theirs and one person's PIN can be revoked without touching anyone else's.

Revoking a person's links (or removing them from the case) kills the links at once, but
not what those links already handed out: a room URL from a click carries a provider
token valid until the join window closes. So ``withdraw`` also revokes their PINs and
moves every live meeting of theirs whose room they may hold a URL for to a new provider
room (``provider_queue.move_room``; a shared room PIN changes with it); the others' links
follow it at their next click.

``provider_url`` is each person's own URL into their room on its provider: the mediator
as the room's host, a party by a link of their own, past the provider's waiting room once
the mediator has let them in (decision record 017).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.base import JoinIdentity
from orchestrator.core.models import (
    Channel,
    Invitation,
    Meeting,
    MeetingStatus,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    Room,
)
from orchestrator.core.settings import Settings
from orchestrator.meeting import attendance, join_facts, phone_lines, provider_queue, rooms
from orchestrator.meeting.providers import Providers, room_from_dict
from orchestrator.scheduling import joining, pins

_LIVE = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)
Door = Literal["bridge", "jitsi"]


@dataclass(frozen=True)
class PinHolder:
    """Whose PIN was dialled: the meeting, and the party (None: the mediator, or the room's
    shared PIN when ``shared``)."""

    meeting: Meeting
    party: Party | None
    shared: bool = False


def _open(meeting: Meeting, settings: Settings, now: datetime) -> bool:
    """True inside the meeting's join window (as for the join links)."""
    return (
        joining.join_opens_at(meeting, settings) <= now <= joining.join_closes_at(meeting, settings)
    )


def _behind(meeting: Meeting, door: Door) -> bool:
    """True when ``door`` is how people dial into this meeting."""
    if door == "bridge":
        return joining.uses_phone_bridge(meeting)
    return meeting.provider == "jitsi"


async def find_pin(
    session: AsyncSession, pin: str, *, door: Door, settings: Settings, now: datetime
) -> PinHolder | None:
    """The live meeting (and person) this PIN opens at ``door`` right now, if any.

    A party's PIN dies with their invitation, their removal or the revocation of their
    links (which gives them a new one); the Jitsi door also knows a room's shared PIN, of a
    room that fell back to Jitsi from a provider that had one.
    """
    if not pin.isdigit():
        return None
    rows = (
        await session.execute(
            select(Invitation, Meeting)
            .join(Meeting, col(Meeting.id) == col(Invitation.meeting_id))
            .where(
                col(Invitation.phone_pin) == pin,
                col(Invitation.cancelled_at).is_(None),
                col(Meeting.status).in_(_LIVE),
            )
        )
    ).all()
    for invitation, meeting in rows:
        if _behind(meeting, door) and _open(meeting, settings, now):
            party = await session.get(Party, invitation.party_id)
            if party is not None and party.removed_at is None:
                return PinHolder(meeting, party)
    live = col(Meeting.status).in_(_LIVE)
    mediated = await session.scalars(select(Meeting).where(col(Meeting.mediator_pin) == pin, live))
    candidates = [(meeting, False) for meeting in mediated.all()]
    if door == "jitsi":
        shared = await session.scalars(select(Meeting).where(col(Meeting.dial_in_pin) == pin, live))
        candidates += [(meeting, True) for meeting in shared.all()]
    for meeting, is_shared in candidates:
        if _behind(meeting, door) and _open(meeting, settings, now):
            return PinHolder(meeting, None, shared=is_shared)
    return None


async def dial_in_room_name(session: AsyncSession, holder: PinHolder) -> str | None:
    """The provider name of the room the PIN's holder belongs in now (their caucus room,
    else the joint room); None while the room is being made or moved."""
    meeting = holder.meeting
    if holder.party is not None:
        caucus = await rooms.room_of_party(session, meeting.id, holder.party.id)
        if caucus is not None and caucus.provider_room:
            return str(caucus.provider_room.get("room_id") or "") or None
    if not meeting.provider_room:
        return None
    return str(meeting.provider_room.get("room_id") or "") or None


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
    """After a party's links are revoked: revoke their PINs (a new one each while they stay
    on the case) and move the rooms they may hold a URL for. Returns how many rooms moved.
    """
    await pins.replace_pins(
        session, party_id=party.id, now=now, removed=party.removed_at is not None
    )
    moved = 0
    for meeting in await _clicked_meetings(session, party.id):
        if await provider_queue.move_room(session, meeting=meeting, now=now):
            await pins.replace_room_pin(session, meeting=meeting, now=now)
            moved += 1
    return moved


@dataclass(frozen=True)
class PhoneSeat:
    """Where a caller who keyed a PIN on the phone bridge goes, and their name on the call."""

    room: Room
    label: str
    moderator: bool  # the mediator runs the conference


async def seat_phone_caller(
    session: AsyncSession, holder: PinHolder, *, call_id: str | None, now: datetime
) -> PhoneSeat:
    """Send a party to the room they are in now (else the joint room), the mediator to the
    joint room, and record them joining by phone (once per call)."""
    meeting, party = holder.meeting, holder.party
    room = await rooms.main_room(session, meeting.id)
    if party is not None:
        room = await rooms.room_of_party(session, meeting.id, party.id) or room
        label = party.participant_ref
    else:
        assert meeting.mediator_id is not None
        label = join_facts.mediator_ref(meeting.mediator_id)
    await attendance.append(
        session,
        attendance.event_row(
            meeting_id=meeting.id,
            party_id=party.id if party else None,
            mediator_id=None if party else meeting.mediator_id,
            status=ParticipantStatus.joining,
            source="twilio",
            at=now,
            room_id=room.id,
            channel=Channel.phone,
            dedup_key=f"twilio:pin:{call_id}" if call_id else None,
            call_id=call_id,
        ),
    )
    await phone_lines.queue_line(session, meeting=meeting, room=room, now=now)
    return PhoneSeat(room=room, label=label, moderator=party is None)


async def provider_url(
    providers: Providers,
    facts: join_facts.JoinFacts,
    *,
    now: datetime,
    grace: timedelta,
    past_lobby: bool = False,
) -> str:
    """This person's own URL into the room their link's facts name (``target`` checked
    that it is ready): the mediator as host (on Zoom a fresh start link), a party by their
    own link (a Zoom registration, a Jitsi token, a BigBlueButton join). ``past_lobby``:
    the mediator has let them in, so the provider's waiting room does not hold them again
    (Jitsi ``lobby_bypass``, BigBlueButton's authenticated join; Zoom and Teams admit from
    their own waiting room). Room tokens last until the join window closes.

    Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
    """
    assert facts.provider_room is not None
    room = room_from_dict(facts.provider_room)
    who = JoinIdentity(
        participant_ref=facts.participant_ref,
        display_name=facts.display_name,
        moderator=facts.party_id is None,
        valid_until=facts.closes_at(grace=grace),
        past_lobby=past_lobby and facts.party_id is not None,
    )
    return await providers.video(room.provider).personal_url(room, who, now=now)
