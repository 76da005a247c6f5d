"""Each mediator's private calendar feed: their sessions, subscribable by URL.

The URL carries a ``feed`` link (a signed token with a row behind it), so staff can hand
it out, and rotate it when it leaks: the old URL stops working at once. The feed shows the
meetings still on, from a month back, with the mediator's own join link and PIN, and the
case reference, never the parties' names or contacts.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.invite_spec import EventSpec, Organizer
from calendars.invites import build_feed
from orchestrator.cases import links
from orchestrator.core.errors import InvalidState
from orchestrator.core.models import Case, Link, LinkScope, Mediator, Meeting, MeetingStatus
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import load_meeting, mediator_recipient
from orchestrator.messaging.outgoing_mail import organizer_name
from orchestrator.messaging.ways_in import join_details

FEED_TTL = timedelta(days=5 * 365)
FEED_PAST = timedelta(days=31)
FEED_LIMIT = 500


async def feed_link(
    session: AsyncSession, *, mediator: Mediator, now: datetime, rotate: bool = False
) -> Link:
    """The mediator's live feed link (made on first use); ``rotate`` kills it and makes another."""
    query = select(Link).where(
        col(Link.mediator_id) == mediator.id,
        col(Link.scope) == LinkScope.feed,
        col(Link.revoked_at).is_(None),
        col(Link.expires_at) > now,
    )
    current = list((await session.scalars(query.order_by(col(Link.created_at).desc()))).all())
    if current and not rotate:
        return current[0]
    for old in current:
        old.revoked_at = now
    return await links.issue(
        session,
        case_id=await _any_case_id(session, mediator),
        scope=LinkScope.feed,
        now=now,
        ttl=FEED_TTL,
        mediator_id=mediator.id,
    )


async def _any_case_id(session: AsyncSession, mediator: Mediator) -> uuid.UUID:
    """Links belong to a case; a feed link belongs to the mediator's first one (a formality)."""
    case_id = await session.scalar(
        select(Case.id).where(col(Case.mediator_id) == mediator.id).order_by(col(Case.created_at))
    )
    if case_id is None:
        case_id = await session.scalar(select(Case.id).order_by(col(Case.created_at)))
    if case_id is None:
        raise InvalidState("a feed can be made once the service has a case")
    return case_id


def feed_url(link: Link, settings: Settings) -> str:
    return (
        links.url_for(
            link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
        )
        + ".ics"
    )


async def mediator_feed(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> bytes:
    """The ICS body for a feed token; LinkInvalid when the token is not a live feed link."""
    resolved = await links.resolve(
        session, token, scope=LinkScope.feed, secret=settings.secret_key.get_secret_value(), now=now
    )
    mediator_id = resolved.link.mediator_id
    mediator = await session.get(Mediator, mediator_id) if mediator_id else None
    if mediator is None or not mediator.active:
        raise links.refusal(links.Verdict.revoked)
    meetings = (
        await session.scalars(
            select(Meeting)
            .where(
                col(Meeting.mediator_id) == mediator.id,
                col(Meeting.status) != MeetingStatus.cancelled,
                col(Meeting.end_at) > now - FEED_PAST,
            )
            .order_by(col(Meeting.start_at))
            .limit(FEED_LIMIT)
        )
    ).all()
    specs: list[EventSpec] = []
    me = mediator_recipient(mediator)
    for meeting in meetings:
        facts = await load_meeting(session, meeting.id)
        assert facts is not None
        join = await join_details(session, facts, me, settings)
        label = facts.label[:1].upper() + facts.label[1:]
        people = ", ".join(facts.people()[1:]) or "no parties yet"
        specs.append(
            EventSpec(
                uid=meeting.ical_uid,
                sequence=meeting.calendar_sequence,
                start=meeting.start_at,
                end=meeting.end_at,
                tzid=facts.case.timezone,
                summary=f"{label} – {facts.case.reference}",
                description=f"Case {facts.case.reference}. Attending: {people}.",
                organizer=Organizer(organizer_name(settings), settings.mail_from),
                attendees=[],
                join=join,
                dtstamp=meeting.updated_at,
            )
        )
    return build_feed(specs, f"{settings.service_name} – {mediator.name}")
