"""Async engine and session factories; SQLite pragmas and write locking; PostgreSQL specifics."""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction


class DatabaseUnavailable(Exception):
    """The database could not be reached: down, restarting, refusing connections or silent.

    The driver raises its own socket and start-up errors when a new connection fails,
    which look like any other network error; naming them here lets the web layer answer
    503 (try again shortly) instead of 500, and background loops wait for the database.
    """


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is out of reach (so retrying later may work)."""
    if isinstance(exc, DatabaseUnavailable | sa_exc.TimeoutError):  # no pooled connection free
        return True
    # A connection the server closed mid-use (a restart) is invalidated by SQLAlchemy.
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def log_failure(logger: logging.Logger, exc: BaseException, what: str, *args: object) -> None:
    """Log a failed pass of a background loop that will try again.

    The database being out of reach (a restart) is expected and retried: one line, no stack
    trace, however often the loop comes round. Anything else is a bug: the full trace.
    """
    if is_unavailable(exc):
        logger.warning(what + ": the database is unreachable; trying again", *args)
    else:
        logger.error(what, *args, exc_info=exc)


# Callbacks waiting for the transaction they were registered in to end, by its root
# transaction; weakly, so an abandoned session takes its own with it.
_WAITING: weakref.WeakKeyDictionary[SessionTransaction, dict[Hashable, Callable[[bool], None]]] = (
    weakref.WeakKeyDictionary()
)


def after_transaction(
    session: Session | AsyncSession, key: Hashable, callback: Callable[[bool], None]
) -> None:
    """Call ``callback(committed)`` once the whole transaction ``session`` is in has ended.

    SQLAlchemy's ``after_commit`` and ``after_soft_rollback`` fire for savepoints inside a
    transaction too, when nothing is settled yet: a cache dropped or a dispatcher woken
    then would act before the commit and not again at it. This waits for the outermost
    commit (``True``) or rollback (``False``). One callback per ``key`` and transaction:
    the first registered stays.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    root = sync.get_transaction() or sync.begin()
    _WAITING.setdefault(root, {}).setdefault(key, callback)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    root = session.get_transaction()
    if root is not None and not root.is_active:  # not a savepoint released inside it
        for callback in _WAITING.pop(root, {}).values():
            callback(True)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(_session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # not a savepoint rolled back inside it
        for callback in _WAITING.pop(previous, {}).values():
            callback(False)


@dataclass
class Database:
    """One writer and one reader session factory over the same database.

    On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` so it takes the write
    lock first (and waits ``busy_timeout`` for it) instead of failing on upgrade; reads use
    plain deferred transactions and never block behind writers (WAL). On PostgreSQL both
    factories share one engine.
    """

    url: str
    writer_engine: AsyncEngine
    reader_engine: AsyncEngine
    writer: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def dialect(self) -> str:
        return self.writer_engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One unit of work that changes data: committed on success, rolled back on error."""
        async with self.writer.begin() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """One unit of work that only reads."""
        async with self.reader() as session:
            yield session

    async def ping(self) -> None:
        """Ask the database one trivial question; raises if it cannot answer."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.writer_engine.dispose()
        if self.reader_engine is not self.writer_engine:
            await self.reader_engine.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# PostgreSQL's "canceling statement due to statement timeout" (and any other cancel).
QUERY_CANCELED = "57014"


def _postgres_engine(
    url: str,
    *,
    pool_size: int,
    connect_timeout_s: float,
    statement_timeout_s: float | None,
    pool_timeout_s: float,
) -> AsyncEngine:
    """Pooled connections, checked before use so ones a restart cut are replaced.

    A database that stops answering must not hold requests for the minute or more the
    kernel takes to give up on a connection, so every wait is bounded and counts as the
    database being out of reach (503, try again):

    - a new connection with no answer within ``connect_timeout_s``;
    - a statement (or the ping before a pooled connection is reused) with no answer within
      ``statement_timeout_s``; the server is given the same limit (``statement_timeout``),
      so it stops work nobody waits for. A connection that timed out is dropped, with the
      rest of the pool: its late answer must never be read as the next statement's;
    - a wait for a free pooled connection longer than ``pool_timeout_s``.
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=pool_timeout_s,
        connect_args=_postgres_connect_args(connect_timeout_s, statement_timeout_s),
        hide_parameters=True,
    )
    _report_unreachable(engine)
    _bound_the_ping(engine)
    return engine


def _postgres_connect_args(
    connect_timeout_s: float, statement_timeout_s: float | None
) -> dict[str, Any]:
    """asyncpg's limits: on connecting, on each statement, and the server's own."""
    connect_args: dict[str, Any] = {"timeout": connect_timeout_s}
    if statement_timeout_s is not None:
        connect_args["command_timeout"] = statement_timeout_s
        milliseconds = str(max(1, round(statement_timeout_s * 1000)))
        connect_args["server_settings"] = {"statement_timeout": milliseconds}
    return connect_args


def _report_unreachable(engine: AsyncEngine) -> None:
    """Raise ``DatabaseUnavailable`` for a refused connection or a statement past its time."""
    import asyncpg

    unreachable = (
        OSError,  # refused, reset, timed out
        asyncpg.PostgresConnectionError,
        asyncpg.OperatorInterventionError,  # shutting down, starting up
        asyncpg.TooManyConnectionsError,
    )

    @event.listens_for(engine.sync_engine, "do_connect")
    def _on_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except unreachable as exc:
            raise DatabaseUnavailable(f"cannot connect: {type(exc).__name__}") from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> Exception | None:
        error = context.original_exception
        if isinstance(error, TimeoutError):  # asyncpg's command_timeout: no answer at all
            context.is_disconnect = True
            return DatabaseUnavailable("no answer within the statement timeout")
        if getattr(error, "sqlstate", None) == QUERY_CANCELED:
            return DatabaseUnavailable("the statement ran past the database's timeout")
        return None


def _bound_the_ping(engine: AsyncEngine) -> None:
    """Treat a silent ping like a silent statement.

    The ping before reuse is not a statement (no ``handle_error``), so its timeout is
    turned into ``DatabaseUnavailable`` here.
    """
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            return ping(dbapi_connection)
        except TimeoutError as exc:  # the pool drops this connection on the way out
            raise DatabaseUnavailable("no answer to the ping within the statement timeout") from exc

    setattr(dialect, "do_ping", do_ping)  # noqa: B010  (this engine's dialect only)


def prepare_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file, so a fresh checkout can start."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def connect(
    url: str,
    *,
    pool_size: int = 10,
    connect_timeout_s: float = 10.0,
    statement_timeout_s: float | None = None,
    pool_timeout_s: float = 30.0,
) -> Database:
    """Build the engines for ``url`` (an async SQLAlchemy URL).

    The service passes its timeouts (``_postgres_engine`` says what each bounds); without
    ``statement_timeout_s`` (the command line's long jobs) statements may run as long as
    they need.

    Statement parameters never appear in SQLAlchemy's log lines or in the text of its
    errors (``hide_parameters``): they are names, addresses and notes about children, and an
    unexpected database error is logged.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        prepare_sqlite_folder(url)
        writer_engine = _sqlite_engine(url, immediate=True)
        reader_engine = _sqlite_engine(url, immediate=False)
    else:
        writer_engine = _postgres_engine(
            url,
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
            statement_timeout_s=statement_timeout_s,
            pool_timeout_s=pool_timeout_s,
        )
        reader_engine = writer_engine
    return Database(
        url=url,
        writer_engine=writer_engine,
        reader_engine=reader_engine,
        writer=async_sessionmaker(writer_engine, expire_on_commit=False),
        reader=async_sessionmaker(reader_engine, expire_on_commit=False),
    )
