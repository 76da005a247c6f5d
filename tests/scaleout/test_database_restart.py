"""The database restarting under two real replicas: they say so, wait, and lose nothing.

The replicas reach PostgreSQL through a loopback proxy (``tcp_proxy``); a "restart" cuts
every connection and refuses new ones for a few seconds. It starts while invitations
are on the wire (the SMTP server answers slowly) and while bookings are being made, and a
reminder falls due during it. While it lasts, ``/healthz`` answers, ``/readyz`` and the API
answer 503 with ``Retry-After``, ``/metrics`` shows the service degraded and a staff page
says the database cannot be reached. Afterwards the same processes carry on by themselves:
every queued email reaches the SMTP server exactly once, each booking either happened
whole or not at all, and the ones that failed succeed when tried again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from orchestrator.core.settings import normalise_database_url
from tests.conftest import PG_SKIP_REASON, PG_URL
from tests.scaleout.conftest import (
    Cluster,
    SmtpServer,
    add_staff_user,
    expected_message_ids,
    fetch,
    metric,
    start_cluster,
    until,
    wait_drained,
)
from tests.scaleout.support import BookedCase, book, make_case, soon
from tests.scaleout.tcp_proxy import RestartingProxy
from tests.scaleout.test_two_replicas import wait_reminders_sent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DOWN_FOR_S = 6.0  # well inside the outbox lease, so in-flight deliveries are recorded once
PASSWORD = "board-password-long-enough"
BEFORE, RACING, DURING = 4, 3, 1  # cases booked before, as it goes down, and while it is down


@pytest.fixture
def db_proxy() -> Iterator[RestartingProxy]:
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    server = make_url(normalise_database_url(PG_URL))
    proxy = RestartingProxy(server.host or "127.0.0.1", server.port or 5432)
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
async def proxied_cluster(
    pg_database: str, db_proxy: RestartingProxy, smtp: SmtpServer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Two replicas whose database is behind the proxy; the tests' own reads go direct."""
    through_proxy = make_url(pg_database).set(host="127.0.0.1", port=db_proxy.port)
    running = await start_cluster(
        through_proxy.render_as_string(hide_password=False),
        smtp,
        tmp_path,
        ORCH_OUTBOX_LEASE_SECONDS="30",
    )
    yield dataclasses.replace(running, database_url=pg_database)
    running.stop()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, dict[str, str]]:
    async with http.get(url, allow_redirects=False) as response:
        return response.status, await response.text(), dict(response.headers)


async def degraded_everywhere(http: aiohttp.ClientSession, bases: list[str], value: float) -> bool:
    gauges = [await metric(http, base, "orchestrator_degraded") for base in bases]
    return gauges == [value] * len(bases)


async def footprint(url: str, case_id: str) -> dict[str, int]:
    """What exists for a case: meetings, and the outbox rows and timeline entries it made."""
    rows = await fetch(
        url,
        "SELECT (SELECT count(*) FROM meeting WHERE case_id = $1::uuid) AS meetings, "
        "(SELECT count(*) FROM outbox_message WHERE case_id = $1::uuid) AS outbox, "
        "(SELECT count(*) FROM timeline_entry WHERE case_id = $1::uuid) AS timeline",
        case_id,
    )
    return dict(rows[0])


async def booking_parts(url: str, case_id: str) -> dict[str, int]:
    """The parts one booking writes in its transaction, counted for a case's meeting."""
    rows = await fetch(
        url,
        "SELECT (SELECT count(*) FROM invitation i JOIN meeting m ON m.id = i.meeting_id "
        "        WHERE m.case_id = $1::uuid) AS invitations, "
        "(SELECT count(*) FROM reminder r JOIN meeting m ON m.id = r.meeting_id "
        "        WHERE m.case_id = $1::uuid) AS reminders, "
        "(SELECT count(*) FROM outbox_message WHERE case_id = $1::uuid AND kind = 'email' "
        "        AND idempotency_key NOT LIKE 'reminder:%') AS invites, "
        "(SELECT count(*) FROM outbox_message WHERE case_id = $1::uuid "
        "        AND kind = 'provider_call') AS rooms",
        case_id,
    )
    return dict(rows[0])


async def sign_in(http: aiohttp.ClientSession, base: str, email: str) -> None:
    data = {"email": email, "password": PASSWORD, "next": "/staff"}
    async with http.post(base + "/sign-in", data=data, allow_redirects=False) as response:
        assert response.status == 303, await response.text()


