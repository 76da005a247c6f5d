"""A database that stops answering on connections already in the pool: 503 soon, then back.

PostgreSQL sits behind a loopback proxy (``tcp_proxy``) that can go silent: the TCP
connections stay up, new ones are accepted, and nothing comes back, as when the server
hangs or a network path drops packets. Requests on the app's pooled connections must not
wait for the kernel to give up (a minute or more): they answer 503 ``database_unavailable``
once the statement timeout passes, ``/readyz`` says not ready, and when the database
answers again the very next requests succeed, with no restart.

The bounds below are liveness bounds (``asyncio.wait_for`` with three times what the
settings allow), not performance assertions; the times measured are printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from orchestrator.core.db import connect, is_unavailable
from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings, normalise_database_url
from orchestrator.staff.accounts import add_user, issue_token
from orchestrator.web.app import create_app
from orchestrator.web.keys import DB
from tests.conftest import PG_SKIP_REASON, PG_URL
from tests.scaleout.tcp_proxy import RestartingProxy

pytestmark = [pytest.mark.postgres]

STATEMENT_TIMEOUT_S = 1.0
POOL_TIMEOUT_S = 1.0
# Room for a storm of new connections after recovery: the crowd below opens up to 19 at
# once, through a proxy that shares this process, while PostgreSQL clears the connections
# abandoned while it was silent; on a loaded 2-core machine 1 s was not always enough.
CONNECT_TIMEOUT_S = 3.0
# The longest a request may meet: a checkout that waits, a ping or statement that gets no
# answer (and the dropped connection's polite close, which asyncpg bounds by the same
# timeout), a new connection that gets none either.
ALLOWED_S = POOL_TIMEOUT_S + 2 * STATEMENT_TIMEOUT_S + CONNECT_TIMEOUT_S
LIVENESS_S = 3 * ALLOWED_S
CROWD = 30  # more requests at once than the pool holds (10, and 10 more overflowing)


@pytest.fixture
def db_proxy() -> Iterator[RestartingProxy]:
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    server = make_url(normalise_database_url(PG_URL))
    proxy = RestartingProxy(server.host or "127.0.0.1", server.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


def through(database_url: str, proxy: RestartingProxy) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def app_client(
    aiohttp_client: Any, pg_database: str, db_proxy: RestartingProxy, tmp_path: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    """The real app on PostgreSQL through the proxy, and a scheduler's bearer header."""
    settings = Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=through(pg_database, db_proxy),
        base_url="http://testserver.local",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        run_background_jobs=False,
        database_statement_timeout_s=STATEMENT_TIMEOUT_S,
        database_pool_timeout_s=POOL_TIMEOUT_S,
        database_connect_timeout_s=CONNECT_TIMEOUT_S,
    )
    client = await aiohttp_client(create_app(settings, migrate_on_start=False))
    async with client.app[DB].write() as session:
        user = await add_user(session, email="scheduler@staff.example", role=StaffRole.scheduler)
        token = await issue_token(session, user_id=user.id)
    yield client, {"Authorization": f"Bearer {token}"}


