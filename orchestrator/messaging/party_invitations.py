"""One person's invitations: when they are removed, added to a booked case, or sent theirs again.

Removing one person cancels for that person only and tells the others who is coming now;
a person added to a case whose meeting is booked gets their invitation (and their own join
link); staff can send one person their current invitation, or their poll link, again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import links, timeline
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.models import Case, Invitation, LinkScope, Meeting, MeetingMode, Party
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import live_meetings, load_meeting, party_recipient, recipients
from orchestrator.messaging.itip_mail import next_sequence, send_cancel, send_request
from orchestrator.messaging.ways_in import current_join_link
from orchestrator.scheduling import joining, lookups, pins, poll_requests


async def uninvite_party(
    session: AsyncSession, *, party_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """CANCEL to a removed person only; the others get the REQUEST with the new list."""
    party = await session.get(Party, party_id)
    if party is None:
        return 0
    sent = 0
    for meeting in await live_meetings(session, party.case_id, now):
        invitation = await lookups.party_invitation(
            session, meeting_id=meeting.id, party_id=party.id
        )
        if invitation is None or invitation.cancelled_at is not None:
            continue  # not invited, or told already
        facts = await load_meeting(session, meeting.id)
        assert facts is not None
        # The removed person's CANCEL and everyone else's new list share the next SEQUENCE.
        next_sequence(meeting)
        if party.email and invitation.last_sequence_sent is not None:
            sent += await send_cancel(
                session,
                facts,
                party_recipient(party, invitation),
                settings,
                now=now,
                removed=True,
                sequence=meeting.calendar_sequence,
            )
        invitation.cancelled_at = now
        await links.revoke_for(session, party_id=party.id, meeting_id=meeting.id, now=now)
        await session.flush()
        facts = await load_meeting(session, meeting.id)
        assert facts is not None
        for recipient in recipients(facts, settings):
            sent += await send_request(
                session,
                facts,
                recipient,
                settings,
                now=now,
                cause=f"removed-{party.id}",
                update=True,
            )
    return sent


async def invite_added_party(
    session: AsyncSession, *, party_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    """Invite a person added to a case whose meeting is already booked."""
    party = await session.get(Party, party_id)
    if party is None or party.removed_at is not None:
        return 0
    sent = 0
    for meeting in await live_meetings(session, party.case_id, now):
        invitation = await _ensure_invitation(session, meeting, party, now)
        await _ensure_join_link(session, meeting, party, settings=settings, now=now)
        if not party.email or invitation.last_sequence_sent is not None:
            continue
        # Above anything this address may hold already (a CANCEL, if they were here before).
        next_sequence(meeting)
        sent += await _send_request_to_party(
            session, meeting, party, invitation, settings=settings, now=now, cause="added"
        )
    return sent


async def _ensure_join_link(
    session: AsyncSession, meeting: Meeting, party: Party, *, settings: Settings, now: datetime
) -> bool:
    """Issue the party a join link for the meeting unless they hold one; True if issued."""
    if await current_join_link(session, meeting, party_id=party.id) is not None:
        return False
    await links.issue(
        session,
        case_id=meeting.case_id,
        scope=LinkScope.join_room,
        now=now,
        expires_at=joining.join_closes_at(meeting, settings),
        party_id=party.id,
        meeting=meeting,
    )
    return True


async def _send_request_to_party(
    session: AsyncSession,
    meeting: Meeting,
    party: Party,
    invitation: Invitation,
    *,
    settings: Settings,
    now: datetime,
    cause: str,
) -> bool:
    """Queue one party the meeting's REQUEST as it stands now; False if queued before."""
    facts = await load_meeting(session, meeting.id)
    assert facts is not None
    return await send_request(
        session,
        facts,
        party_recipient(party, invitation),
        settings,
        now=now,
        cause=cause,
        update=False,
    )


@dataclass
class Resent:
    """What ``resend_to_party`` queued for one person."""

    invites: int = 0
    polls: int = 0
    new_links: bool = False


async def resend_to_party(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    settings: Settings,
    now: datetime,
    actor: str | None,
) -> Resent:
    """Send one person their current invitation (or poll link) again, to them alone.

    For a withdrawn link or a corrected email address: a person whose links were withdrawn
    gets fresh ones (the withdrawn ones stay dead), and the invitation carries the
    meeting's current SEQUENCE, so it replaces the event in their calendar. The poll link
    goes only while no meeting is booked. Pressing twice in the same second sends once.
    """
    if party.case_id != case.id or party.removed_at is not None:
        raise NotFound("party", party.id)
    if not party.email:
        raise ValidationFailed(
            "this person has no email address; add one first, or tell them another way"
        )
    cause = f"resent-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    result = Resent()
    meetings = await live_meetings(session, case.id, now)
    for meeting in meetings:
        invitation = await _ensure_invitation(session, meeting, party, now)
        if invitation.cancelled_at is not None:
            continue
        if meeting.mode is not MeetingMode.in_person and await _ensure_join_link(
            session, meeting, party, settings=settings, now=now
        ):
            result.new_links = True
        result.invites += await _send_request_to_party(
            session, meeting, party, invitation, settings=settings, now=now, cause=cause
        )
    if not meetings:
        result.polls += await poll_requests.resend_poll_link(
            session, case=case, party=party, settings=settings, now=now, cause=cause
        )
    if not meetings and not result.polls:
        raise InvalidState(
            "there is nothing to send again yet: no meeting is booked and no poll is open"
        )
    if result.invites or result.polls:
        sent = "their invitation" if result.invites else "their poll link"
        add_timeline(
            session,
            case_id=case.id,
            party_id=party.id,
            kind="party.resent",
            summary=f"Sent {timeline.a_party(party.role, first=False)} {sent} again"
            + (" with new links" if result.new_links else ""),
            at=now,
            actor=actor,
            details={"invites": result.invites, "polls": result.polls},
        )
    return result


async def _ensure_invitation(
    session: AsyncSession, meeting: Meeting, party: Party, now: datetime
) -> Invitation:
    """The party's invitation to a booked meeting, made as booking makes them (PIN included)."""
    existing = await lookups.party_invitation(session, meeting_id=meeting.id, party_id=party.id)
    if existing is not None:
        return existing
    pin = None
    if joining.has_own_pins(meeting):
        pin = (await pins.unique_pins(session, 1, now))[0]
    invitation = Invitation(meeting_id=meeting.id, party_id=party.id, phone_pin=pin)
    try:
        async with session.begin_nested():
            session.add(invitation)
    except IntegrityError:
        found = await lookups.party_invitation(session, meeting_id=meeting.id, party_id=party.id)
        assert found is not None
        return found
    return invitation
