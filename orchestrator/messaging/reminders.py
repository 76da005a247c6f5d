"""Reminders and chasers: rows in the database, derived from the meeting, sent exactly once.

A meeting's reminder rows (``before:<minutes>`` per party, and ``chase_invite:<n>`` for
people who have not answered their invitation) are re-derived on every change: a
reschedule moves them, a cancellation or a removed party cancels them. Poll chasers
(``chase_poll:<n>``) are derived by the sweep from unanswered poll responses.

``send_due`` claims due rows with a conditional UPDATE that only one replica can win
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), re-checks each one
against the current meeting and party, queues its mail in the outbox and marks it sent,
all in one transaction: a crash rolls everything back, so nothing is lost or doubled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.db import Database, log_failure
from orchestrator.core.events import (
    EventBus,
    EventContext,
    MeetingBooked,
    MeetingCancelled,
    MeetingRescheduled,
    PartyAdded,
    PartyRemoved,
    PartyReplied,
)
from orchestrator.core.models import (
    Case,
    MeetingStatus,
    PartStat,
    Party,
    Poll,
    PollResponse,
    Reminder,
    Service,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import invite_content, invitees, outgoing_mail

log = logging.getLogger(__name__)

BEFORE = "before"
CHASE_INVITE = "chase_invite"
CHASE_POLL = "chase_poll"
LEASE = timedelta(minutes=5)
_NAMESPACE = uuid.UUID("6f1c6d1e-35a4-4d8e-9a57-2b0c9a1f4e11")

# Told (in the changing transaction) the earliest due time it produced, e.g. to wake sooner.
ChangeHook = Callable[[AsyncSession, datetime], None]


def reminder_id(*parts: object) -> uuid.UUID:
    """The same reminder always gets the same id, so racing derivations collide, not double."""
    return uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts))


def parse_kind(kind: str) -> tuple[str, int]:
    name, _, number = kind.partition(":")
    return name, int(number or 0)


async def offsets_for(
    session: AsyncSession, party: Party, case: Case, settings: Settings
) -> list[int]:
    """The party's own offsets, else their service's (unless the default), else settings."""
    if party.reminder_offsets_minutes:
        return sorted(set(party.reminder_offsets_minutes), reverse=True)
    if case.service_id is not None:
        service = await session.get(Service, case.service_id)
        if service is not None and not service.is_default and service.reminder_offsets_minutes:
            return sorted(set(service.reminder_offsets_minutes), reverse=True)
    return sorted(set(settings.reminder_offsets_minutes), reverse=True)


# ---------------------------------------------------------------------------- derivation


@dataclass(frozen=True)
class Wanted:
    party_id: uuid.UUID
    kind: str
    due_at: datetime


async def wanted_for_meeting(
    session: AsyncSession,
    facts: invitees.MeetingFacts,
    settings: Settings,
    *,
    now: datetime,
    invited_at: datetime,
) -> list[Wanted]:
    """The reminders this meeting should have now, for the people still invited."""
    meeting = facts.meeting
    wanted: list[Wanted] = []
    for party, invitation in facts.parties:
        if not party.email or invitation.partstat is PartStat.declined:
            continue
        for offset in await offsets_for(session, party, facts.case, settings):
            due = meeting.start_at - timedelta(minutes=offset)
            if due > now:
                wanted.append(Wanted(party.id, f"{BEFORE}:{offset}", due))
        if invitation.partstat is PartStat.needs_action:
            for n in range(1, settings.invite_chase_max + 1):
                due = invited_at + timedelta(hours=settings.invite_chase_after_hours * n)
                # Close to the day, the reminders do the chasing.
                if due < meeting.start_at - timedelta(days=1):
                    wanted.append(Wanted(party.id, f"{CHASE_INVITE}:{n}", due))
    return wanted


async def derive_for_meeting(
    session: AsyncSession,
    *,
    meeting_id: uuid.UUID,
    settings: Settings,
    now: datetime,
    moved: bool = False,
) -> datetime | None:
    """Bring the meeting's reminder rows in line with it; return the earliest pending due time."""
    facts = await invitees.load_meeting(session, meeting_id)
    existing = {
        (row.party_id, row.kind): row
        for row in (
            await session.scalars(select(Reminder).where(col(Reminder.meeting_id) == meeting_id))
        ).all()
    }
    wanted: list[Wanted] = []
    if facts is not None and facts.meeting.status is MeetingStatus.scheduled:
        wanted = await wanted_for_meeting(session, facts, settings, now=now, invited_at=now)
    keep: set[tuple[uuid.UUID, str]] = set()
    earliest: datetime | None = None
    for item in wanted:
        key = (item.party_id, item.kind)
        keep.add(key)
        row = existing.get(key)
        is_chase = item.kind.startswith(CHASE_INVITE)
        if row is None:
            row = await _insert(
                session,
                Reminder(
                    id=reminder_id("meeting", meeting_id, item.party_id, item.kind),
                    meeting_id=meeting_id,
                    party_id=item.party_id,
                    kind=item.kind,
                    due_at=item.due_at,
                ),
            )
        elif row.sent_at is None:
            # A chaser keeps its time unless the meeting moved (then the new invite restarts it).
            if not is_chase or moved or row.cancelled_at is not None:
                row.due_at = item.due_at
            row.cancelled_at = None
        elif moved and row.due_at != item.due_at:
            row.sent_at = None  # a new time deserves the reminder again (new mail key)
            row.due_at = item.due_at
            row.cancelled_at = None
            row.claimed_by = row.claimed_until = None
        if row.sent_at is None and row.cancelled_at is None:
            earliest = row.due_at if earliest is None else min(earliest, row.due_at)
    for key, row in existing.items():
        if key not in keep and row.sent_at is None and row.cancelled_at is None:
            row.cancelled_at = now
    await session.flush()
    return earliest


