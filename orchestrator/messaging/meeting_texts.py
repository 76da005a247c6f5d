"""A meeting by text message: the invitation summary, the reminders and the cancellation.

For the people ``channels.texts_person`` picks (phone people, and those with only a
mobile). Booking or moving a meeting texts each of them the time and their own way in
(the dial-in number and their PIN, the venue, or their join link); cancelling it texts
them that it is off; ``reminder_text`` is sent beside the reminder email by
``reminder_sending``. Each text has its own idempotency key, so a repeated event or a
retried transaction texts nobody twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.core.events import (
    EventBus,
    EventContext,
    MeetingBooked,
    MeetingCancelled,
    MeetingRescheduled,
)
from orchestrator.core.models import Invitation, MeetingMode, MeetingStatus, Party
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import texts_person
from orchestrator.messaging.invitees import MeetingFacts, load_meeting
from orchestrator.messaging.text_messages import queue_text
from orchestrator.messaging.ways_in import current_join_link, link_url, venue_text
from orchestrator.scheduling import joining

# A text goes with the reminders this close to the start (2 days, 2 hours), not the earlier.
TEXT_REMINDER_MAX_MINUTES = 2 * 24 * 60


async def way_in(
    session: AsyncSession,
    facts: MeetingFacts,
    party: Party,
    invitation: Invitation,
    settings: Settings,
) -> dict[str, Any]:
    """How this person joins, for a text or a letter: their PIN, the place, or their link."""
    meeting = facts.meeting
    phone = joining.dial_in_for(meeting, settings, invitation=invitation, mediator=False)
    venue, _notes = (
        venue_text(meeting.venue) if meeting.mode is not MeetingMode.video else (None, None)
    )
    video_url = None
    if phone is None and venue is None and meeting.mode is not MeetingMode.in_person:
        link = await current_join_link(session, meeting, party_id=party.id)
        video_url = link_url(link, settings) if link is not None else None
    return {
        "dial_in_number": phone.number if phone else None,
        "dial_in_pin": phone.pin if phone else None,
        "venue": venue,
        "video_url": video_url,
        "join_opens_at": wording.clock_on(
            joining.join_opens_at(meeting, settings),
            meeting_start=meeting.start_at,
            zone=facts.case.timezone,
        ),
    }


def about(facts: MeetingFacts) -> dict[str, Any]:
    meeting = facts.meeting
    return {
        "meeting_label": facts.label,
        "when": wording.when(meeting.start_at, meeting.end_at, zone=facts.case.timezone),
    }


async def text_invitations(
    session: AsyncSession, *, meeting_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """Text each phone or mobile-only person the meeting's time and their way in."""
    if not settings.sends_sms:  # no texting service: nothing to read
        return 0
    facts = await load_meeting(session, meeting_id)
    if facts is None or facts.meeting.status is MeetingStatus.cancelled:
        return 0
    sent = 0
    for party, invitation in facts.parties:
        if not texts_person(party, settings):
            continue
        key = f"text:invite:{meeting_id}:{party.id}:{facts.meeting.sequence}"
        sent += await _text_meeting(
            session, facts, party, invitation, kind="invite", key=key, settings=settings, now=now
        )
    if sent:
        add_timeline(
            session,
            case_id=facts.case.id,
            meeting_id=meeting_id,
            kind="texts.sent",
            summary=f"Text messages with the meeting's details queued for {sent} people",
            at=now,
        )
    return sent


async def text_cancellations(
    session: AsyncSession, *, meeting_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """Text each phone or mobile-only person that the meeting is off (no reason: call us)."""
    if not settings.sends_sms:
        return 0
    facts = await load_meeting(session, meeting_id)
    if facts is None:
        return 0
    sent = 0
    for party, _invitation in facts.parties:
        if texts_person(party, settings):
            sent += await queue_text(
                session,
                party=party,
                kind="cancel",
                key=f"text:cancel:{meeting_id}:{party.id}",
                context=about(facts),
                settings=settings,
                now=now,
                meeting_id=meeting_id,
            )
    return sent


async def reminder_text(
    session: AsyncSession,
    facts: MeetingFacts,
    party: Party,
    invitation: Invitation,
    *,
    reminder_id: uuid.UUID,
    minutes_before: int,
    settings: Settings,
    now: datetime,
) -> bool:
    """Text this person their reminder, if they are texted and it is close to the day."""
    if minutes_before > TEXT_REMINDER_MAX_MINUTES or not texts_person(party, settings):
        return False
    key = f"text:reminder:{reminder_id}:{facts.meeting.sequence}"
    return await _text_meeting(
        session, facts, party, invitation, kind="reminder", key=key, settings=settings, now=now
    )


async def _text_meeting(
    session: AsyncSession,
    facts: MeetingFacts,
    party: Party,
    invitation: Invitation,
    *,
    kind: str,
    key: str,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue one text that gives the meeting's time and this person's way in."""
    context = about(facts) | await way_in(session, facts, party, invitation, settings)
    return await queue_text(
        session,
        party=party,
        kind=kind,
        key=key,
        context=context,
        settings=settings,
        now=now,
        meeting_id=facts.meeting.id,
    )


def install(bus: EventBus) -> None:
    """Text the meeting's details when it is booked or moved, and that it is off when cancelled."""

    async def on_booked(
        session: AsyncSession, event: MeetingBooked | MeetingRescheduled, ctx: EventContext
    ) -> None:
        await text_invitations(
            session, meeting_id=event.meeting_id, settings=ctx.settings, now=ctx.now
        )

    async def on_cancelled(
        session: AsyncSession, event: MeetingCancelled, ctx: EventContext
    ) -> None:
        await text_cancellations(
            session, meeting_id=event.meeting_id, settings=ctx.settings, now=ctx.now
        )

    bus.subscribe(MeetingBooked, on_booked)
    bus.subscribe(MeetingRescheduled, on_booked)
    bus.subscribe(MeetingCancelled, on_cancelled)
