"""Calendar invitations: one REQUEST or CANCEL per recipient, queued in the booking's transaction.

Reacts to the meeting's events: a booking or a reschedule sends everyone still invited
their own METHOD:REQUEST (same UID, the meeting's SEQUENCE); a cancellation sends a real
METHOD:CANCEL; removing one person cancels for that person only and tells the others
who is coming now; a person added to a booked case gets their invitation. The SEQUENCE is
the meeting's one counter, ``Meeting.calendar_sequence``: every change that sends anyone a
new copy takes the next number (removing and adding people too), so a calendar that holds
a CANCEL always gets a higher SEQUENCE in the REQUEST that follows it. Every message
is rendered here, inside the transaction, and stored in the outbox as bytes under an
idempotency key made of the meeting, the recipient, the SEQUENCE, the method and the
cause, so a retried transaction or a repeated event never sends anything twice.

Each invitation names only the mediator (CHAIR) and the recipient as ATTENDEEs: parties
see who else is coming by role in the body, never each other's addresses or links.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any, Literal

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from calendars.imip import build_invite_message, build_plain_message
from calendars.invites import (
    Attendee,
    EventSpec,
    JoinDetails,
    Organizer,
    Role,
    build_cancel,
    build_request,
    when_text,
)
from orchestrator.cases import links
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.events import (
    EventBus,
    EventContext,
    MeetingBooked,
    MeetingCancelled,
    MeetingRescheduled,
    PartyAdded,
    PartyRemoved,
)
from orchestrator.core.models import (
    Case,
    CaseKind,
    Invitation,
    Link,
    LinkScope,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    OutboxKind,
    OutboxMessage,
    PartStat,
    Party,
    PartyRole,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import render_mail
from orchestrator.messaging import outbox
from orchestrator.scheduling import joining, lookups, pins, polls

log = logging.getLogger(__name__)

MEETING_LABELS = {
    CaseKind.mediation: "SEND mediation meeting",
    CaseKind.disagreement_resolution: "disagreement resolution meeting",
    CaseKind.mias: "mediation information call",
}

ROLE_LABELS = {
    PartyRole.parent: "Parent or carer",
    PartyRole.young_person: "Young person",
    PartyRole.school: "School",
    PartyRole.college: "College",
    PartyRole.la_officer: "Local authority officer",
    PartyRole.health: "Health service",
    PartyRole.social_care: "Social care",
    PartyRole.sendiass: "SENDIASS supporter",
    PartyRole.advocate: "Advocate",
    PartyRole.interpreter: "Interpreter",
    PartyRole.observer: "Observer",
}

WHAT_TO_EXPECT = (
    "The meeting usually takes two to four hours. The mediator is independent and chairs "
    "it: they will talk with everyone together and may also speak with each side "
    "privately. You can ask for a break at any time. Nothing is recorded."
)

ANSWERS = {
    "accepted": PartStat.accepted,
    "tentative": PartStat.tentative,
    "declined": PartStat.declined,
}


def mail_domain(settings: Settings) -> str:
    """The host name of the organiser address: Message-IDs are made in it."""
    return settings.mail_from.rsplit("@", 1)[-1].lower() or "localhost"


def organizer_name(settings: Settings) -> str:
    return settings.mail_from_name or settings.service_name


def itip_role(party: Party) -> Role:
    """LA decision-maker and other required parties REQ, supporters OPT (DOMAIN.md)."""
    if party.role is PartyRole.la_officer:
        return "REQ-PARTICIPANT"
    return "REQ-PARTICIPANT" if party.required else "OPT-PARTICIPANT"


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


# ---------------------------------------------------------------- the meeting, read once


@dataclass
class Recipient:
    """Someone an invitation goes to: a party (with their invitation) or the mediator."""

    ident: str  # party id, or "mediator-<id>"
    name: str
    email: str
    role: Role
    party: Party | None = None
    invitation: Invitation | None = None
    mediator: Mediator | None = None

    @property
    def easy_read(self) -> bool:
        return bool(self.party and self.party.easy_read)

    @property
    def language(self) -> str | None:
        return self.party.language if self.party else None


@dataclass
class MeetingFacts:
    """A meeting with its case, mediator and live invitations, loaded in one place."""

    meeting: Meeting
    case: Case
    mediator: Mediator | None
    parties: list[tuple[Party, Invitation]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return MEETING_LABELS.get(self.case.kind, "mediation meeting")

    def people(self) -> list[str]:
        """Who will be there, by role only (no names or contacts of other parties)."""
        shown = ["Mediator (chairs the meeting)"] if self.mediator else []
        shown += [ROLE_LABELS.get(p.role, p.role.value) for p, _ in self.parties]
        return shown


async def load_meeting(session: AsyncSession, meeting_id: uuid.UUID) -> MeetingFacts | None:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    mediator_id = meeting.mediator_id or case.mediator_id
    mediator = await session.get(Mediator, mediator_id) if mediator_id else None
    rows = await session.execute(
        select(Party, Invitation)
        .join(Invitation, col(Invitation.party_id) == col(Party.id))
        .where(
            col(Invitation.meeting_id) == meeting.id,
            col(Invitation.cancelled_at).is_(None),
            col(Party.removed_at).is_(None),
        )
        .order_by(col(Party.created_at))
    )
    parties = [(party, invitation) for party, invitation in rows.all()]
    return MeetingFacts(meeting=meeting, case=case, mediator=mediator, parties=parties)


def recipients(facts: MeetingFacts, settings: Settings) -> list[Recipient]:
    """Everyone with an email address who gets this meeting's invitations."""
    found: list[Recipient] = []
    if facts.mediator is not None and settings.invite_mediator and facts.mediator.email:
        found.append(mediator_recipient(facts.mediator))
    for party, invitation in facts.parties:
        if party.email:
            found.append(party_recipient(party, invitation))
    return found


