"""The join click's group commit: every click committed before its 303, on both databases.

SQLite writes click batches on the event loop thread on a connection that never waits for
the write lock; PostgreSQL writes them as one COPY on connections the recorder keeps. These
tests hold the lock, kill the kept connection and fail a batch, and look at what a party
clicking "Join" would see and what the attendance record keeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from orchestrator.meeting.clicks import ClickRecorder, PostgresCopyWriter
from orchestrator.web.keys import DB, JOIN_CLICKS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import START, events, get
from tests.orchestrator.test_join_click_path import booked, click


async def test_a_burst_of_clicks_is_all_recorded_before_the_answers(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START - timedelta(minutes=5))
    party_links = [found[party_id] for party_id in ready.parties.values()]
    answers = await asyncio.gather(
        *(click(client, party_links[n % len(party_links)]) for n in range(60))
    )
    assert [status for status, _ in answers] == [303] * 60
    assert len(await events(client, meeting["id"])) == 60


async def test_a_click_waits_for_another_writer_without_holding_up_the_service(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    db = client.app[DB]
    if not db.is_sqlite:
        pytest.skip("applies to SQLite only: its single write lock")
    ready, meeting, found = await booked(client, staff)
    clock.set(START - timedelta(minutes=5))
    other = sqlite3.connect(str(make_url(db.url).database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        pending = asyncio.create_task(click(client, found[ready.parties["parent"]]))
        await asyncio.sleep(0.2)
        assert not pending.done()  # not answered before its row is written
        status, _, _ = await get(client, "/healthz")  # the server is not blocked meanwhile
        assert status == 200
    finally:
        other.execute("COMMIT")
        other.close()
    status, location = await asyncio.wait_for(pending, timeout=10)
    assert status == 303 and location
    assert len(await events(client, meeting["id"])) == 1


async def test_a_kept_connection_lost_to_a_database_restart_is_replaced(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    db = client.app[DB]
    if db.is_sqlite:
        pytest.skip("applies to PostgreSQL only: the kept COPY connections")
    ready, meeting, found = await booked(client, staff)
    clock.set(START - timedelta(minutes=5))
    parent = found[ready.parties["parent"]]
    assert (await click(client, parent))[0] == 303
    writer = client.app[JOIN_CLICKS]._write
    assert isinstance(writer, PostgresCopyWriter)
    server_pids = [driver.get_server_pid() for _connection, driver in writer._kept]
    assert server_pids
    async with db.writer_engine.connect() as admin:
        for pid in server_pids:  # what a database restart does to them
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.2)
    assert (await click(client, parent))[0] == 303
    assert len(await events(client, meeting["id"])) == 2


class FlakyWriter:
    """A writer whose first batch fails, as a full disk or a lost connection would."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, object]]] = []
        self.release = asyncio.Event()

    async def __call__(self, rows: list[dict[str, object]]) -> None:
        await self.release.wait()
        if not self.batches:
            self.batches.append([])
            raise OSError("disk I/O error")
        self.batches.append(rows)

    async def close(self) -> None:
        return None


async def test_a_failed_batch_fails_every_click_in_it_and_keeps_none() -> None:
    writer = FlakyWriter()
    recorder = ClickRecorder(writer)  # type: ignore[arg-type]
    first = [asyncio.create_task(recorder.record({"n": n})) for n in range(3)]
    await asyncio.sleep(0)
    later = [asyncio.create_task(recorder.record({"n": n})) for n in range(3, 5)]
    writer.release.set()
    outcomes = await asyncio.gather(*first, *later, return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, OSError)]
    assert failed and all(isinstance(o, OSError) for o in outcomes[: len(failed)])
    assert all(o is None for o in outcomes[len(failed) :])
    kept = [row["n"] for batch in writer.batches for row in batch]
    assert kept == list(range(len(failed), 5))  # the failed clicks were not written
    await recorder.close()
