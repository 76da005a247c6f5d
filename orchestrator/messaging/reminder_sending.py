"""Sending the reminders that fall due: claimed by one replica, re-checked, queued, marked sent.

``send_due`` claims due rows with a conditional UPDATE that only one replica can win
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), re-checks each one
against the current meeting and party, queues its mail in the outbox and marks it sent,
all in one transaction: a crash rolls everything back, so nothing is lost or doubled.
The batch is re-checked from a handful of reads; reminders by mail alone are queued
together (``reminder_mail``), texts and poll chasers one by one, each in a savepoint.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core import languages
from orchestrator.core.db import Database, log_failure
from orchestrator.core.models import (
    Case,
    MeetingStatus,
    PartStat,
    Party,
    Poll,
    PollResponse,
    Reminder,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import (
    action_reminders,
    invitees,
    meeting_texts,
    outgoing_mail,
    reminder_mail,
)
from orchestrator.messaging.channels import reachable
from orchestrator.messaging.reminders import BEFORE, CHASE_INVITE, CHASE_POLL

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


def parse_kind(kind: str) -> tuple[str, int]:
    name, _, number = kind.partition(":")
    return name, int(number or 0)


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the earliest pending reminder nobody holds falls due (one indexed read)."""
    due: datetime | None = await session.scalar(
        select(func.min(Reminder.due_at)).where(
            col(Reminder.sent_at).is_(None),
            col(Reminder.cancelled_at).is_(None),
            or_(col(Reminder.claimed_until).is_(None), col(Reminder.claimed_until) < now),
        )
    )
    if due is not None and due.tzinfo is None:  # in case an aggregate loses the column type
        due = due.replace(tzinfo=UTC)
    return due


def _due_now(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(Reminder.sent_at).is_(None),
        col(Reminder.cancelled_at).is_(None),
        col(Reminder.due_at) <= now,
        or_(col(Reminder.claimed_until).is_(None), col(Reminder.claimed_until) < now),
    )


async def send_due(
    db: Database,
    *,
    settings: Settings,
    now: datetime,
    worker_id: str,
    limit: int | None = None,
) -> int:
    """Send every reminder due by ``now``, a batch per transaction; return how many were sent.

    Each committed batch that queued mail wakes the outbox dispatcher (outbox.enqueue).
    """
    total = 0
    batch = limit or settings.reminder_batch_size
    while True:
        claimed, sent = await _send_batch(
            db, settings=settings, now=now, worker_id=worker_id, batch=batch
        )
        total += sent
        if claimed < batch:
            return total


async def _send_batch(
    db: Database, *, settings: Settings, now: datetime, worker_id: str, batch: int
) -> tuple[int, int]:
    due = _due_now(now)
    sent = 0
    async with db.write() as session:
        query = select(Reminder.id).where(due).order_by(col(Reminder.due_at)).limit(batch)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = (await session.scalars(query)).all()
        if not ids:
            return 0, 0
        lease = now + LEASE
        # One conditional UPDATE claims the batch: a row another replica took meanwhile no
        # longer matches ``due``.
        await session.execute(
            update(Reminder)
            .where(col(Reminder.id).in_(ids), due)
            .values(claimed_by=worker_id, claimed_until=lease)
        )
        claimed = (
            await session.scalars(
                select(Reminder)
                .where(
                    col(Reminder.id).in_(ids),
                    col(Reminder.claimed_by) == worker_id,
                    col(Reminder.claimed_until) == lease,
                )
                .order_by(col(Reminder.due_at))
            )
        ).all()
        parties, facts = await _prefetch(session, claimed)
        by_mail: list[reminder_mail.Due] = []
        for reminder in claimed:
            try:
                sent += await _send_one(
                    session, reminder, parties, facts, by_mail, settings=settings, now=now
                )
            except Exception as exc:  # one bad row must not hold up the others: retried later
                log_failure(log, exc, "reminder %s could not be sent", reminder.id)
        sent += await reminder_mail.queue_all(session, by_mail, settings=settings, now=now)
    return len(ids), sent


async def _prefetch(
    session: AsyncSession, claimed: Sequence[Reminder]
) -> tuple[dict[uuid.UUID, Party], dict[uuid.UUID, invitees.MeetingFacts]]:
    """Read the batch's parties and meetings (with their cases, mediators and invitations)
    in a handful of queries, not several per reminder. Read after the claim, inside its
    transaction, so they are as current."""
    party_ids = list({r.party_id for r in claimed})
    parties = await session.scalars(select(Party).where(col(Party.id).in_(party_ids)))
    meeting_ids = [r.meeting_id for r in claimed if r.meeting_id is not None]
    facts = await invitees.load_meetings(session, meeting_ids) if meeting_ids else {}
    return {party.id: party for party in parties.all()}, facts


