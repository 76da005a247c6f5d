"""Answers to invitations: by RSVP link, or by the calendar's own iTIP REPLY by email.

Both paths end in ``record_answer``: the invitation's PARTSTAT changes, the case timeline
says so, and ``PartyReplied`` tells the reminders (no more chasing; no reminders after a
decline) and the write-back webhooks. A mail reply is matched on UID, then on the
ATTENDEE address (case-insensitive), falling back to the sender; it counts only when its
sender is that person (one party cannot answer for another). A reply is stale when it
answers an older REQUEST than the one the person was last sent: by its SEQUENCE, or, when
it has none (outlook.com), by its DTSTAMP against that REQUEST's. Stale replies, replies
older than the answer already held, and replies about a UID we never issued are logged
(without personal data) and dropped.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.utils import parseaddr

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.errors import CalendarError
from calendars.imip import extract_calendar_from_mime
from calendars.replies import ItipReply, parse_reply
from orchestrator.cases import links, timeline
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.events import EventBus, PartyReplied
from orchestrator.core.models import (
    Invitation,
    LinkScope,
    Meeting,
    MeetingStatus,
    PartStat,
    Party,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.scheduling import lookups

log = logging.getLogger(__name__)

_SEQUENCE_LINE = re.compile(rb"^SEQUENCE[;:]", re.MULTILINE | re.IGNORECASE)

LINK_ANSWERS = {
    "accepted": PartStat.accepted,
    "tentative": PartStat.tentative,
    "declined": PartStat.declined,
}
ITIP_ANSWERS = {
    "ACCEPTED": PartStat.accepted,
    "TENTATIVE": PartStat.tentative,
    "DECLINED": PartStat.declined,
}
# The timeline entry of an answer; its ``details`` say which answer and by which door.
REPLIED = "party.replied"
SUMMARIES = {
    PartStat.accepted: "accepted the invitation",
    PartStat.tentative: "said they might come",
    PartStat.declined: "declined the invitation",
}
SOURCE_WORDS = {"email": "by email", "link": "on the web page", "phone": "on the phone"}
# The source of an answer a scheduler entered for the person after a phone call.
PHONE = "phone"


@dataclass(frozen=True)
class ReplyResult:
    """What happened to one reply: ``updated``, ``unchanged``, ``stale``, ``unknown_uid``,
    ``unknown_attendee``, ``wrong_sender``, ``not_a_reply`` or ``cancelled``."""

    outcome: str
    meeting_id: uuid.UUID | None = None
    party_id: uuid.UUID | None = None
    partstat: str | None = None


async def record_answer(
    session: AsyncSession,
    *,
    invitation: Invitation,
    party: Party,
    meeting: Meeting,
    partstat: PartStat,
    source: str,
    now: datetime,
    bus: EventBus,
    answered_at: datetime | None = None,
    entered_by: str | None = None,
    actor: str | None = None,
) -> bool:
    """Set the party's answer; False when it was already that (nothing emitted).

    ``entered_by`` names the scheduler who took the answer on the phone ("Sam
    (scheduler)"); the timeline says so, and ``actor`` is theirs.
    """
    if invitation.partstat is partstat:
        return False
    invitation.partstat = partstat
    invitation.responded_at = answered_at or now
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        party_id=party.id,
        kind=REPLIED,
        summary=f"{timeline.a_party(party.role)} {SUMMARIES.get(partstat, 'replied')} "
        + SOURCE_WORDS.get(source, f"({source})")
        + (f" (entered by {entered_by} after a phone call)" if entered_by else ""),
        at=now,
        actor=actor,
        details={"answer": partstat.value, "source": source}
        | ({"entered_by": entered_by} if entered_by else {}),
    )
    await session.flush()
    await bus.emit(
        session,
        PartyReplied(
            case_id=meeting.case_id,
            at=now,
            party_id=party.id,
            meeting_id=meeting.id,
            answer=partstat.value,
        ),
    )
    return True


# ---------------------------------------------------------------------------- by link


@dataclass(frozen=True)
class RsvpView:
    """What the RSVP page shows: the meeting, the person and their current answer."""

    meeting: Meeting
    party: Party
    invitation: Invitation


async def open_rsvp(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> RsvpView:
    """Check an RSVP link; raise LinkInvalid (friendly 4xx) when it does not work."""
    resolved = await links.resolve(
        session,
        token,
        scope=LinkScope.rsvp,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    if resolved.party is None or resolved.meeting is None:
        raise InvalidState("this link is not for a meeting")
    invitation = await lookups.party_invitation(
        session, meeting_id=resolved.meeting.id, party_id=resolved.party.id
    )
    if invitation is None or invitation.cancelled_at is not None:
        raise InvalidState("you are no longer invited to this meeting")
    if resolved.meeting.status is not MeetingStatus.scheduled:
        raise InvalidState("this meeting can no longer be answered")
    return RsvpView(meeting=resolved.meeting, party=resolved.party, invitation=invitation)


async def invitation_of(
    session: AsyncSession, *, case_id: uuid.UUID, party: Party
) -> RsvpView | None:
    """The party's live invitation to the case's booked meeting, for a scheduler to answer
    after a phone call; None when nothing booked awaits their answer."""
    meeting = await session.scalar(
        select(Meeting)
        .where(col(Meeting.case_id) == case_id, col(Meeting.status) == MeetingStatus.scheduled)
        .order_by(col(Meeting.start_at).desc())
        .limit(1)
    )
    if meeting is None:
        return None
    invitation = await lookups.party_invitation(session, meeting_id=meeting.id, party_id=party.id)
    if invitation is None or invitation.cancelled_at is not None:
        return None
    return RsvpView(meeting=meeting, party=party, invitation=invitation)


async def answer_by_link(
    session: AsyncSession,
    token: str,
    *,
    answer: str,
    settings: Settings,
    now: datetime,
    bus: EventBus,
) -> RsvpView:
    """Record the answer a person gave on their RSVP page."""
    partstat = LINK_ANSWERS.get(answer)
    if partstat is None:
        raise ValidationFailed("choose yes, maybe or no")
    view = await open_rsvp(session, token, settings=settings, now=now)
    await answer_view(session, view, partstat, "link", now, bus)
    return view


async def answer_view(
    session: AsyncSession,
    view: RsvpView,
    partstat: PartStat,
    source: str,
    now: datetime,
    bus: EventBus,
    *,
    entered_by: tuple[str, str] | None = None,
) -> bool:
    """Record ``partstat`` for the person of ``view``; ``entered_by`` is (words, actor) of
    the scheduler who took it on the phone (``source`` PHONE)."""
    words, actor = entered_by or (None, None)
    return await record_answer(
        session,
        invitation=view.invitation,
        party=view.party,
        meeting=view.meeting,
        partstat=partstat,
        source=source,
        now=now,
        bus=bus,
        entered_by=words,
        actor=actor,
    )


# ---------------------------------------------------------------------------- by mail


async def ingest_mail(
    session: AsyncSession, raw: bytes, *, now: datetime, bus: EventBus
) -> ReplyResult:
    """Apply an iTIP REPLY that arrived by mail (raw MIME) to the invitation it answers."""
    calendar = extract_calendar_from_mime(raw)
    if calendar is None:
        log.info("inbound mail without a calendar part: ignored")
        return ReplyResult("not_a_reply")
    try:
        reply = parse_reply(calendar)
    except CalendarError as exc:
        log.info("inbound calendar is not a usable REPLY (%s): ignored", type(exc).__name__)
        return ReplyResult("not_a_reply")
    meeting = await session.scalar(select(Meeting).where(col(Meeting.ical_uid) == reply.uid))
    if meeting is None:
        log.warning("iTIP reply for an unknown UID dropped")
        return ReplyResult("unknown_uid")
    if meeting.status is not MeetingStatus.scheduled:
        return ReplyResult("cancelled", meeting_id=meeting.id)
    partstat = ITIP_ANSWERS.get(reply.partstat)
    sender = _sender(raw)
    found = await _invited_party(session, meeting, reply.attendee_email)
    if found is None:
        found = await _invited_party(session, meeting, sender)
    if found is None:
        log.warning("iTIP reply for meeting %s from an address not invited: dropped", meeting.id)
        return ReplyResult("unknown_attendee", meeting_id=meeting.id)
    party, invitation = found
    if sender is None or sender not in {reply.attendee_email, (party.email or "").lower()}:
        log.warning(
            "iTIP reply for meeting %s sent by someone other than its attendee: ignored",
            meeting.id,
        )
        return ReplyResult("wrong_sender", meeting.id, party.id, invitation.partstat.value)
    if _answers_an_older_request(
        reply, invitation, has_sequence=bool(_SEQUENCE_LINE.search(calendar))
    ):
        log.info("iTIP reply to an older REQUEST of meeting %s ignored", meeting.id)
        return ReplyResult("stale", meeting.id, party.id, invitation.partstat.value)
    if partstat is None:
        return ReplyResult("unchanged", meeting.id, party.id, invitation.partstat.value)
    stamped = reply.dtstamp
    if stamped is not None and invitation.responded_at is not None:
        if stamped < invitation.responded_at:
            log.info("iTIP reply older than the answer held for meeting %s ignored", meeting.id)
            return ReplyResult("stale", meeting.id, party.id, invitation.partstat.value)
    changed = await record_answer(
        session,
        invitation=invitation,
        party=party,
        meeting=meeting,
        partstat=partstat,
        source="email",
        now=now,
        bus=bus,
        answered_at=min(stamped, now) if stamped is not None else now,
    )
    return ReplyResult("updated" if changed else "unchanged", meeting.id, party.id, partstat.value)


def _answers_an_older_request(
    reply: ItipReply, invitation: Invitation, *, has_sequence: bool
) -> bool:
    """True when the reply answers a REQUEST older than the one this person was last sent."""
    if has_sequence:
        sent = invitation.last_sequence_sent
        return sent is not None and reply.sequence < sent
    # outlook.com leaves SEQUENCE out of its replies: that is "no claim", not "SEQUENCE 0";
    # its DTSTAMP, made when the person answered, tells which REQUEST they answered.
    requested = invitation.last_request_at
    return reply.dtstamp is not None and requested is not None and reply.dtstamp < requested


async def _invited_party(
    session: AsyncSession, meeting: Meeting, address: str | None
) -> tuple[Party, Invitation] | None:
    if not address:
        return None
    row = (
        await session.execute(
            select(Party, Invitation)
            .join(Invitation, col(Invitation.party_id) == col(Party.id))
            .where(
                col(Invitation.meeting_id) == meeting.id,
                col(Invitation.cancelled_at).is_(None),
                col(Party.removed_at).is_(None),
                func.lower(col(Party.email)) == address.strip().lower(),
            )
            .order_by(col(Party.created_at))
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def _sender(raw: bytes) -> str | None:
    message = message_from_bytes(raw, policy=policy.default)
    address = parseaddr(str(message.get("From", "")))[1]
    return address.lower() or None
