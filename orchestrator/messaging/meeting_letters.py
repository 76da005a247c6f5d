"""A meeting by letter, for the people ``channels.posts_to`` picks (no email, no mobile).

Booking or moving a meeting posts each of them when it is and how they join: the dial-in
number and their PIN, or the venue. Each letter has its own idempotency key (the meeting's
sequence in it), so a repeated event posts nobody twice, and a move posts the new time.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.events import EventBus, EventContext, MeetingBooked, MeetingRescheduled
from orchestrator.core.models import MeetingStatus
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import posts_to
from orchestrator.messaging.invitees import load_meeting
from orchestrator.messaging.letters import queue_letter
from orchestrator.messaging.meeting_texts import about, way_in


async def post_meeting_letters(
    session: AsyncSession, *, meeting_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """Queue a letter with the meeting's time and way in for each person we write to."""
    if not settings.sends_letters:
        return 0
    facts = await load_meeting(session, meeting_id)
    if facts is None or facts.meeting.status is MeetingStatus.cancelled:
        return 0
    posted = 0
    for party, invitation in facts.parties:
        if not posts_to(party, settings):
            continue
        context = about(facts) | await way_in(session, facts, party, invitation, settings)
        posted += await queue_letter(
            session,
            party=party,
            kind="meeting",
            key=f"letter:meeting:{meeting_id}:{party.id}:{facts.meeting.sequence}",
            context=context,
            settings=settings,
            now=now,
            meeting_id=meeting_id,
        )
    return posted


def install(bus: EventBus) -> None:
    """Post the meeting's details when it is booked or moved."""

    async def on_booked(
        session: AsyncSession, event: MeetingBooked | MeetingRescheduled, ctx: EventContext
    ) -> None:
        await post_meeting_letters(
            session, meeting_id=event.meeting_id, settings=ctx.settings, now=ctx.now
        )

    bus.subscribe(MeetingBooked, on_booked)
    bus.subscribe(MeetingRescheduled, on_booked)