def mediator_recipient(mediator: Mediator) -> Recipient:
    return Recipient(
        ident=f"mediator-{mediator.id}",
        name=mediator.name,
        email=mediator.email,
        role="CHAIR",
        mediator=mediator,
    )


def party_recipient(party: Party, invitation: Invitation | None) -> Recipient:
    assert party.email
    return Recipient(
        ident=str(party.id),
        name=party.name,
        email=party.email,
        role=itip_role(party),
        party=party,
        invitation=invitation,
    )


# ---------------------------------------------------------------------------- per-recipient details


async def current_join_link(
    session: AsyncSession,
    meeting: Meeting,
    *,
    party_id: uuid.UUID | None = None,
    mediator_id: uuid.UUID | None = None,
) -> Link | None:
    """The newest live join link of this person for this meeting's current sequence."""
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
    return await links.issue(
        session,
        case_id=meeting.case_id,
        scope=LinkScope.rsvp,
        now=now,
        expires_at=max(meeting.end_at, now + timedelta(days=1)),
        party_id=party.id,
        meeting=meeting,
    )


def link_url(link: Link, settings: Settings) -> str:
    return links.url_for(
        link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
    )


async def join_details(
    session: AsyncSession, facts: MeetingFacts, recipient: Recipient, settings: Settings
) -> JoinDetails:
    """How this one person joins: their own /j/ link, their PIN, or the venue."""
    meeting = facts.meeting
    url = None
    if meeting.mode is not MeetingMode.in_person:
        link = await current_join_link(
            session,
            meeting,
            party_id=recipient.party.id if recipient.party else None,
            mediator_id=recipient.mediator.id if recipient.mediator else None,
        )
        url = link_url(link, settings) if link is not None else None
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


def event_spec(
    facts: MeetingFacts,
    recipient: Recipient,
    join: JoinDetails,
    settings: Settings,
    *,
    now: datetime,
    sequence: int,
) -> EventSpec:
    """The calendar event as this recipient sees it: the mediator and themselves."""
    attendees: list[Attendee] = []
    mediator = facts.mediator
    if mediator is not None and mediator.email and recipient.mediator is None:
        attendees.append(Attendee(mediator.name, mediator.email, "CHAIR", rsvp=False))
    partstat = recipient.invitation.partstat.value if recipient.invitation else "ACCEPTED"
    attendees.append(
        Attendee(
            recipient.name,
            recipient.email,
            recipient.role,
            partstat,  # type: ignore[arg-type]
            rsvp=recipient.mediator is None,
        )
    )
    return EventSpec(
        uid=facts.meeting.ical_uid,
        sequence=sequence,
        start=facts.meeting.start_at,
        end=facts.meeting.end_at,
        tzid=facts.case.timezone,
        summary=f"{facts.label[:1].upper()}{facts.label[1:]} – {settings.service_name}",
        description=f"{WHAT_TO_EXPECT}\n\nNeed help? Call {settings.help_line}.",
        organizer=Organizer(organizer_name(settings), settings.mail_from),
        attendees=attendees,
        join=join,
        dtstamp=now,
    )