async def _send_one(
    session: AsyncSession,
    reminder: Reminder,
    parties: dict[uuid.UUID, Party],
    batch_facts: dict[uuid.UUID, invitees.MeetingFacts],
    by_mail: list[reminder_mail.Due],
    *,
    settings: Settings,
    now: datetime,
) -> int:
    """Re-check the reminder against the world as it is now; queue it if it still holds.

    A reminder by mail alone joins ``by_mail``, queued with the batch; the rest (texts,
    poll chasers, agreed actions) are queued here, each in a savepoint of its own. Returns
    1 if queued here.
    """
    party = parties.get(reminder.party_id)
    if party is None or party.removed_at is not None or not reachable(party, settings):
        return _drop(reminder, now)
    if action_reminders.is_action_reminder(reminder):
        async with session.begin_nested():
            held = await action_reminders.send_action_reminder(
                session, reminder, party, settings=settings, now=now
            )
        return _mark_sent(reminder, now) if held else _drop(reminder, now)
    name, number = parse_kind(reminder.kind)
    if name == CHASE_POLL:
        async with session.begin_nested():
            return await _send_poll_chaser(
                session, reminder, party, number, settings=settings, now=now
            )
    due = _recheck(reminder, party, batch_facts, now=now)
    if due is None:
        return 0
    if due.by_mail_alone(settings):
        by_mail.append(due)
        return 0
    async with session.begin_nested():
        return await _send_texted(session, due, settings=settings, now=now)


def _recheck(
    reminder: Reminder,
    party: Party,
    batch_facts: dict[uuid.UUID, invitees.MeetingFacts],
    *,
    now: datetime,
) -> reminder_mail.Due | None:
    """The meeting reminder or chaser as it still holds; None once dropped or moved on."""
    name, number = parse_kind(reminder.kind)
    facts = batch_facts.get(reminder.meeting_id) if reminder.meeting_id else None
    if facts is None or facts.meeting.status is not MeetingStatus.scheduled:
        _drop(reminder, now)
        return None
    invitation = next((inv for p, inv in facts.parties if p.id == party.id), None)
    if invitation is None or invitation.partstat is PartStat.declined:
        _drop(reminder, now)
        return None
    meeting = facts.meeting
    if name == BEFORE:
        expected = meeting.start_at - timedelta(minutes=number)
        if expected != reminder.due_at:  # derived from an older version of the meeting
            reminder.due_at = expected
            reminder.claimed_by = reminder.claimed_until = None
            if expected > now:
                return None
        if meeting.start_at <= now:
            _drop(reminder, now)
            return None
        kind = "reminder"
    elif name == CHASE_INVITE:
        if invitation.partstat is not PartStat.needs_action or meeting.start_at <= now:
            _drop(reminder, now)
            return None
        kind = "chase_invite"
    else:
        _drop(reminder, now)
        return None
    return reminder_mail.Due(reminder, facts, party, invitation, kind, number)


async def _send_texted(
    session: AsyncSession, due: reminder_mail.Due, *, settings: Settings, now: datetime
) -> int:
    """A reminder for someone who is texted: the text (close to the day), and any mail."""
    reminder, party = due.reminder, due.party
    texted = due.kind == "reminder" and await meeting_texts.reminder_text(
        session,
        due.facts,
        party,
        due.invitation,
        reminder_id=reminder.id,
        minutes_before=due.minutes_before,
        settings=settings,
        now=now,
    )
    if not party.email:
        return _mark_sent(reminder, now) if texted else _drop(reminder, now)
    return await reminder_mail.queue_all(session, [due], settings=settings, now=now)


async def _send_poll_chaser(
    session: AsyncSession,
    reminder: Reminder,
    party: Party,
    number: int,
    *,
    settings: Settings,
    now: datetime,
) -> int:
    from orchestrator.scheduling import poll_deadline, poll_requests

    poll = await session.get(Poll, reminder.poll_id) if reminder.poll_id else None
    response = None
    if poll is not None:
        response = await session.scalar(
            select(PollResponse).where(
                col(PollResponse.poll_id) == poll.id, col(PollResponse.party_id) == party.id
            )
        )
    if (
        poll is None
        or response is None
        or response.answered_at is not None
        or poll.closed_at is not None
        or poll.window_end <= now
        or response.chase_count >= number
    ):
        return _drop(reminder, now)
    case = await session.get(Case, poll.case_id)
    assert case is not None
    await outgoing_mail.send_plain(
        session,
        kind="chase_poll",
        key=f"reminder:{reminder.id}",
        to_name=party.name,
        to_addr=party.email or "",
        context={
            "recipient_name": party.name,
            "meeting_label": invitees.MEETING_LABELS.get(case.kind, "mediation meeting"),
            "poll_url": await poll_requests.poll_link_url(session, poll, party, settings, now=now),
            "reply_by": poll_deadline.reply_by_words(
                poll,
                case=case,
                settings=settings,
                now=now,
                locale=languages.language(party.language).locale,
            ),
        },
        settings=settings,
        now=now,
        case_id=case.id,
        easy_read=party.easy_read,
        language=party.language,
    )
    response.chased_at = now
    response.chase_count = number
    return _mark_sent(reminder, now)


def _drop(reminder: Reminder, now: datetime) -> int:
    """Cancel the reminder (it no longer holds); nothing was queued."""
    reminder.cancelled_at = now
    reminder.claimed_by = reminder.claimed_until = None
    return 0


def _mark_sent(reminder: Reminder, now: datetime) -> int:
    reminder.sent_at = now
    reminder.claimed_by = reminder.claimed_until = None
    return 1
