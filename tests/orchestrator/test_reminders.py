"""Reminders and chasers: derived from the meeting, re-checked, sent once across replicas."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.core.db import Database, connect
from orchestrator.core.models import (
    Invitation,
    OutboxMessage,
    PartStat,
    Poll,
    PollResponse,
    Reminder,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import reminder_sending, reminders
from orchestrator.messaging.reminder_scheduler import ReminderScheduler
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    book,
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    text_of,
    with_method,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)  # ten days ahead
ZOE = "zoe.carter@family.example"


async def pending(db: Database, meeting_id: str | None = None) -> dict[tuple[str, str], datetime]:
    """Pending reminders as {(party email, kind): due}."""
    from orchestrator.core.models import Party

    async with db.read() as session:
        query = (
            select(Reminder, Party)
            .join(Party, col(Party.id) == col(Reminder.party_id))
            .where(col(Reminder.sent_at).is_(None), col(Reminder.cancelled_at).is_(None))
        )
        if meeting_id:
            query = query.where(col(Reminder.meeting_id) == uuid.UUID(meeting_id))
        rows = (await session.execute(query)).all()
    return {(party.email or "", row.kind): row.due_at for row, party in rows}


async def reminder_mail(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith("reminder:"))
        )
        return list(rows.all())


async def send_all(db: Database, settings: Settings, now: datetime, worker: str = "w1") -> int:
    return await reminder_sending.send_due(db, settings=settings, now=now, worker_id=worker)


async def three_meetings_sent_by(
    staff: Staff, settings: Settings, clock: MutableClock, *, workers: int, limit: int
) -> list[int]:
    """Book three meetings, then let ``workers`` replicas (two connection pools) send what
    is due an hour before, all at once, ``limit`` a batch; how many each sent."""
    for n in range(3):
        await book(staff, await make_case(staff, mediator_email=f"m{n}@service.example"), START)
    clock.set(START - timedelta(hours=1))
    pools = [connect(settings.database_url), connect(settings.database_url)]
    try:
        return list(
            await asyncio.gather(
                *(
                    reminder_sending.send_due(
                        pools[w % 2], settings=settings, now=clock(), worker_id=f"w{w}", limit=limit
                    )
                    for w in range(workers)
                )
            )
        )
    finally:
        for pool in pools:
            await pool.dispose()


async def test_booking_derives_reminders_and_chasers(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await book(staff, await make_case(staff), START)
    rows = await pending(client.app[DB], booked.meeting_id)
    assert rows[(ZOE, "before:10080")] == START - timedelta(days=7)
    assert rows[(ZOE, "before:2880")] == START - timedelta(days=2)
    assert rows[(ZOE, "before:120")] == START - timedelta(hours=2)
    assert rows[(ZOE, "chase_invite:1")] == NOW + timedelta(hours=72)
    # Four emailed parties, three reminders and one chaser each; the mediator has the feed.
    assert len(rows) == 16


async def test_a_reminder_already_past_at_booking_is_not_made(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    soon = NOW + timedelta(days=3)  # inside the family's notice, which they agreed to waive
    booked = await book(staff, await make_case(staff), soon, waiver="Family agreed to less notice")
    kinds = {kind for _, kind in await pending(client.app[DB], booked.meeting_id)}
    assert "before:10080" not in kinds and "before:2880" in kinds


async def test_reschedule_moves_and_cancel_removes(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await book(staff, await make_case(staff), START)
    moved = START + timedelta(days=5)
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={"start": moved.isoformat(), "duration_minutes": 120},
        expect=200,
    )
    rows = await pending(client.app[DB], booked.meeting_id)
    assert rows[(ZOE, "before:120")] == moved - timedelta(hours=2)
    await staff.call(
        "POST", f"/api/v1/meetings/{booked.meeting_id}/cancel", json={"reason": "x"}, expect=200
    )
    assert await pending(client.app[DB], booked.meeting_id) == {}


async def test_due_reminder_is_sent_once_with_the_current_links(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    await book(staff, await make_case(staff), START)
    db = client.app[DB]
    clock.set(START - timedelta(days=2))
    sent = await send_all(db, settings, clock())
    # The 7-day reminders, the 2-day reminders and the invite chasers are all due.
    assert sent == 12
    assert await send_all(db, settings, clock()) == 0
    await deliver_mail(client)
    messages = read_folder(settings.mail_dir)
    zoe = [m for m in mail_to(messages, ZOE) if str(m["Subject"]).startswith("Reminder:")]
    assert len(zoe) == 2
    invite = mail_to(with_method(messages, "REQUEST"), ZOE)[0]
    join = next(line for line in text_of(invite).splitlines() if "/j/" in line).strip()
    assert join in text_of(zoe[0])  # the same personal link as the invitation
    chasers = [m for m in mail_to(messages, ZOE) if str(m["Subject"]).startswith("Can you come")]
    assert len(chasers) == 1


async def test_reminders_are_rechecked_before_sending(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    booked = await book(staff, await make_case(staff), START)
    db = client.app[DB]
    zoe, bob = booked.party_ids[ZOE], booked.party_ids["bob.smith@council.example.gov.uk"]
    async with db.write() as session:
        # Zoë declines behind the scheduler's back (as if the event were lost).
        invitation = await session.scalar(
            select(Invitation).where(col(Invitation.party_id) == uuid.UUID(zoe))
        )
        assert invitation is not None
        invitation.partstat = PartStat.declined
    await staff.call("DELETE", f"/api/v1/cases/{booked.case_id}/parties/{bob}", expect=204)
    clock.set(START - timedelta(hours=1))
    await send_all(db, settings, clock())
    keys = {m.payload["to"][0] for m in await reminder_mail(db)}
    assert ZOE not in keys and "bob.smith@council.example.gov.uk" not in keys
    assert "head@school.example" in keys


async def test_two_replicas_send_each_reminder_once(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    counts = await three_meetings_sent_by(staff, settings, clock, workers=2, limit=5)
    rows = await reminder_mail(client.app[DB])
    # Three meetings x four parties x (three reminders + one chaser), each exactly once.
    assert sum(counts) == len(rows) == 48
    assert len({r.idempotency_key for r in rows}) == 48
    assert await pending(client.app[DB]) == {}


async def test_workers_claiming_whole_batches_at_once_never_double(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    # Each asks for every due reminder in one batch: all four see the same 48 rows due.
    counts = await three_meetings_sent_by(staff, settings, clock, workers=4, limit=100)
    rows = await reminder_mail(client.app[DB])
    assert sum(counts) == len(rows) == 48
    assert len({r.idempotency_key for r in rows}) == 48
    # Each of the four people: three meetings, three reminders and a chaser for each.
    assert sorted(Counter(r.payload["to"][0] for r in rows).values()) == [12, 12, 12, 12]
    assert await pending(client.app[DB]) == {}


async def test_the_scheduler_catches_up_after_a_restart(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    await book(staff, await make_case(staff), START)
    db = client.app[DB]
    clock.set(START - timedelta(days=2))  # the process was down while these fell due
    first = ReminderScheduler(db, settings, clock=clock)
    await first.start()
    await first.stop()  # crashed or stopped before anything ran
    assert len(await reminder_mail(db)) in (0, 12)
    again = ReminderScheduler(db, settings, clock=clock)
    await again.start()
    try:
        await wait_for(lambda: again.sent + first.sent >= 12)
    finally:
        await again.stop()
    assert len(await reminder_mail(db)) == 12


async def test_the_scheduler_wakes_when_the_next_reminder_is_due(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    await book(staff, await make_case(staff), START)
    db = client.app[DB]
    # App time runs with the wall clock from a second before the 2-hour reminders.
    base, began = START - timedelta(hours=2, seconds=1), time.monotonic()

    def running_clock() -> datetime:
        return base + timedelta(seconds=time.monotonic() - began)

    clock.set(base)
    async with db.write() as session:  # the earlier ones were sent long ago
        for row in (await session.scalars(select(Reminder))).all():
            if row.due_at < base:
                row.sent_at = base
    scheduler = ReminderScheduler(
        db, settings.model_copy(update={"reminder_sweep_seconds": 3600}), clock=running_clock
    )
    await scheduler.start()
    try:
        await wait_for(lambda: scheduler.sent >= 4)
    finally:
        await scheduler.stop()
    assert {m.payload["to"][0] for m in await reminder_mail(db)} >= {ZOE, "head@school.example"}


async def test_unanswered_polls_are_chased_until_answered(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    booked = await make_case(staff)
    db = client.app[DB]
    zoe, bob = booked.party_ids[ZOE], booked.party_ids["bob.smith@council.example.gov.uk"]
    async with db.write() as session:
        poll = Poll(
            case_id=uuid.UUID(booked.case_id),
            duration_minutes=120,
            window_start=NOW,
            window_end=NOW + timedelta(days=20),
            candidates=[],
            created_at=NOW,
        )
        session.add(poll)
        await session.flush()
        for party in (zoe, bob):
            session.add(PollResponse(poll_id=poll.id, party_id=uuid.UUID(party)))
    async with db.write() as session:
        assert await reminders.derive_poll_chasers(session, settings=settings, now=clock()) == 2
        assert await reminders.derive_poll_chasers(session, settings=settings, now=clock()) == 0
    async with db.write() as session:  # Bob answers
        response = await session.scalar(
            select(PollResponse).where(col(PollResponse.party_id) == uuid.UUID(bob))
        )
        assert response is not None
        response.answered_at = clock()
    clock.advance(hours=49)
    assert await send_all(db, settings, clock()) == 1
    await deliver_mail(client)
    chased = [m for m in read_folder(settings.mail_dir) if "when you are free" in str(m["Subject"])]
    assert [str(m["To"]) for m in chased] == ["Zoë Carter <zoe.carter@family.example>"]
    assert "http://testserver.local/p/" in text_of(chased[0])
    # The next chaser comes another 48 hours on; the second is the last.
    async with db.write() as session:
        assert await reminders.derive_poll_chasers(session, settings=settings, now=clock()) == 1
    clock.advance(hours=49)
    assert await send_all(db, settings, clock()) == 1
    async with db.write() as session:
        assert await reminders.derive_poll_chasers(session, settings=settings, now=clock()) == 0


async def test_a_party_can_have_their_own_reminder_times(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    people = [
        {"role": "parent", "name": "Zoë", "email": ZOE, "reminder_offsets_minutes": [1440, 30]}
    ]
    booked = await book(staff, await make_case(staff, people=people), START)
    kinds = {kind for _, kind in await pending(client.app[DB], booked.meeting_id)}
    assert kinds == {"before:1440", "before:30", "chase_invite:1"}


async def wait_for(condition: Callable[[], bool]) -> None:
    """Wait (up to a generous 20 s, not a speed check) until ``condition`` holds."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - polling a counter another task bumps
            await asyncio.sleep(0.05)