def meeting_context(
    facts: MeetingFacts, recipient: Recipient, spec: EventSpec, settings: Settings
) -> dict[str, Any]:
    """What every meeting mail says, from the same datetimes as the calendar part."""
    join = spec.join
    return {
        "service_name": settings.service_name,
        "help_line": settings.help_line,
        "recipient_name": recipient.name,
        "meeting_label": facts.label,
        "when": when_text(spec),
        "video_url": join.url,
        "dial_in_number": join.dial_in_number,
        "dial_in_pin": join.dial_in_pin,
        "venue": join.venue,
        "venue_notes": join.venue_notes,
        "join_opens_at": wording.clock_on(
            joining.join_opens_at(facts.meeting, settings),
            meeting_start=facts.meeting.start_at,
            zone=facts.case.timezone,
        ),
        "people": facts.people(),
        "what_to_expect": WHAT_TO_EXPECT,
        "rsvp": None,
        "update": False,
        "removed": False,
    }


def meeting_when(meeting: Meeting, tzid: str) -> str:
    """The meeting's time as every mail, page and invite words it (``wording.when``)."""
    return wording.when(meeting.start_at, meeting.end_at, zone=tzid)


def invite_key(
    meeting: Meeting, recipient: Recipient, sequence: int, method: str, cause: str
) -> str:
    return f"invite:{meeting.id}:{recipient.ident}:{sequence}:{method}:{cause}"


# ---------------------------------------------------------------------------- sending


async def invite_context(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
) -> tuple[EventSpec, dict[str, Any]]:
    """The meeting as this recipient is told it: how they join, and their answer links."""
    meeting = facts.meeting
    join = await join_details(session, facts, recipient, settings)
    spec = event_spec(facts, recipient, join, settings, now=now, sequence=meeting.calendar_sequence)
    context = meeting_context(facts, recipient, spec, settings)
    if recipient.party is not None:
        base = link_url(await rsvp_link(session, meeting, recipient.party, now), settings)
        context["rsvp"] = {answer: f"{base}?answer={answer}" for answer in ANSWERS}
    return spec, context


async def send_request(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
    cause: str,
    update: bool,
) -> bool:
    """Queue one recipient's METHOD:REQUEST; False when this exact one was queued before."""
    meeting = facts.meeting
    key = invite_key(meeting, recipient, meeting.calendar_sequence, "REQUEST", cause)
    if await already_queued(session, key):
        return False
    spec, context = await invite_context(session, facts, recipient, settings, now=now)
    context["update"] = update
    body = render_mail(
        "invite", context, easy_read=recipient.easy_read, language=recipient.language
    )
    await _queue_itip(
        session,
        recipient,
        settings,
        method="REQUEST",
        ics=build_request(spec),
        body=body,
        key=key,
        topic="invite.request",
        meeting=meeting,
        now=now,
        sequence=meeting.calendar_sequence,
    )
    return True


async def send_cancel(
    session: AsyncSession,
    facts: MeetingFacts,
    recipient: Recipient,
    settings: Settings,
    *,
    now: datetime,
    removed: bool,
    sequence: int,
) -> bool:
    """Queue one recipient's METHOD:CANCEL with ``sequence`` (above anything they were sent)."""
    meeting = facts.meeting
    key = invite_key(meeting, recipient, sequence, "CANCEL", "removed" if removed else "cancelled")
    if await already_queued(session, key):
        return False
    spec = event_spec(facts, recipient, JoinDetails(), settings, now=now, sequence=sequence)
    context = meeting_context(facts, recipient, spec, settings)
    context["removed"] = removed
    body = render_mail(
        "cancel", context, easy_read=recipient.easy_read, language=recipient.language
    )
    await _queue_itip(
        session,
        recipient,
        settings,
        method="CANCEL",
        ics=build_cancel(spec),
        body=body,
        key=key,
        topic="invite.cancel",
        meeting=meeting,
        now=now,
        sequence=sequence,
    )
    return True


