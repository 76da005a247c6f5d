"""Calendar invitations for a whole meeting: queued when it is booked, moved or cancelled.

Reacts to the meeting's events: a booking or a reschedule sends everyone still invited
their own METHOD:REQUEST (same UID, the meeting's SEQUENCE); a cancellation sends a real
METHOD:CANCEL; removing or adding one person is ``party_invitations``. Every message is
rendered inside the booking's transaction and stored in the outbox as bytes under an
idempotency key (``itip_mail``), so a retried transaction or a repeated event never sends
anything twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.events import (
    EventBus,
    EventContext,
    MeetingBooked,
    MeetingCancelled,
    MeetingRescheduled,
    PartyAdded,
    PartyRemoved,
)
from orchestrator.core.models import Invitation, MeetingStatus, PartStat
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import reachable
from orchestrator.messaging.invitees import load_meeting, recipients
from orchestrator.messaging.itip_mail import highest_sequence_sent, send_cancel, send_request
from orchestrator.messaging.party_invitations import invite_added_party, uninvite_party


async def send_invitations(
    session: AsyncSession,
    *,
    meeting_id: uuid.UUID,
    settings: Settings,
    now: datetime,
    cause: str,
    update: bool = False,
) -> int:
    """Queue the REQUEST for everyone still invited to a live meeting; return how many."""
    facts = await load_meeting(session, meeting_id)
    if facts is None or facts.meeting.status is MeetingStatus.cancelled:
        return 0
    sent = 0
    for recipient in recipients(facts, settings):
        sent += await send_request(
            session, facts, recipient, settings, now=now, cause=cause, update=update
        )
    if sent:
        add_timeline(
            session,
            case_id=facts.case.id,
            meeting_id=facts.meeting.id,
            kind="invites.sent",
            summary=f"Calendar invitations queued for {sent} people ({cause})",
            at=now,
        )
    skipped = [p for p, _ in facts.parties if not reachable(p, settings)]
    if skipped and cause == "booked":
        add_timeline(
            session,
            case_id=facts.case.id,
            meeting_id=facts.meeting.id,
            kind="invites.no_email",
            summary=f"{len(skipped)} people have no email address: tell them another way",
            at=now,
            details={"party_ids": [str(p.id) for p in skipped]},
        )
    return sent


async def cancel_invitations(
    session: AsyncSession, *, meeting_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """Queue a METHOD:CANCEL to everyone who was sent this meeting."""
    facts = await load_meeting(session, meeting_id)
    if facts is None:
        return 0
    # Cancelling took the next SEQUENCE (cancelling.cancel), above anything anyone was sent.
    meeting = facts.meeting
    meeting.calendar_sequence = max(
        meeting.calendar_sequence, await highest_sequence_sent(session, meeting_id)
    )
    sequence = meeting.calendar_sequence
    sent = 0
    for recipient in recipients(facts, settings):
        if recipient.invitation is not None and recipient.invitation.last_sequence_sent is None:
            continue  # never told about it: nothing to take out of their calendar
        sent += await send_cancel(
            session, facts, recipient, settings, now=now, removed=False, sequence=sequence
        )
    if sent:
        add_timeline(
            session,
            case_id=facts.case.id,
            meeting_id=facts.meeting.id,
            kind="invites.cancelled",
            summary=f"Cancellations queued for {sent} people",
            at=now,
        )
    return sent


async def reset_answers(session: AsyncSession, meeting_id: uuid.UUID) -> None:
    """A new time needs new answers: everyone's reply goes back to NEEDS-ACTION."""
    rows = await session.scalars(
        select(Invitation).where(
            col(Invitation.meeting_id) == meeting_id, col(Invitation.cancelled_at).is_(None)
        )
    )
    for invitation in rows.all():
        invitation.partstat = PartStat.needs_action
        invitation.responded_at = None


# ---------------------------------------------------------------------------- subscriptions


def install(bus: EventBus) -> None:
    """Subscribe the invitation mail to the meeting's events."""

    async def on_booked(session: AsyncSession, event: MeetingBooked, ctx: EventContext) -> None:
        await send_invitations(
            session,
            meeting_id=event.meeting_id,
            settings=ctx.settings,
            now=ctx.now,
            cause="booked",
        )

    async def on_rescheduled(
        session: AsyncSession, event: MeetingRescheduled, ctx: EventContext
    ) -> None:
        await reset_answers(session, event.meeting_id)
        await send_invitations(
            session,
            meeting_id=event.meeting_id,
            settings=ctx.settings,
            now=ctx.now,
            cause="changed",
            update=True,
        )

    async def on_cancelled(
        session: AsyncSession, event: MeetingCancelled, ctx: EventContext
    ) -> None:
        await cancel_invitations(
            session, meeting_id=event.meeting_id, settings=ctx.settings, now=ctx.now
        )

    async def on_removed(session: AsyncSession, event: PartyRemoved, ctx: EventContext) -> None:
        await uninvite_party(session, party_id=event.party_id, settings=ctx.settings, now=ctx.now)

    async def on_added(session: AsyncSession, event: PartyAdded, ctx: EventContext) -> None:
        await invite_added_party(
            session, party_id=event.party_id, settings=ctx.settings, now=ctx.now
        )

    bus.subscribe(MeetingBooked, on_booked)
    bus.subscribe(MeetingRescheduled, on_rescheduled)
    bus.subscribe(MeetingCancelled, on_cancelled)
    bus.subscribe(PartyRemoved, on_removed)
    bus.subscribe(PartyAdded, on_added)