async def _insert(session: AsyncSession, row: Reminder) -> Reminder:
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = await session.get(Reminder, row.id)
        if found is None:
            found = await session.scalar(
                select(Reminder).where(
                    col(Reminder.meeting_id) == row.meeting_id,
                    col(Reminder.party_id) == row.party_id,
                    col(Reminder.kind) == row.kind,
                )
            )
        assert found is not None
        return found
    return row


async def derive_for_party(
    session: AsyncSession, *, party_id: uuid.UUID, settings: Settings, now: datetime
) -> datetime | None:
    """Re-derive every live meeting of the party's case (added, removed, answered)."""
    party = await session.get(Party, party_id)
    if party is None:
        return None
    earliest: datetime | None = None
    for meeting in await invitees.live_meetings(session, party.case_id, now):
        due = await derive_for_meeting(session, meeting_id=meeting.id, settings=settings, now=now)
        if due is not None:
            earliest = due if earliest is None else min(earliest, due)
    return earliest


async def derive_poll_chasers(session: AsyncSession, *, settings: Settings, now: datetime) -> int:
    """Make the next chaser row for each unanswered response of an open poll."""
    if settings.poll_chase_max <= 0:
        return 0
    rows = await session.execute(
        select(PollResponse, Poll)
        .join(Poll, col(Poll.id) == col(PollResponse.poll_id))
        .join(Party, col(Party.id) == col(PollResponse.party_id))
        .where(
            col(PollResponse.answered_at).is_(None),
            col(Poll.closed_at).is_(None),
            col(Poll.window_end) > now,
            col(Party.removed_at).is_(None),
            col(Party.email).is_not(None),
            col(PollResponse.chase_count) < settings.poll_chase_max,
        )
    )
    made = 0
    for response, poll in rows.all():
        n = response.chase_count + 1
        rid = reminder_id("poll", poll.id, response.party_id, n)
        if await session.get(Reminder, rid) is not None:
            continue
        since = response.chased_at or poll.created_at
        await _insert(
            session,
            Reminder(
                id=rid,
                poll_id=poll.id,
                party_id=response.party_id,
                kind=f"{CHASE_POLL}:{n}",
                due_at=since + timedelta(hours=settings.poll_chase_after_hours),
            ),
        )
        made += 1
    return made


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


# ---------------------------------------------------------------------------- sending


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
        for reminder in claimed:
            try:
                async with session.begin_nested():
                    if await _send_one(session, reminder, settings=settings, now=now):
                        sent += 1
            except Exception as exc:  # one bad row must not hold up the others: retried later
                log_failure(log, exc, "reminder %s could not be sent", reminder.id)
    return len(ids), sent