async def test_database_restart_degrades_visibly_recovers_alone_and_loses_nothing(
    proxied_cluster: Cluster, db_proxy: RestartingProxy
) -> None:
    cluster, sink = proxied_cluster, proxied_cluster.smtp.sink
    bases = [replica.url for replica in cluster.replicas]
    pids = [replica.process.pid for replica in cluster.replicas if replica.process]
    headers = cluster.headers()
    add_staff_user(cluster.replicas[0].env, "board@staff.example", "scheduler", password=PASSWORD)
    timeout = aiohttp.ClientTimeout(total=15)  # an answer, not a hang
    browser_jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        aiohttp.ClientSession(timeout=timeout, cookie_jar=browser_jar) as browser,
    ):
        await sign_in(browser, bases[0], "board@staff.example")
        cases: list[BookedCase] = await asyncio.gather(
            *(make_case(http, bases[n % 2], headers, n) for n in range(BEFORE + RACING + DURING))
        )
        before, racing = cases[:BEFORE], cases[BEFORE : BEFORE + RACING]
        during = cases[BEFORE + RACING :]
        untouched = {
            case.case_id: await footprint(cluster.database_url, case.case_id) for case in cases
        }

        # Book, then cut the database while invitations are on the wire: their "250 OK"
        # comes once it is down, so the dispatchers record "sent" during the outage.
        sink.answering.clear()

        async def on_the_wire() -> bool:
            return sink.arrived > 0

        start = soon(64)  # the one-minute reminders fall due during the outage
        await asyncio.gather(
            *(book(http, bases[n % 2], headers, c.case_id, start) for n, c in enumerate(before))
        )
        assert await until(on_the_wire, within=30)
        racers = [
            asyncio.create_task(book(http, bases[n % 2], headers, c.case_id, start, expect=None))
            for n, c in enumerate(racing)
        ]
        await asyncio.sleep(0.05)
        db_proxy.go_down()
        went_down, down_at = time.monotonic(), datetime.now(UTC)
        sink.answering.set()
        raced = await asyncio.gather(*racers)
        assert {status for status, _ in raced} <= {201, 503}, raced

        # While it is down: alive, not ready, a clean 503 to retry, and it says so.
        for base in bases:
            assert (await get(http, base + "/healthz"))[0] == 200
            status, text, _ = await get(http, base + "/readyz")
            assert status == 503 and "unreachable" in text
        status, body = await book(http, bases[0], headers, during[0].case_id, start, expect=None)
        assert status == 503 and body["error"]["code"] == "database_unavailable", body
        async with http.get(f"{bases[1]}/api/v1/cases/{before[0].case_id}", headers=headers) as r:
            assert r.status == 503 and r.headers["Retry-After"].isdigit()
            assert (await r.json())["error"]["code"] == "database_unavailable"
        assert await until(lambda: degraded_everywhere(http, bases, 1.0), within=10)
        for base in bases:
            up = 'orchestrator_dependency_up{dependency="database"}'
            assert await metric(http, base, up) == 0.0
        status, page, _ = await get(browser, bases[0] + "/staff")
        assert status == 503 and "the database cannot be reached" in page

        await asyncio.sleep(max(0.0, DOWN_FOR_S - (time.monotonic() - went_down)))
        db_proxy.come_back()
        up_at = datetime.now(UTC)

        # Back: the same processes recover by themselves.
        async def ready() -> bool:
            answers = [(await get(http, base + "/readyz"))[0] for base in bases]
            return answers == [200] * len(bases)

        assert await until(ready, within=30), "the replicas did not reconnect"
        assert [replica.process.pid for replica in cluster.replicas if replica.process] == pids
        assert all(
            replica.process and replica.process.poll() is None for replica in cluster.replicas
        )
        assert await until(lambda: degraded_everywhere(http, bases, 0.0), within=10)
        status, page, _ = await get(browser, bases[0] + "/staff")
        assert status == 200 and "the database cannot be reached" not in page

        # Each booking tried as it went down happened whole, or left no trace at all.
        complete = await booking_parts(cluster.database_url, before[0].case_id)
        assert complete["invitations"] and complete["invites"] and complete["rooms"] == 1
        retry = list(during)
        for case, (status, _) in zip(racing, raced, strict=True):
            now = await footprint(cluster.database_url, case.case_id)
            if now["meetings"]:
                assert await booking_parts(cluster.database_url, case.case_id) == complete
            else:
                assert status == 503 and now == untouched[case.case_id], (status, now)
                retry.append(case)
        assert (
            await footprint(cluster.database_url, during[0].case_id) == untouched[during[0].case_id]
        )
        later = soon(70)
        for n, case in enumerate(retry):
            await book(http, bases[n % 2], headers, case.case_id, later)

    # Every reminder (some fell due during the outage) and every email went out, once.
    fell_due = await fetch(
        cluster.database_url,
        "SELECT count(*) AS n FROM reminder WHERE due_at > $1 AND due_at < $2",
        down_at,
        up_at,
    )
    assert fell_due[0]["n"] > 0
    assert await wait_reminders_sent(cluster.database_url, within=60) == 0
    assert await wait_drained(cluster.database_url, within=30, settle_kinds="email") == 0
    assert await wait_drained(cluster.database_url, within=30, settle_kinds="provider_call") == 0
    await asyncio.sleep(1)  # let the last SMTP transaction reach the sink's counter
    expected = await expected_message_ids(cluster.database_url)
    counts = sink.counts()
    assert set(counts) == set(expected), "every queued email arrived, nothing else did"
    assert [mid for mid, n in counts.items() if n > 1] == [], "no email arrived twice"
    meetings = await fetch(cluster.database_url, "SELECT count(*) AS n FROM meeting")
    assert meetings[0]["n"] == len(cases)
    for case in cases:
        assert await booking_parts(cluster.database_url, case.case_id) == complete
    statuses = await fetch(
        cluster.database_url, "SELECT DISTINCT status FROM outbox_message ORDER BY status"
    )
    assert [row["status"] for row in statuses] == ["sent"]
    print(f"\n{db_proxy.cut} connections cut; racing bookings: {[s for s, _ in raced]}")
