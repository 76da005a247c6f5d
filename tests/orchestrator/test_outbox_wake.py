"""Queued mail wakes the running dispatchers when, and only when, its transaction commits."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.db import Database
from orchestrator.core.models import OutboxKind
from orchestrator.messaging import outbox


class CountingDispatcher:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


async def queue(session: AsyncSession, n: int) -> None:
    await outbox.enqueue(
        session,
        kind=OutboxKind.webhook,
        payload={"n": n},
        idempotency_key=f"wake-test-{n}",
        now=datetime.now(UTC),
    )


async def test_a_savepoint_inside_does_not_wake_early_and_the_commit_does(db: Database) -> None:
    dispatcher = CountingDispatcher()
    outbox._RUNNING.add(dispatcher)  # type: ignore[arg-type]
    try:
        async with db.write() as session:
            await queue(session, 1)
            async with session.begin_nested():  # e.g. a reminder row inserted after the mail
                pass
            with contextlib.suppress(RuntimeError):
                async with session.begin_nested():
                    raise RuntimeError("a savepoint rolled back")
            assert dispatcher.wakes == 0  # nothing committed: a pass would find nothing
        assert dispatcher.wakes == 1
        async with db.write() as session:
            await queue(session, 2)
            await session.rollback()
        assert dispatcher.wakes == 1  # rolled back: nothing to send
    finally:
        outbox._RUNNING.discard(dispatcher)
