"""Dependencies going away and coming back: the service says so, waits, and loses nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from orchestrator.core import health
from orchestrator.core.models import OutboxKind, OutboxMessage, OutboxStatus
from orchestrator.core.settings import Settings
from orchestrator.web import health_watch
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock
from tests.orchestrator.meetings_support import app_with, book, ready_case
from tests.scaleout.conftest import SmtpServer


async def metric(client: Any, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def emails(client: Any) -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.email)
        )
        return list(rows.all())


async def until(predicate: Any, clock: MutableClock, *, within: float = 30.0) -> bool:
    """Poll ``predicate`` (bounded), moving the app clock on so retries fall due."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        clock.advance(seconds=5)
        await asyncio.sleep(0.2)
    return False


async def test_mail_server_down_shows_degraded_then_catches_up_losing_nothing(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    smtp = SmtpServer()  # its port is reserved, but nothing listens yet: the server is down
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_timeout_s=2.0,
        run_background_jobs=True,
        outbox_poll_seconds=0.1,
        outbox_backoff_base_s=1.0,
        outbox_backoff_max_s=4.0,
        outbox_max_attempts=100,
        health_check_seconds=0.1,
        degraded_outbox_age_minutes=1.0,
    )
    ready = await ready_case(staff)
    await book(staff, ready.case_id)

    async def degraded() -> bool:
        return await metric(client, "orchestrator_degraded") == 1.0

    assert await until(degraded, clock)
    queued = await emails(client)
    assert queued and all(m.status is OutboxStatus.pending for m in queued)
    assert await metric(client, 'orchestrator_outbox_pending{kind="email"}') == len(queued)
    assert await metric(client, 'orchestrator_dependency_up{dependency="mail"}') == 0.0
    text = health.banner(health_watch.current(client.app), client.app[SETTINGS])
    assert text is not None and "emails are waiting to be sent" in text

    smtp.start()
    try:

        async def drained() -> bool:
            rows = await emails(client)
            return all(m.status is OutboxStatus.sent for m in rows)

        assert await until(drained, clock)

        async def recovered() -> bool:
            return await metric(client, "orchestrator_degraded") == 0.0

        assert await until(recovered, clock)
        assert await metric(client, 'orchestrator_dependency_up{dependency="mail"}') == 1.0
        counts = smtp.sink.counts()
        assert len(counts) == len(queued), "every queued email arrived"
        assert max(counts.values()) == 1, "none twice"
    finally:
        smtp.stop()


async def test_banner_words_say_what_is_wrong() -> None:
    late = health.Health(oldest_wait_s={"email": 900.0, "webhook": 30.0})
    assert health.reasons(late, stale_after=timedelta(minutes=10)) == [
        "emails are waiting to be sent (the oldest for 15 minutes)"
    ]
    down = health.Health(database_up=False)
    assert health.reasons(down, stale_after=timedelta(minutes=10)) == [
        "the database cannot be reached, so changes cannot be saved"
    ]
    assert health.reasons(health.Health(), stale_after=timedelta(minutes=10)) == []