async def already_queued(session: AsyncSession, key: str) -> bool:
    """True when a message with this idempotency key is in the outbox already."""
    found = await session.scalar(
        select(OutboxMessage.id).where(col(OutboxMessage.idempotency_key) == key)
    )
    return found is not None


async def _queue_itip(
    session: AsyncSession,
    recipient: Recipient,
    settings: Settings,
    *,
    method: Literal["REQUEST", "CANCEL"],
    ics: bytes,
    body: Any,
    key: str,
    topic: str,
    meeting: Meeting,
    now: datetime,
    sequence: int,
) -> None:
    """Package one iTIP message for ``recipient``, queue it, and note the sequence sent."""
    message = build_invite_message(
        method=method,
        ics=ics,
        subject=body.subject,
        from_name=organizer_name(settings),
        from_addr=settings.mail_from,
        to_name=recipient.name,
        to_addr=recipient.email,
        text_body=body.text,
        html_body=body.html,
        message_id_key=key,
        domain=mail_domain(settings),
        date=now,
    )
    await _enqueue(session, message, recipient, key, topic, meeting, now)
    if recipient.invitation is not None:
        recipient.invitation.last_sequence_sent = sequence
        if method == "REQUEST":
            recipient.invitation.last_request_at = now


async def _enqueue(
    session: AsyncSession,
    message: Message,
    recipient: Recipient,
    key: str,
    topic: str,
    meeting: Meeting,
    now: datetime,
) -> None:
    await outbox.enqueue(
        session,
        kind=OutboxKind.email,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[recipient.email]),
        now=now,
        topic=topic,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
    )


async def send_plain(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    to_name: str,
    to_addr: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None = None,
    easy_read: bool = False,
    language: str | None = None,
) -> bool:
    """Render and queue an ordinary mail (notices, reminders, chasers); False if queued before."""
    if await already_queued(session, key):
        return False
    values = {"service_name": settings.service_name, "help_line": settings.help_line}
    values.update(context)
    body = render_mail(kind, values, easy_read=easy_read, language=language)
    message = build_plain_message(
        subject=body.subject,
        from_name=organizer_name(settings),
        from_addr=settings.mail_from,
        to_name=to_name,
        to_addr=to_addr,
        text_body=body.text,
        html_body=body.html,
        message_id_key=key,
        domain=mail_domain(settings),
        date=now,
    )
    await outbox.enqueue(
        session,
        kind=OutboxKind.email,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[to_addr]),
        now=now,
        topic=kind,
        case_id=case_id,
        meeting_id=meeting_id,
    )
    return True


# ---------------------------------------------------------------------------- use-cases


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
    skipped = [p for p, _ in facts.parties if not p.email]
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


def next_sequence(meeting: Meeting) -> int:
    """Take the meeting's next calendar SEQUENCE for a change about to be sent."""
    meeting.calendar_sequence += 1
    return meeting.calendar_sequence


async def highest_sequence_sent(session: AsyncSession, meeting_id: uuid.UUID) -> int:
    """The highest SEQUENCE any party of the meeting was sent (-1 when none)."""
    highest = await session.scalar(
        select(func.max(Invitation.last_sequence_sent)).where(
            col(Invitation.meeting_id) == meeting_id
        )
    )
    return int(highest) if highest is not None else -1


async def live_meetings(session: AsyncSession, case_id: uuid.UUID, now: datetime) -> list[Meeting]:
    rows = await session.scalars(
        select(Meeting).where(
            col(Meeting.case_id) == case_id,
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.end_at) > now,
        )
    )
    return list(rows.all())


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
        result.polls += await polls.resend_poll_link(
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
            summary=f"Sent a party ({party.role.value}) {sent} again"
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
