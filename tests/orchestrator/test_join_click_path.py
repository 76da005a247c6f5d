"""The join click's short-lived link cache: fast on repeat clicks, never stale on this replica.

A party clicking "Join" again and again is answered from memory, but every change that can
kill a link or move the room (revoke, party removed, reschedule, cancel, room replaced) is
seen by the very next click through the same app; a change made by another replica (not
through this process's sessions) is seen once the entry's few seconds are up. Every click,
cached or not, is recorded before its 303.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col

from orchestrator.cases import links
from orchestrator.core.models import Link, Meeting
from orchestrator.meeting import join_facts, link_cache
from orchestrator.web.keys import DB, JOIN_LINK_CACHE
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import (
    START,
    book,
    deliver_outbox,
    events,
    get,
    iso,
    join_links,
    let_in,
    path_of,
    ready_case,
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


async def booked(client: TestClient[Any, Any], staff: Staff) -> tuple[Any, Any, dict[str, Any]]:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    return ready, meeting, await join_links(staff, meeting["id"])


async def click(client: TestClient[Any, Any], link: dict[str, Any]) -> tuple[int, str | None]:
    status, _, location = await get(client, path_of(link["url"]) + "/video")
    return status, location


def cache_of(client: TestClient[web.Request, web.Application]) -> link_cache.JoinLinkCache:
    return client.app[JOIN_LINK_CACHE]


async def test_repeat_clicks_come_from_memory_and_every_one_is_recorded(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START - timedelta(minutes=5))
    parent = found[ready.parties["parent"]]
    answers = [await click(client, parent) for _ in range(3)]
    assert all(status == 303 for status, _ in answers)
    assert len({location for _, location in answers}) == 1
    assert cache_of(client).hits >= 2
    recorded = await events(client, meeting["id"])
    assert [(str(e.party_id), e.status.value) for e in recorded] == [
        (ready.parties["parent"], "in_lobby")  # waiting in our lobby: not started yet
    ] * 3


async def test_revoke_then_click_is_refused_at_once(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    parent = found[ready.parties["parent"]]
    assert (await click(client, parent))[0] == 303  # now cached
    async with client.app[DB].write() as session:
        await links.revoke_for(session, party_id=uuid.UUID(ready.parties["parent"]), now=clock())
    status, location = await click(client, parent)
    assert 400 <= status < 500 and location is None
    assert len(await events(client, meeting["id"])) == 1


async def test_party_removed_then_click_is_refused_at_once(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, _meeting, found = await booked(client, staff)
    clock.set(START)
    parent, officer = found[ready.parties["parent"]], found[ready.parties["la_officer"]]
    assert (await click(client, parent))[0] == 303
    assert (await click(client, officer))[0] == 303
    await staff.call(
        "DELETE", f"/api/v1/cases/{ready.case_id}/parties/{ready.parties['parent']}", expect=204
    )
    assert 400 <= (await click(client, parent))[0] < 500
    # The parent clicked, so the room moves: until the outbox has made the new one, the
    # others wait a moment ("being prepared"); then their same links lead into it.
    assert (await click(client, officer))[0] == 503
    await deliver_outbox(client)
    assert (await click(client, officer))[0] == 303  # the others still get in


async def test_reschedule_and_cancel_kill_cached_links_at_once(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    parent = found[ready.parties["parent"]]
    assert (await click(client, parent))[0] == 303
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={
            "start": iso(START + timedelta(minutes=20)),
            "duration_minutes": 120,
            "waive_rules": True,  # moved on the day itself: less notice than the rules ask
            "waiver_reason": "Family agreed to start later",
        },
        expect=200,
    )
    assert 400 <= (await click(client, parent))[0] < 500
    await deliver_outbox(client)
    fresh = (await join_links(staff, meeting["id"]))["mediator"]
    assert (await click(client, fresh))[0] == 303
    await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"}, expect=200
    )
    assert 400 <= (await click(client, fresh))[0] < 500


async def test_a_replaced_room_is_used_by_the_next_click(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    parent = found[ready.parties["parent"]]
    await let_in(client, staff, meeting["id"], found, ready.parties["parent"])
    _, first = await click(client, parent)
    async with client.app[DB].write() as session:
        row = await session.get(Meeting, uuid.UUID(meeting["id"]))
        assert row is not None and row.provider_room is not None
        moved = dict(row.provider_room)
        moved["room_id"] = moved["data"]["room"] = "fallback-room-0123456789"
        row.provider_room = moved
    status, second = await click(client, parent)
    assert status == 303 and second is not None and first != second
    assert "fallback-room-0123456789" in second


async def test_expiry_is_checked_on_every_click_even_from_memory(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    parent = found[ready.parties["parent"]]
    assert (await click(client, parent))[0] == 303
    clock.set(START + timedelta(hours=3, minutes=61))  # past the end plus the grace period
    status, location = await click(client, parent)
    assert 400 <= status < 500 and location is None
    assert len(await events(client, meeting["id"])) == 1


async def test_a_change_from_another_replica_is_seen_within_the_ttl(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready, _meeting, found = await booked(client, staff)
    clock.set(START)
    ticking = FakeMonotonic()
    cache = cache_of(client)
    assert cache.ttl == 5.0
    monkeypatch.setattr(cache, "_monotonic", ticking)  # the started app's own cache
    parent = found[ready.parties["parent"]]
    assert (await click(client, parent))[0] == 303
    # Another replica revokes the link: a write that never passes through this process's
    # sessions, so nothing here bumps the generation.
    async with client.app[DB].writer_engine.begin() as connection:
        await connection.execute(
            sa.update(Link)
            .where(col(Link.party_id) == uuid.UUID(ready.parties["parent"]))
            .values(revoked_at=clock())
        )
    ticking.value += 4.9
    assert (await click(client, parent))[0] == 303  # the documented bound: under 5 s
    ticking.value += 0.2
    assert 400 <= (await click(client, parent))[0] < 500


async def test_generation_moves_only_on_committed_link_changes(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    before = link_cache.generation()
    async with client.app[DB].read() as session:
        await session.get(Link, "nothing")
    assert link_cache.generation() == before  # reads never drop the cache
    try:
        async with client.app[DB].write() as session:
            await links.revoke_for(
                session, party_id=uuid.UUID(ready.parties["parent"]), now=clock()
            )
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert link_cache.generation() == before  # nothing committed, nothing dropped
    async with client.app[DB].write() as session:
        await links.revoke_for(session, party_id=uuid.UUID(ready.parties["parent"]), now=clock())
        async with session.begin_nested():  # a savepoint released: nothing committed yet
            await session.get(Link, "nothing")
        assert link_cache.generation() == before
        with contextlib.suppress(RuntimeError):  # a savepoint rolled back: the change stands
            async with session.begin_nested():
                raise RuntimeError("rolled back to the savepoint")
    assert link_cache.generation() > before


def test_cache_is_bounded_and_ignores_reads_that_raced_a_change() -> None:
    ticking = FakeMonotonic()
    cache = link_cache.JoinLinkCache(ttl=5.0, max_entries=3, monotonic=ticking)
    seen = link_cache.generation()
    for n in range(5):
        cache.put(f"t{n}", link_id=f"l{n}", not_before=0, expires=1, facts=n, seen=seen)
    assert len(cache) == 3 and cache.get("t0") is None and cache.get("t4") is not None
    link_cache.bump()  # a change committed while a click was reading
    cache.put("late", link_id="l", not_before=0, expires=1, facts=0, seen=seen)
    assert cache.get("late") is None and len(cache) == 0


async def test_a_burst_of_clicks_on_a_fresh_link_is_one_read(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock, monkeypatch: Any
) -> None:
    """Clicks that miss the cache together share one verify-and-read; each is recorded."""
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    reads: list[str] = []
    real_load = join_facts.load_join_facts

    async def counting_load(connection: Any, *, link_id: str) -> Any:
        reads.append(link_id)
        await asyncio.sleep(0.05)  # a slow database: the rest of the burst arrives meanwhile
        return await real_load(connection, link_id=link_id)

    monkeypatch.setattr(join_facts, "load_join_facts", counting_load)
    parent = found[ready.parties["parent"]]
    answers = await asyncio.gather(*(click(client, parent) for _ in range(20)))
    assert [status for status, _ in answers] == [303] * 20
    assert len({location for _, location in answers}) == 1
    assert len(reads) == 1
    assert len(await events(client, meeting["id"])) == 20


async def test_a_burst_of_forged_clicks_is_refused_and_keeps_nothing(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START)
    genuine = path_of(found[ready.parties["parent"]]["url"])
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    answers = await asyncio.gather(*(get(client, forged + "/video") for _ in range(10)))
    assert all(400 <= status < 500 and location is None for status, _, location in answers)
    cache = cache_of(client)
    assert len(cache) == 0 and not cache._loading
    assert await events(client, meeting["id"]) == []
