"""Reminders and chasers: rows in the database, derived from the meeting, so each is sent once.

A meeting's reminder rows (``before:<minutes>`` per party, and ``chase_invite:<n>`` for
people who have not answered their invitation) are re-derived on every change: a
reschedule moves them, a cancellation or a removed party cancels them. Poll chasers
(``chase_poll:<n>``) are derived by the sweep from unanswered poll responses. Sending the
rows that fall due is ``reminder_sending``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core import bulk_insert
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
from orchestrator.messaging import invitees
from orchestrator.messaging.channels import reachable

BEFORE = "before"
CHASE_INVITE = "chase_invite"
CHASE_POLL = "chase_poll"
_NAMESPACE = uuid.UUID("6f1c6d1e-35a4-4d8e-9a57-2b0c9a1f4e11")

# Told (in the changing transaction) the earliest due time it produced, e.g. to wake sooner.
ChangeHook = Callable[[AsyncSession, datetime], None]


def reminder_id(*parts: object) -> uuid.UUID:
    """The same reminder always gets the same id, so racing derivations collide, not double."""
    return uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts))


async def case_offsets(session: AsyncSession, case: Case, settings: Settings) -> list[int]:
    """The case's offsets: its service's (unless the default service), else the settings'."""
    if case.service_id is not None:
        service = await session.get(Service, case.service_id)
        if service is not None and not service.is_default and service.reminder_offsets_minutes:
            return sorted(set(service.reminder_offsets_minutes), reverse=True)
    return sorted(set(settings.reminder_offsets_minutes), reverse=True)


def offsets_for(party: Party, case_default: list[int]) -> list[int]:
    """The party's own offsets, else the case's (``case_offsets``, looked up once)."""
    if party.reminder_offsets_minutes:
        return sorted(set(party.reminder_offsets_minutes), reverse=True)
    return case_default


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
    case_default = await case_offsets(session, facts.case, settings)
    for party, invitation in facts.parties:
        if not reachable(party, settings) or invitation.partstat is PartStat.declined:
            continue
        for offset in offsets_for(party, case_default):
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
    new: list[Reminder] = []
    live: list[Reminder] = []
    for item in wanted:
        key = (item.party_id, item.kind)
        keep.add(key)
        row = existing.get(key)
        if row is None:
            new.append(
                Reminder(
                    id=reminder_id("meeting", meeting_id, item.party_id, item.kind),
                    meeting_id=meeting_id,
                    party_id=item.party_id,
                    kind=item.kind,
                    due_at=item.due_at,
                )
            )
        else:
            _bring_in_line(row, item, moved=moved)
            live.append(row)
    live.extend(await _insert_all(session, new))
    for key, row in existing.items():
        if key not in keep and row.sent_at is None and row.cancelled_at is None:
            row.cancelled_at = now
    await session.flush()
    pending = [r.due_at for r in live if r.sent_at is None and r.cancelled_at is None]
    return min(pending, default=None)


def _bring_in_line(row: Reminder, item: Wanted, *, moved: bool) -> None:
    """An existing row takes the wanted time; a sent one is due again if the meeting moved."""
    if row.sent_at is None:
        # A chaser keeps its time unless the meeting moved (then the new invite restarts it).
        if not item.kind.startswith(CHASE_INVITE) or moved or row.cancelled_at is not None:
            row.due_at = item.due_at
        row.cancelled_at = None
    elif moved and row.due_at != item.due_at:
        row.sent_at = None  # a new time deserves the reminder again (new mail key)
        row.due_at = item.due_at
        row.cancelled_at = None
        row.claimed_by = row.claimed_until = None


async def _insert_all(session: AsyncSession, rows: list[Reminder]) -> list[Reminder]:
    """Insert the rows in one statement; a row a racing derivation inserted first is
    returned as that derivation wrote it (found by id, else by meeting, party and kind)."""
    inserted = await bulk_insert.insert_new(session, rows)
    taken = [row for row in rows if row.id not in inserted]
    if not taken:
        return rows
    found = {
        r.id: r
        for r in (
            await session.scalars(
                select(Reminder).where(col(Reminder.id).in_([row.id for row in taken]))
            )
        ).all()
    }
    result = [row for row in rows if row.id in inserted]
    for row in taken:
        same = found.get(row.id) or await session.scalar(
            select(Reminder).where(
                col(Reminder.meeting_id) == row.meeting_id,
                col(Reminder.party_id) == row.party_id,
                col(Reminder.kind) == row.kind,
            )
        )
        assert same is not None
        result.append(same)
    return result


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
    chasers = [
        Reminder(
            id=reminder_id("poll", poll.id, response.party_id, response.chase_count + 1),
            poll_id=poll.id,
            party_id=response.party_id,
            kind=f"{CHASE_POLL}:{response.chase_count + 1}",
            due_at=(response.chased_at or poll.created_at)
            + timedelta(hours=settings.poll_chase_after_hours),
        )
        for response, poll in rows.all()
    ]
    if not chasers:
        return 0
    made = await session.scalars(
        select(Reminder.id).where(col(Reminder.id).in_([row.id for row in chasers]))
    )
    already = set(made.all())
    fresh = [row for row in chasers if row.id not in already]
    await _insert_all(session, fresh)
    return len(fresh)


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
