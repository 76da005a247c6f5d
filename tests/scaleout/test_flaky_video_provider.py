"""A video provider that fails half the time, or stays down: rooms still come, once each.

A real replica on PostgreSQL books meetings on a BigBlueButton fake (``tests/fakes/bbb``)
that answers every other call with a 500 or only after the adapter has given up. The
outbox retries with backoff; because every retry asks for the same ``meetingID`` (the
meeting's room key), the provider ends up with exactly one room per meeting, and the
join links lead into it. While calls fail, ``/metrics`` shows the provider down and the
service degraded; afterwards both clear. When the provider stays down past
``ORCH_PROVIDER_FALLBACK_AFTER_MINUTES``, rooms move to the fallback provider and the
same join links lead there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from integrations.bbb import BbbConfig
from tests.fakes.bbb import API_PATH, BbbFake
from tests.scaleout.conftest import (
    Cluster,
    SmtpServer,
    add_staff_user,
    fetch,
    free_port,
    metric,
    start_cluster,
    until,
    wait_drained,
)
from tests.scaleout.support import BookedCase, book, make_case, soon

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BBB_SECRET = "scaleout-bbb-shared-secret"
MEETINGS = 4
BBB_UP = 'orchestrator_dependency_up{dependency="video:bbb"}'  # its last call answered
DEGRADED = "orchestrator_degraded"
ROOM_CALLS = 'orchestrator_outbox_deliveries_total{kind="provider_call",result="%s"}'
# Only on loopback; nothing here ever connects to it (Jitsi makes its rooms on first join).
JITSI_BASE = "http://127.0.0.1:9"


@pytest.fixture
async def bbb() -> AsyncIterator[tuple[BbbFake, str]]:
    """The BigBlueButton fake on a loopback port, and its API base URL."""
    fake = BbbFake(BBB_SECRET)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield fake, f"http://127.0.0.1:{port}{API_PATH}"
    fake.release()
    await runner.cleanup()


async def start_on_bbb(
    pg_database: str, smtp: SmtpServer, tmp_path: Path, api_url: str, **extra: str
) -> Cluster:
    """One replica whose video provider is the fake; a room waiting a second is degraded."""
    return await start_cluster(
        pg_database,
        smtp,
        tmp_path,
        count=1,
        ORCH_VIDEO_PROVIDER="bbb",
        ORCH_BBB_BASE_URL=api_url,
        ORCH_BBB_SHARED_SECRET=BBB_SECRET,
        ORCH_DEGRADED_OUTBOX_AGE_MINUTES="0.02",
        ORCH_OUTBOX_BACKOFF_BASE_S="1",
        **extra,
    )


async def book_meetings(http: aiohttp.ClientSession, cluster: Cluster) -> list[BookedCase]:
    """MEETINGS cases, each booked ten minutes from now (their join links open at once)."""
    base, headers = cluster.replicas[0].url, cluster.headers()
    cases = [await make_case(http, base, headers, n) for n in range(MEETINGS)]
    start = soon(600)
    for case in cases:
        _, meeting = await book(http, base, headers, case.case_id, start)
        case.meeting_id = meeting["id"]
    return cases


async def room_calls(url: str) -> list[Any]:
    return await fetch(
        url,
        "SELECT meeting_id::text AS meeting_id, status, attempts FROM outbox_message "
        "WHERE kind = 'provider_call'",
    )


async def video_click(
    http: aiohttp.ClientSession,
    cluster: Cluster,
    meeting_id: str,
    party_id: str,
    admin: dict[str, str],
) -> str:
    """The party's own join link, clicked once the mediator has let them in through our
    lobby (on the other replica): where its 303 leads."""
    base, other = cluster.replicas[0].url, cluster.replicas[-1].url
    meeting = f"/api/v1/meetings/{meeting_id}"
    async with http.get(f"{base}{meeting}/links", headers=cluster.headers()) as response:
        links = {link["party_id"]: link["url"] for link in (await response.json())["links"]}
    path = urlsplit(links[party_id]).path
    async with http.get(f"{base}{path}/video", allow_redirects=False) as response:
        assert response.headers["Location"] == f"{path}/wait", await response.text()
    for action, body in (("start", None), ("admit", {"party_id": party_id})):
        async with http.post(f"{other}{meeting}/{action}", json=body, headers=admin) as response:
            assert response.status == 200, await response.text()
    async with http.get(f"{base}{path}/video", allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        return response.headers["Location"]


async def test_flaky_provider_gets_one_room_per_meeting_and_links_that_work(
    pg_database: str, smtp: SmtpServer, tmp_path: Path, bbb: tuple[BbbFake, str]
) -> None:
    fake, api_url = bbb
    fake.flaky_every = 2
    # Past the adapter's timeout, which aiohttp rounds up to a whole second of loop time.
    fake.flaky_hang_s = BbbConfig().timeout_s + 1.5
    cluster = await start_on_bbb(pg_database, smtp, tmp_path, api_url)
    base = cluster.replicas[0].url
    degraded: set[float | None] = set()
    try:
        async with aiohttp.ClientSession() as http:
            cases = await book_meetings(http, cluster)

            async def rooms_made() -> bool:
                degraded.add(await metric(http, base, DEGRADED))
                calls = await room_calls(cluster.database_url)
                return all(call["status"] != "pending" for call in calls)

            assert await until(rooms_made, within=90)
            assert 1.0 in degraded, "the service showed itself degraded while calls failed"
            assert {how for how, _, _ in fake.misbehaved} == {"500", "late"}

            calls = await room_calls(cluster.database_url)
            assert {call["status"] for call in calls} == {"sent"}, "nothing dead-lettered"
            assert len(calls) == MEETINGS and max(call["attempts"] for call in calls) > 1
            # Every failed attempt was counted, and retried later (backoff) until it went.
            retried = sum(call["attempts"] - 1 for call in calls)
            assert retried >= len(fake.misbehaved)
            assert await metric(http, base, ROOM_CALLS % "pending") == retried
            assert await metric(http, base, ROOM_CALLS % "sent") == MEETINGS
            rooms = await fetch(
                cluster.database_url,
                "SELECT room_key, provider, provider_room->'data'->>'create_time' AS create_time "
                "FROM meeting",
            )
            # One room per meeting, under the meeting's own key, whatever the retries.
            assert sorted(fake.meetings) == sorted(row["room_key"] for row in rooms)
            assert {row["provider"] for row in rooms} == {"bbb"}
            failed = {
                params["meetingID"] for _, call, params in fake.misbehaved if call == "create"
            }
            assert failed and failed <= set(fake.meetings), "retries asked for the same room"
            for row in rooms:  # the run of the room the join links are signed for
                assert row["create_time"] == str(fake.meetings[row["room_key"]].create_time)

            fake.flaky_every = 0  # the provider is well again: the links lead into the rooms
            token = add_staff_user(cluster.env, "admin@staff.example", "admin")
            admin = {"Authorization": f"Bearer {token}"}
            for case in cases:
                assert case.meeting_id is not None
                parent = case.parties["parent"]
                location = await video_click(http, cluster, case.meeting_id, parent, admin)
                # As a browser follows it: the signed query exactly as it was signed.
                signed = URL(location, encoded=True)
                async with http.get(signed, allow_redirects=False) as joined:
                    assert joined.status == 302, await joined.text()
                    assert "/html5client/join" in joined.headers["Location"]

            async def cleared() -> bool:
                bbb_up = await metric(http, base, BBB_UP) == 1.0
                return bbb_up and await metric(http, base, DEGRADED) == 0.0

            assert await until(cleared, within=30)
        assert await wait_drained(cluster.database_url, within=30, settle_kinds="email") == 0
        statuses = await fetch(cluster.database_url, "SELECT DISTINCT status FROM outbox_message")
        assert [row["status"] for row in statuses] == ["sent"]
    finally:
        cluster.stop()


async def test_provider_down_past_the_deadline_moves_rooms_to_the_fallback(
    pg_database: str, smtp: SmtpServer, tmp_path: Path, bbb: tuple[BbbFake, str]
) -> None:
    fake, api_url = bbb
    fake.fail_status = 500
    cluster = await start_on_bbb(
        pg_database,
        smtp,
        tmp_path,
        api_url,
        ORCH_FALLBACK_VIDEO_PROVIDER="jitsi",
        ORCH_JITSI_BASE_URL=JITSI_BASE,
        ORCH_PROVIDER_FALLBACK_AFTER_MINUTES="0.05",  # three seconds
    )
    try:
        async with aiohttp.ClientSession() as http:
            cases = await book_meetings(http, cluster)

            async def rooms_made() -> bool:
                calls = await room_calls(cluster.database_url)
                return all(call["status"] != "pending" for call in calls)

            assert await until(rooms_made, within=60)
            calls = await room_calls(cluster.database_url)
            assert {call["status"] for call in calls} == {"sent"}
            # The main provider was tried, and retried, before the deadline passed.
            assert min(call["attempts"] for call in calls) > 1
            assert fake.meetings == {}
            rooms = await fetch(
                cluster.database_url,
                "SELECT id::text AS id, provider, provider_room->>'room_id' AS room_id FROM meeting",
            )
            assert {row["provider"] for row in rooms} == {"jitsi"}
            moved = await fetch(
                cluster.database_url,
                "SELECT count(*) AS n FROM timeline_entry WHERE kind = 'meeting.room_fallback'",
            )
            assert moved[0]["n"] == MEETINGS
            room_of = {row["id"]: row["room_id"] for row in rooms}
            token = add_staff_user(cluster.env, "admin@staff.example", "admin")
            admin = {"Authorization": f"Bearer {token}"}
            for case in cases:
                assert case.meeting_id is not None
                parent = case.parties["parent"]
                location = await video_click(http, cluster, case.meeting_id, parent, admin)
                assert location.startswith(f"{JITSI_BASE}/{room_of[case.meeting_id]}")
    finally:
        cluster.stop()