async def answer(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> Any:
    """One request, its status and JSON body and how long it took; never more than LIVENESS_S."""

    async def ask() -> tuple[int, Any, dict[str, str]]:
        async with client.get(path, headers=headers) as response:
            return response.status, await response.json(), dict(response.headers)

    started = time.monotonic()
    try:
        status, body, response_headers = await asyncio.wait_for(ask(), timeout=LIVENESS_S)
    except TimeoutError:
        raise AssertionError(f"{path} still hanging after {LIVENESS_S}s") from None
    return status, body, response_headers, time.monotonic() - started


async def test_a_silent_database_is_503_soon_and_recovery_needs_no_restart(
    app_client: tuple[TestClient[Any, Any], dict[str, str]],
    db_proxy: RestartingProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, headers = app_client
    # Warm the pool: these requests leave open connections in it.
    await asyncio.gather(*(answer(client, "/api/v1/cases", headers) for _ in range(5)))
    status, body, _, _ = await answer(client, "/api/v1/cases", headers)
    assert status == 200 and body == {"cases": []}
    assert (await answer(client, "/readyz", {}))[0] == 200

    db_proxy.go_silent()
    try:
        status, body, response_headers, took = await answer(client, "/api/v1/cases", headers)
        assert status == 503, body
        assert body["error"]["code"] == "database_unavailable"
        assert response_headers["Retry-After"].isdigit()
        status, body, _, readyz_took = await answer(client, "/readyz", {})
        assert status == 503 and body["checks"]["database"].startswith("unreachable"), body
        # A crowd larger than the pool: those waiting for a connection give up too.
        crowd = await asyncio.gather(
            *(answer(client, "/api/v1/cases", headers) for _ in range(CROWD))
        )
        assert [s for s, *_ in crowd] == [503] * CROWD
        assert {b["error"]["code"] for _, b, *_ in crowd} == {"database_unavailable"}
    finally:
        db_proxy.speak_again()

    status, body, _, _ = await answer(client, "/api/v1/cases", headers)
    assert status == 200 and body == {"cases": []}, body
    assert (await answer(client, "/readyz", {}))[0] == 200
    again = await asyncio.gather(*(answer(client, "/api/v1/cases", headers) for _ in range(CROWD)))
    assert [s for s, *_ in again] == [200] * CROWD, caplog.messages[-3:]
    print(
        f"\nsilent database: 503 after {took:.2f}s, /readyz 503 after {readyz_took:.2f}s, "
        f"crowd of {CROWD} answered within {max(t for *_, t in crowd):.2f}s "
        f"(statement {STATEMENT_TIMEOUT_S}s, pool {POOL_TIMEOUT_S}s, "
        f"connect {CONNECT_TIMEOUT_S}s)"
    )


async def bounded(work: Any) -> Any:
    try:
        return await asyncio.wait_for(work, timeout=LIVENESS_S)
    except TimeoutError:
        raise AssertionError(f"still waiting for the database after {LIVENESS_S}s") from None


async def test_a_statement_in_flight_when_the_database_falls_silent_gives_up_and_is_not_reused(
    pg_database: str, db_proxy: RestartingProxy
) -> None:
    """Mid-transaction, on a connection already checked out: no ping stands in the way."""
    db = connect(
        through(pg_database, db_proxy),
        connect_timeout_s=CONNECT_TIMEOUT_S,
        statement_timeout_s=STATEMENT_TIMEOUT_S,
        pool_timeout_s=POOL_TIMEOUT_S,
    )
    try:
        async with db.read() as session:
            assert await session.scalar(text("SELECT 1")) == 1
            db_proxy.go_silent()
            try:
                with pytest.raises(Exception) as raised:
                    await bounded(session.scalar(text("SELECT 2")))
            finally:
                db_proxy.speak_again()
        assert is_unavailable(raised.value), repr(raised.value)  # so a request answers 503
        # The connection that gave up is not handed out again with SELECT 2's late answer.
        async with db.read() as session:
            assert await bounded(session.scalar(text("SELECT 3"))) == 3
        # A statement the server itself stops at its statement_timeout is unavailable too
        # (here a shorter one than the client's, so the server is sure to be first).
        with pytest.raises(Exception) as slow:
            async with db.read() as session:
                await session.execute(text("SET LOCAL statement_timeout = 100"))
                await bounded(session.execute(text("SELECT pg_sleep(:s)"), {"s": LIVENESS_S}))
        assert is_unavailable(slow.value), repr(slow.value)
        async with db.read() as session:
            limit = "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            shown = await session.scalar(text(limit))  # in milliseconds
        assert shown == str(round(STATEMENT_TIMEOUT_S * 1000))
    finally:
        await db.dispose()