async def _send_one(
    session: AsyncSession, reminder: Reminder, *, settings: Settings, now: datetime
) -> bool:
    """Re-check the reminder against the world as it is now; queue its mail if it still holds."""
    name, number = parse_kind(reminder.kind)
    party = await session.get(Party, reminder.party_id)
    if party is None or party.removed_at is not None or not party.email:
        return _drop(reminder, now)
    if name == CHASE_POLL:
        return await _send_poll_chaser(session, reminder, party, number, settings=settings, now=now)
    if reminder.meeting_id is None:
        return _drop(reminder, now)
    facts = await invitees.load_meeting(session, reminder.meeting_id)
    if facts is None or facts.meeting.status is not MeetingStatus.scheduled:
        return _drop(reminder, now)
    invitation = next((inv for p, inv in facts.parties if p.id == party.id), None)
    if invitation is None or invitation.partstat is PartStat.declined:
        return _drop(reminder, now)
    meeting = facts.meeting
    recipient = invitees.party_recipient(party, invitation)
    if name == BEFORE:
        expected = meeting.start_at - timedelta(minutes=number)
        if expected != reminder.due_at:  # derived from an older version of the meeting
            reminder.due_at = expected
            reminder.claimed_by = reminder.claimed_until = None
            if expected > now:
                return False
        if meeting.start_at <= now:
            return _drop(reminder, now)
        kind = "reminder"
    elif name == CHASE_INVITE:
        if invitation.partstat is not PartStat.needs_action or meeting.start_at <= now:
            return _drop(reminder, now)
        kind = "chase_invite"
    else:
        return _drop(reminder, now)
    _spec, context = await invite_content.invite_context(
        session, facts, recipient, settings, now=now
    )
    await outgoing_mail.send_plain(
        session,
        kind=kind,
        key=f"reminder:{reminder.id}:{meeting.sequence}",
        to_name=party.name,
        to_addr=party.email,
        context=context,
        settings=settings,
        now=now,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        easy_read=party.easy_read,
        language=party.language,
    )
    return _mark_sent(reminder, now)


async def _send_poll_chaser(
    session: AsyncSession,
    reminder: Reminder,
    party: Party,
    number: int,
    *,
    settings: Settings,
    now: datetime,
) -> bool:
    from orchestrator.scheduling import polls

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
            "poll_url": await polls.poll_link_url(session, poll, party, settings, now=now),
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


def _drop(reminder: Reminder, now: datetime) -> bool:
    reminder.cancelled_at = now
    reminder.claimed_by = reminder.claimed_until = None
    return False


def _mark_sent(reminder: Reminder, now: datetime) -> bool:
    reminder.sent_at = now
    reminder.claimed_by = reminder.claimed_until = None
    return True


# ---------------------------------------------------------------------------- subscriptions


def install(bus: EventBus, *, on_change: ChangeHook | None = None) -> None:
    """Re-derive reminders on every change of a meeting or its people."""

    def tell(session: AsyncSession, due: datetime | None) -> None:
        if on_change is not None and due is not None:
            on_change(session, due)

    async def on_meeting(
        session: AsyncSession,
        event: MeetingBooked | MeetingRescheduled | MeetingCancelled,
        ctx: EventContext,
    ) -> None:
        moved = isinstance(event, MeetingRescheduled)
        meeting_id = event.meeting_id
        tell(
            session,
            await derive_for_meeting(
                session, meeting_id=meeting_id, settings=ctx.settings, now=ctx.now, moved=moved
            ),
        )

    async def on_party(
        session: AsyncSession, event: PartyAdded | PartyRemoved | PartyReplied, ctx: EventContext
    ) -> None:
        party_id = event.party_id
        meeting_id = event.meeting_id if isinstance(event, PartyReplied) else None
        if meeting_id is not None:
            due = await derive_for_meeting(
                session, meeting_id=meeting_id, settings=ctx.settings, now=ctx.now
            )
        else:
            due = await derive_for_party(
                session, party_id=party_id, settings=ctx.settings, now=ctx.now
            )
        tell(session, due)

    for meeting_event in (MeetingBooked, MeetingRescheduled, MeetingCancelled):
        bus.subscribe(meeting_event, on_meeting)
    for party_event in (PartyAdded, PartyRemoved, PartyReplied):
        bus.subscribe(party_event, on_party)
