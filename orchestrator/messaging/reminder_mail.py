"""Reminders by mail alone, queued a batch at a time: one read of links, one outbox insert.

When every reminder falls due at once (all meetings at ten, say), each one queued on its
own cost about seven round trips (a savepoint, its join and RSVP links, the queued check,
its outbox row): under sixty a second. Here the re-checked reminders of a batch find their
links in one read, new RSVP links go in as one INSERT, and their mails in another
(``outbox.enqueue_all``, which skips a key queued before). Rendering stays per person.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.db import log_failure
from orchestrator.core.models import (
    Invitation,
    Link,
    LinkScope,
    Meeting,
    OutboxMessage,
    Party,
    Reminder,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import invite_content, invitees, outbox, outgoing_mail
from orchestrator.messaging.channels import texts_person
from orchestrator.messaging.ways_in import join_details_with, new_rsvp_link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Due:
    """A meeting reminder (or invite chaser) that still holds after its re-check."""

    reminder: Reminder
    facts: invitees.MeetingFacts
    party: Party
    invitation: Invitation
    kind: str  # the mail's template: "reminder" or "chase_invite"
    minutes_before: int

    def by_mail_alone(self, settings: Settings) -> bool:
        """True when the person is reached by email only: no text goes with this one."""
        return bool(self.party.email) and not texts_person(self.party, settings)


class LinksAtHand:
    """The live join and RSVP links of a batch's meetings, read at once, newest first."""

    def __init__(self, rows: Iterable[Link]) -> None:
        self._by_person: dict[tuple[uuid.UUID | None, uuid.UUID | None], list[Link]] = {}
        for link in rows:
            self._by_person.setdefault((link.meeting_id, link.party_id), []).append(link)

    @classmethod
    async def read(cls, session: AsyncSession, meeting_ids: Sequence[uuid.UUID]) -> LinksAtHand:
        rows = await session.scalars(
            select(Link)
            .where(
                col(Link.meeting_id).in_(meeting_ids),
                col(Link.party_id).is_not(None),
                col(Link.scope).in_([LinkScope.join_room, LinkScope.rsvp]),
                col(Link.revoked_at).is_(None),
            )
            .order_by(col(Link.created_at).desc())
        )
        return cls(rows.all())

    def join(self, meeting: Meeting, party: Party) -> Link | None:
        """As ``ways_in.current_join_link`` finds it: the newest of this meeting's version."""
        for link in self._by_person.get((meeting.id, party.id), []):
            if link.scope is LinkScope.join_room and link.meeting_sequence in (
                None,
                meeting.sequence,
            ):
                return link
        return None

    async def rsvp(
        self, session: AsyncSession, meeting: Meeting, party: Party, now: datetime
    ) -> Link:
        """As ``ways_in.rsvp_link`` finds or makes it; a new one waits for the batch's flush."""
        mine = self._by_person.setdefault((meeting.id, party.id), [])
        for link in mine:
            if link.scope is LinkScope.rsvp and link.meeting_sequence == meeting.sequence:
                return link
        link = await new_rsvp_link(session, meeting, party, now, flush=False)
        mine.insert(0, link)
        return link


async def queue_all(
    session: AsyncSession, batch: Sequence[Due], *, settings: Settings, now: datetime
) -> int:
    """Render and queue each reminder's mail, mark it sent; return how many were queued.

    A reminder whose mail cannot be made is left claimed (logged) and tried again when
    its claim runs out, as one that failed on its own always was.
    """
    if not batch:
        return 0
    at_hand = await LinksAtHand.read(session, list({due.facts.meeting.id for due in batch}))
    messages = []
    for due in batch:
        try:
            messages.append(await _mail(session, due, at_hand, settings=settings, now=now))
        except Exception as exc:  # one bad row must not hold up the others
            log_failure(log, exc, "reminder %s could not be sent", due.reminder.id)
            continue
        due.reminder.sent_at = now
        due.reminder.claimed_by = due.reminder.claimed_until = None
    await outbox.enqueue_all(session, messages)
    return len(messages)


async def _mail(
    session: AsyncSession, due: Due, at_hand: LinksAtHand, *, settings: Settings, now: datetime
) -> OutboxMessage:
    """The outbox row of one person's reminder, with their ways in and answer links."""
    meeting, party = due.facts.meeting, due.party
    assert party.email
    recipient = invitees.party_recipient(party, due.invitation)
    join = join_details_with(due.facts, recipient, settings, at_hand.join(meeting, party))
    rsvp = await at_hand.rsvp(session, meeting, party, now)
    _spec, context = invite_content.invite_context_with(
        due.facts, recipient, settings, join=join, rsvp=rsvp, now=now
    )
    key = f"reminder:{due.reminder.id}:{meeting.sequence}"
    message = outgoing_mail.plain_message(
        kind=due.kind,
        key=key,
        to_name=party.name,
        to_addr=party.email,
        context=context,
        settings=settings,
        now=now,
        easy_read=party.easy_read,
        language=party.language,
    )
    return outgoing_mail.outbox_email(
        message,
        to_addr=party.email,
        key=key,
        topic=due.kind,
        now=now,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
    )
