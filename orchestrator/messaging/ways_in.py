"""How one person joins a meeting and answers it: their join link, PIN or venue, RSVP.

Each person gets their own ``/j/`` link (never another's), the dial-in PIN of their
invitation, and the venue with its directions when the meeting is in a room. A hybrid
meeting offers all three to everyone; ``ordered_ways`` puts the person's own way in (their
``channel``) first and the others after it, under "If you need to", alike in the invite
and on the join page. RSVP links belong to one version of the meeting: a moved meeting
needs new answers, so new links. Mail shows links by their short alias (``short_links``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.invite_spec import JoinDetails
from orchestrator.cases import links
from orchestrator.core.models import (
    Channel,
    Link,
    LinkScope,
    Meeting,
    MeetingMode,
    MeetingStatus,
    PartStat,
    Party,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import MeetingFacts, Recipient
from orchestrator.scheduling import joining

ANSWERS = {
    "accepted": PartStat.accepted,
    "tentative": PartStat.tentative,
    "declined": PartStat.declined,
}

# The ways into a meeting in the order its mode offers them to someone who chose none.
MODE_ORDER = {
    MeetingMode.video: (Channel.video, Channel.phone, Channel.in_person),
    MeetingMode.phone: (Channel.phone, Channel.video, Channel.in_person),
    MeetingMode.in_person: (Channel.in_person, Channel.video, Channel.phone),
    MeetingMode.hybrid: (Channel.in_person, Channel.video, Channel.phone),
}


def ordered_ways(
    available: Collection[Channel], *, mode: MeetingMode, channel: Channel | None
) -> list[Channel]:
    """The ways in offered to one person: their own (``channel``) first when the meeting
    has it, then the others in the mode's order, which they use only if they need to."""
    order = sorted(set(available), key=MODE_ORDER[mode].index)
    if channel in order:
        order.remove(channel)
        order.insert(0, channel)
    return order


def available_ways(mode: MeetingMode, *, video: bool, phone: bool, venue: bool) -> list[Channel]:
    """Which ways in a meeting of ``mode`` offers, from what this person was given: video
    only where the meeting has a room, a venue only where people meet in one."""
    found = []
    if video and mode in (MeetingMode.video, MeetingMode.hybrid):
        found.append(Channel.video)
    if phone:
        found.append(Channel.phone)
    if venue and mode in (MeetingMode.in_person, MeetingMode.hybrid):
        found.append(Channel.in_person)
    return found


def ways_for(join: JoinDetails, mode: MeetingMode, channel: Channel | None) -> list[Channel]:
    """One recipient's ways in, from their join details, their own first."""
    available = available_ways(
        mode, video=bool(join.url), phone=bool(join.dial_in_number), venue=bool(join.venue)
    )
    return ordered_ways(available, mode=mode, channel=channel)


def venue_text(venue: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The venue on one line, and its directions, from the meeting's venue record."""
    if not venue:
        return None, None
    parts = [
        str(venue[key]).strip()
        for key in ("name", "address")
        if venue.get(key) and str(venue[key]).strip()
    ]
    notes = venue.get("access_notes") or venue.get("directions") or venue.get("notes")
    return (", ".join(parts) or None), (str(notes).strip() if notes else None)


async def current_join_link(
    session: AsyncSession,
    meeting: Meeting,
    *,
    party_id: uuid.UUID | None = None,
    mediator_id: uuid.UUID | None = None,
) -> Link | None:
    """The newest live join link of this person for this meeting's current sequence
    (none once it is cancelled: its links die with its status)."""
    if meeting.status is MeetingStatus.cancelled:
        return None
    query = select(Link).where(
        col(Link.meeting_id) == meeting.id,
        col(Link.scope) == LinkScope.join_room,
        col(Link.revoked_at).is_(None),
    )
    if party_id is not None:
        query = query.where(col(Link.party_id) == party_id)
    else:
        query = query.where(col(Link.mediator_id) == mediator_id, col(Link.party_id).is_(None))
    for link in (await session.scalars(query.order_by(col(Link.created_at).desc()))).all():
        if link.meeting_sequence is None or link.meeting_sequence == meeting.sequence:
            return link
    return None


async def rsvp_link(session: AsyncSession, meeting: Meeting, party: Party, now: datetime) -> Link:
    """This party's RSVP link for the meeting as it is now (moved meetings need new answers)."""
    existing = await session.scalar(
        select(Link)
        .where(
            col(Link.meeting_id) == meeting.id,
            col(Link.party_id) == party.id,
            col(Link.scope) == LinkScope.rsvp,
            col(Link.meeting_sequence) == meeting.sequence,
            col(Link.revoked_at).is_(None),
        )
        .order_by(col(Link.created_at).desc())
        .limit(1)
    )
    if existing is not None:
        return existing
    return await new_rsvp_link(session, meeting, party, now)


async def new_rsvp_link(
    session: AsyncSession, meeting: Meeting, party: Party, now: datetime, *, flush: bool = True
) -> Link:
    """A new RSVP link for this party and this version of the meeting, alive until it ends."""
    return await links.issue(
        session,
        case_id=meeting.case_id,
        scope=LinkScope.rsvp,
        now=now,
        expires_at=max(meeting.end_at, now + timedelta(days=1)),
        party_id=party.id,
        meeting=meeting,
        flush=flush,
    )


def link_url(link: Link, settings: Settings) -> str:
    return links.url_for(
        link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
    )


def short_link_url(link: Link, settings: Settings) -> str:
    """The link by its short alias: what a mail shows and a calendar carries."""
    return links.short_url_for(
        link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
    )


async def mediator_video_url(
    session: AsyncSession, meeting: Meeting, settings: Settings
) -> str | None:
    """The mediator's own way into the video, as its host: their /j/ link's video door.

    None when the meeting has no video room, has no mediator, or is over.
    """
    if meeting.mode not in (MeetingMode.video, MeetingMode.hybrid) or meeting.mediator_id is None:
        return None
    if meeting.status in (MeetingStatus.closed, MeetingStatus.cancelled):
        return None
    link = await current_join_link(session, meeting, mediator_id=meeting.mediator_id)
    return f"{link_url(link, settings)}/video" if link is not None else None


async def join_details(
    session: AsyncSession, facts: MeetingFacts, recipient: Recipient, settings: Settings
) -> JoinDetails:
    """How this one person joins: their own /j/ link (by its short alias), their PIN, or
    the venue."""
    link = None
    if facts.meeting.mode is not MeetingMode.in_person:
        link = await current_join_link(
            session,
            facts.meeting,
            party_id=recipient.party.id if recipient.party else None,
            mediator_id=recipient.mediator.id if recipient.mediator else None,
        )
    return join_details_with(facts, recipient, settings, link)


def join_details_with(
    facts: MeetingFacts, recipient: Recipient, settings: Settings, link: Link | None
) -> JoinDetails:
    """``join_details`` with the person's current join link (``current_join_link``) at hand."""
    meeting = facts.meeting
    url = None
    if meeting.mode is not MeetingMode.in_person and link is not None:
        url = short_link_url(link, settings)
    phone = joining.dial_in_for(
        meeting, settings, invitation=recipient.invitation, mediator=recipient.mediator is not None
    )
    venue, notes = (None, None)
    if meeting.mode in (MeetingMode.in_person, MeetingMode.hybrid):
        venue, notes = venue_text(meeting.venue)
    return JoinDetails(
        url=url,
        dial_in_number=phone.number if phone else None,
        dial_in_pin=phone.pin if phone else None,
        venue=venue,
        venue_notes=notes,
    )
