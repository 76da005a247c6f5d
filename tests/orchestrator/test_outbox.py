"""The outbox on both databases: queued in the caller's transaction, delivered once, retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from integrations.errors import ProviderRejected, ProviderUnavailable
from integrations.mail_file import FileMailBackend
from orchestrator.core.db import Database
from orchestrator.core.models import OutboxKind, OutboxMessage, OutboxStatus
from orchestrator.messaging.outbox import (
    DeliveryPolicy,
    Dispatcher,
    email_payload,
    enqueue,
    mail_handler,
)
from tests.conftest import MutableClock


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "mediation@service.example"
    msg["To"] = f"party{n}@family.example"
    msg["Subject"] = f"Your mediation meeting {n} – café"
    msg.set_content("Hello – the meeting is on Tuesday.")
    return msg


async def queue(db: Database, clock: MutableClock, n: int, key: str | None = None) -> None:
    async with db.write() as session:
        await enqueue(
            session,
            kind=OutboxKind.email,
            idempotency_key=key or f"mail-{n}",
            payload=email_payload(message(n), to=[f"party{n}@family.example"]),
            now=clock(),
        )


async def statuses(db: Database) -> list[OutboxStatus]:
    async with db.read() as session:
        return list(
            (
                await session.scalars(
                    select(col(OutboxMessage.status)).order_by(col(OutboxMessage.idempotency_key))
                )
            ).all()
        )


async def test_enqueue_is_part_of_the_callers_transaction(
    db: Database, clock: MutableClock
) -> None:
    with pytest.raises(RuntimeError):
        async with db.write() as session:
            await enqueue(
                session, kind=OutboxKind.email, idempotency_key="k", payload={}, now=clock()
            )
            raise RuntimeError("the change failed")
    assert await statuses(db) == []
    await queue(db, clock, 1, key="same")
    await queue(db, clock, 2, key="same")  # same key: one message
    assert await statuses(db) == [OutboxStatus.pending]


async def test_file_backend_delivers_each_message_once(
    db: Database, clock: MutableClock, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    for n in range(5):
        await queue(db, clock, n)
    dispatcher = Dispatcher(
        db, {OutboxKind.email: mail_handler(FileMailBackend(folder))}, clock=clock
    )
    assert await dispatcher.run_once() == 5
    assert await dispatcher.run_once() == 0
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"mail-{n}.eml" for n in range(5)]
    text = (folder / "mail-3.eml").read_bytes()
    assert b"party3@family.example" in text
    assert await statuses(db) == [OutboxStatus.sent] * 5


async def test_delivery_sends_the_stored_bytes_and_records_each_outcome(
    db: Database, clock: MutableClock, tmp_path: Path
) -> None:
    """What was rendered in the booking's transaction is what leaves, byte for byte; a
    batch with sent and refused rows records each row's own outcome."""
    for n in range(4):
        await queue(db, clock, n)
    async with db.read() as session:
        stored = {
            row.idempotency_key: row.payload["raw"].encode("utf-8", "surrogateescape")
            for row in (await session.scalars(select(OutboxMessage))).all()
        }
    files = FileMailBackend(tmp_path / "mail")

    async def refuse_odd(row: OutboxMessage) -> int | None:
        if row.idempotency_key in ("mail-1", "mail-3"):
            raise ProviderRejected("550 mailbox unavailable", provider="smtp")
        return await mail_handler(files)(row)

    dispatcher = Dispatcher(db, {OutboxKind.email: refuse_odd}, clock=clock)
    assert await dispatcher.run_once() == 4
    for key in ("mail-0", "mail-2"):
        assert (tmp_path / "mail" / f"{key}.eml").read_bytes() == stored[key]
    assert await statuses(db) == [
        OutboxStatus.sent,
        OutboxStatus.failed,
        OutboxStatus.sent,
        OutboxStatus.failed,
    ]


async def test_two_dispatchers_never_both_deliver(db: Database, clock: MutableClock) -> None:
    for n in range(30):
        await queue(db, clock, n)
    delivered: list[str] = []

    async def slow_send(msg: OutboxMessage) -> None:
        await asyncio.sleep(0.001)
        delivered.append(msg.idempotency_key)

    a = Dispatcher(
        db, {OutboxKind.email: slow_send}, clock=clock, policy=DeliveryPolicy(batch_size=4)
    )
    b = Dispatcher(
        db, {OutboxKind.email: slow_send}, clock=clock, policy=DeliveryPolicy(batch_size=4)
    )
    await asyncio.gather(a.run_once(), b.run_once())
    assert sorted(delivered) == sorted(f"mail-{n}" for n in range(30))


async def test_unavailable_is_retried_with_backoff_then_delivered(
    db: Database, clock: MutableClock
) -> None:
    await queue(db, clock, 1)
    outage = {"on": True}
    sent: list[str] = []

    async def flaky(msg: OutboxMessage) -> None:
        if outage["on"]:
            raise ProviderUnavailable("connection refused")
        sent.append(msg.idempotency_key)

    dispatcher = Dispatcher(db, {OutboxKind.email: flaky}, clock=clock)
    await dispatcher.run_once()
    async with db.read() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
    assert row.status is OutboxStatus.pending and row.attempts == 1
    assert "connection refused" in (row.last_error or "")
    assert row.next_attempt_at > clock()
    assert await dispatcher.run_once() == 0  # not due yet: no hammering a server that is down
    outage["on"] = False
    clock.advance(hours=2)
    await dispatcher.run_once()
    assert sent == ["mail-1"]
    assert await statuses(db) == [OutboxStatus.sent]


async def test_permanent_refusal_stops_and_is_visible(db: Database, clock: MutableClock) -> None:
    await queue(db, clock, 1)

    async def refuse(msg: OutboxMessage) -> None:
        raise ProviderRejected("550 mailbox unknown")

    await Dispatcher(db, {OutboxKind.email: refuse}, clock=clock).run_once()
    assert await statuses(db) == [OutboxStatus.failed]


async def test_retries_give_up_after_the_limit(db: Database, clock: MutableClock) -> None:
    await queue(db, clock, 1)

    async def down(msg: OutboxMessage) -> None:
        raise ProviderUnavailable("timeout")

    dispatcher = Dispatcher(
        db, {OutboxKind.email: down}, clock=clock, policy=DeliveryPolicy(max_attempts=3)
    )
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(days=1)
    assert await statuses(db) == [OutboxStatus.dead]


async def test_a_crashed_worker_lease_expires_and_another_delivers(
    db: Database, clock: MutableClock
) -> None:
    await queue(db, clock, 1)
    crashed = Dispatcher(db, {OutboxKind.email: lambda m: asyncio.sleep(0)}, clock=clock)
    claimed = await crashed.claim()  # claims, then "dies" before delivering
    assert len(claimed) == 1
    sent: list[str] = []

    async def send(msg: OutboxMessage) -> None:
        sent.append(msg.idempotency_key)

    survivor = Dispatcher(db, {OutboxKind.email: send}, clock=clock)
    assert await survivor.run_once() == 0  # still leased
    clock.advance(seconds=DeliveryPolicy().lease_s + 1)
    assert await survivor.run_once() == 1
    assert sent == ["mail-1"]


def test_backoff_grows_and_is_capped() -> None:
    policy = DeliveryPolicy(backoff_base_s=5, backoff_max_s=60)
    assert policy.backoff(1) <= timedelta(seconds=5)
    assert timedelta(seconds=20) <= policy.backoff(4) <= timedelta(seconds=40)
    assert policy.backoff(20) <= timedelta(seconds=60)
