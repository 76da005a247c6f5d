"""What the database layer keeps out of logs, and how fast it gives up on a silent server."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from orchestrator.core.db import Database, DatabaseUnavailable, connect, is_unavailable, log_failure
from orchestrator.core.models import ParticipantStatus
from orchestrator.core.settings import Settings
from orchestrator.meeting.attendance import EVENT_TABLE, event_row
from orchestrator.messaging.reminder_scheduler import ReminderScheduler

SECRET_NOTE = "Amelia Hart (aged 9) is autistic and must not be named in logs"


async def test_a_failed_statement_never_shows_its_values(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected database error is logged; the names and notes it carried are not."""
    row = event_row(
        meeting_id=uuid.uuid4(),  # no such meeting: the foreign key refuses the row
        status=ParticipantStatus.joining,
        source="mediator",
        at=datetime.now(UTC),
        note=SECRET_NOTE,
    )
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    db.writer_engine.echo = True  # as a DEBUG session would: every statement is logged
    try:
        with pytest.raises(IntegrityError) as raised:
            async with db.writer_engine.begin() as connection:
                await connection.execute(insert(EVENT_TABLE), [row])
    finally:
        db.writer_engine.echo = False
    assert "participant_event" in str(raised.value)  # the error still says what failed
    assert "INSERT INTO participant_event" in caplog.text  # and the statement was logged
    assert "Amelia" not in str(raised.value)
    assert "Amelia" not in caplog.text


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A loopback server that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_database_that_never_answers_is_unavailable_within_the_timeout(
    silent_server: int,
) -> None:
    db = connect(
        f"postgresql+asyncpg://orchestrator@127.0.0.1:{silent_server}/orchestrator",
        connect_timeout_s=0.5,
    )
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            async with db.read() as session:
                await session.connection()
    finally:
        await db.dispose()
    assert is_unavailable(raised.value)  # so a request answers 503 with Retry-After
    assert time.monotonic() - started < 5


async def test_a_sweep_during_an_outage_logs_one_line_and_a_bug_logs_its_trace(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A database restart is expected: each sweep says so in a line, not a stack trace."""
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = connect(f"postgresql+asyncpg://orchestrator@127.0.0.1:{port}/orchestrator")
    sweeps = ReminderScheduler(down, settings, clock=lambda: datetime.now(UTC))
    caplog.set_level(logging.WARNING, logger="orchestrator")
    try:
        for _ in range(3):
            await sweeps.sweep()
    finally:
        await down.dispose()
    lines = [r for r in caplog.records if r.name == "orchestrator.messaging.reminder_scheduler"]
    assert len(lines) == 3
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert "unreachable" in lines[0].getMessage()

    caplog.clear()
    try:
        raise ValueError("a bug")
    except ValueError as exc:
        log_failure(
            logging.getLogger("orchestrator.messaging.reminder_scheduler"),
            exc,
            "reminder sweep failed",
        )
    (bug,) = caplog.records
    assert bug.levelno == logging.ERROR and bug.exc_info is not None
