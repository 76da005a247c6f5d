"""Durable group commit for join clicks: each click waits until its row is committed.

The join click (``/j/{token}/video``) answers 303 only after its ``ParticipantEvent`` row is
committed. Committing each click on its own would make the busiest path of the service
queue for the write lock; instead clicks arriving while a transaction is being written
queue for the next one, so under load one commit carries many clicks. ``record`` returns
only after the commit that holds its row; if that commit fails, every click in it gets
the error. Nothing is lost or answered early.

Throughput is then *batch size ÷ commit time*, so the commit is kept short:

* **SQLite** is in-process and, in WAL mode with ``synchronous=NORMAL``, a commit is an
  append to the WAL without an fsync: a batch of clicks takes a fraction of a millisecond.
  Handing it to a worker thread (``aiosqlite``) costs far more: every statement is a hop to
  the thread and back, and the two threads then take turns at the GIL while the event
  loop is busy serving HTTP. So the batch is written *on the event loop thread*, on a
  connection of its own that never waits for the write lock (``busy_timeout=0``): when
  another writer holds it, the batch yields and tries again a moment later. That
  connection does not checkpoint on commit (a checkpoint writes and syncs the database
  file); a PASSIVE checkpoint runs in a worker thread every ``CHECKPOINT_EVERY_ROWS``.
* **PostgreSQL** takes a batch as one ``COPY`` (asyncpg's binary ``copy_records_to_table``)
  on a pooled connection: one round trip and the server's cheapest way in, instead of a
  statement per row. COPY is atomic on its own. Up to ``POSTGRES_WRITERS`` batches are in
  flight at once.

See docs/decisions/008-join-click-path.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestrator.core.db import Database
from orchestrator.meeting.attendance import EVENT_TABLE

Row = dict[str, object]

POSTGRES_WRITERS = 2
CHECKPOINT_EVERY_ROWS = 5_000
_LOCK_WAITS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)  # then 0.05 s each time


class _Records:
    """Click rows as tuples in ``columns`` order, converted as SQLAlchemy would for ``dialect``.

    The writers below hand rows to the driver directly; SQLAlchemy's own bind processors
    keep the stored form identical to what the ORM writes (UUIDs, enum names, UTC times).
    """

    def __init__(self, dialect: Dialect, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._convert = [EVENT_TABLE.c[name].type.bind_processor(dialect) for name in columns]

    def __call__(self, rows: list[Row]) -> list[tuple[Any, ...]]:
        pairs = list(zip(self.columns, self._convert, strict=True))
        return [
            tuple(convert(row.get(name)) if convert else row.get(name) for name, convert in pairs)
            for row in rows
        ]


class SqliteLoopWriter:
    """Write a batch on the event loop thread, on a connection that never waits for a lock."""

    def __init__(self, path: str) -> None:
        dialect = sqlite.dialect(paramstyle="qmark")
        compiled = insert(EVENT_TABLE).compile(dialect=dialect)
        self._sql = str(compiled)
        self._records = _Records(dialect, compiled.positiontup or ())
        self._path = path
        self._connection = self._connect(path)
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None

    @staticmethod
    def _connect(path: str) -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=0",
            "wal_autocheckpoint=0",
        ):
            connection.execute(f"PRAGMA {pragma}")
        return connection

    async def __call__(self, rows: list[Row]) -> None:
        params = self._records(rows)
        attempt = 0
        while not self._try_write(params):
            await asyncio.sleep(_LOCK_WAITS[min(attempt, len(_LOCK_WAITS) - 1)])
            attempt += 1
        self._since_checkpoint += len(rows)
        if self._since_checkpoint >= CHECKPOINT_EVERY_ROWS and self._checkpoint is None:
            self._since_checkpoint = 0
            self._checkpoint = asyncio.create_task(self._checkpoint_off_loop())

    def _try_write(self, params: list[tuple[Any, ...]]) -> bool:
        """BEGIN IMMEDIATE, INSERT, COMMIT; False (nothing written) if another writer is in."""
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                return False
            raise
        try:
            self._connection.executemany(self._sql, params)
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        return True

    async def _checkpoint_off_loop(self) -> None:
        try:
            await asyncio.to_thread(self._run_checkpoint)
        finally:
            self._checkpoint = None

    def _run_checkpoint(self) -> None:
        connection = sqlite3.connect(self._path, timeout=0)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    async def close(self) -> None:
        if self._checkpoint is not None:
            await self._checkpoint
        self._connection.close()


class PostgresCopyWriter:
    """Write a batch as one binary COPY, on connections this writer keeps checked out.

    Keeping them saves the pool's pre-ping at every checkout (three more round trips than
    the COPY itself). A kept connection found closed (the database restarted) is dropped
    for a fresh one from the pool; one that fails mid-COPY is invalidated and the error
    goes to the clicks of that batch, none of which was recorded (COPY is atomic).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._records = _Records(engine.dialect, [column.name for column in EVENT_TABLE.columns])
        self._kept: list[tuple[AsyncConnection, Any]] = []

    async def __call__(self, rows: list[Row]) -> None:
        records = self._records(rows)
        connection, driver = await self._checkout()
        try:
            await driver.copy_records_to_table(
                EVENT_TABLE.name, records=records, columns=self._records.columns
            )
        except BaseException:
            await _discard(connection)
            raise
        self._kept.append((connection, driver))

    async def _checkout(self) -> tuple[AsyncConnection, Any]:
        """A kept connection and its asyncpg connection, or a fresh one from the pool."""
        while self._kept:
            connection, driver = self._kept.pop()
            if not driver.is_closed():
                return connection, driver
            await _discard(connection)
        connection = await self._engine.connect()
        return connection, (await connection.get_raw_connection()).driver_connection

    async def close(self) -> None:
        while self._kept:
            await self._kept.pop()[0].close()


async def _discard(connection: AsyncConnection) -> None:
    """Give up a connection that failed: it never goes back to the pool for reuse."""
    with contextlib.suppress(Exception):  # it is broken already; the caller's error matters
        await connection.invalidate()
        await connection.close()


class AsyncEngineWriter:
    """Write a batch as one transaction through the async engine (in-memory SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, rows: list[Row]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(insert(EVENT_TABLE), rows)

    async def close(self) -> None:
        """The engine belongs to the app's Database, which disposes of it."""


class ClickRecorder:
    """Queue clicks and commit them in batches, up to ``writers`` batches at once."""

    def __init__(
        self,
        write: SqliteLoopWriter | PostgresCopyWriter | AsyncEngineWriter,
        *,
        writers: int = 1,
        max_batch: int = 500,
    ) -> None:
        self._write = write
        self._writers = writers
        self.max_batch = max_batch
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def for_database(cls, db: Database) -> ClickRecorder:
        """The recorder suited to ``db``'s engine (see the module docstring)."""
        if not db.is_sqlite:
            return cls(PostgresCopyWriter(db.writer_engine), writers=POSTGRES_WRITERS)
        path = make_url(db.url).database
        if path and path != ":memory:":
            return cls(SqliteLoopWriter(path))
        return cls(AsyncEngineWriter(db.writer_engine))

    async def record(self, row: Row) -> None:
        """Return once ``row`` is committed (or raise what its commit raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        # A task that is not done will look at the queue again before it finishes.
        if sum(not task.done() for task in self._tasks) < self._writers:
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                await self._write([row for row, _ in batch])
            except Exception as exc:  # every waiting click hears about it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        """Let queued clicks finish, then release the writer's own resources."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._write.close()
