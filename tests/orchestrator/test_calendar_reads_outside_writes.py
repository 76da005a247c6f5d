"""A slow calendar feed must not hold up the rest of the service while a poll or plan reads it.

On SQLite one write transaction at a time holds the database, so a poll or plan that read
the mediator's feed inside its transaction would stall every other write (a new case, a join
click) for as long as the feed took. Here the feed answers only once a case has been opened
meanwhile: read inside a write transaction, neither could finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.availability_support import (
    add_party,
    ics,
    make_case,
    make_mediator,
    whole_days,
)
from tests.orchestrator.web_support import Browser, make_user

T = TypeVar("T")

# Generous: the poll and the new case each take well under a second when nothing stalls.
LIMIT_S = 20.0
# The mediator is away on Monday 9 and Tuesday 10 March, the first days the notice allows.
AWAY = whole_days(datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Wait for a feed far longer than the test does, so only a stall can end the wait."""
    return settings.model_copy(update={"calendar_timeout_seconds": 120.0})


class SlowFeed:
    """A loopback ICS feed that answers only once released, and says when it is first asked."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/mediator.ics", self.serve)
        self.server = TestServer(app, host="127.0.0.1")

    def url(self) -> str:
        return str(self.server.make_url("/mediator.ics"))

    async def serve(self, request: web.Request) -> web.Response:
        self.asked.set()
        await self.release.wait()
        return web.Response(body=ics(AWAY), content_type="text/calendar")


@pytest.fixture
async def slow_feed() -> AsyncIterator[SlowFeed]:
    feed = SlowFeed()
    await feed.server.start_server()
    yield feed
    feed.release.set()
    await feed.server.close()


async def while_the_feed_waits(feed: SlowFeed, staff: Staff, asking: Awaitable[T]) -> T:
    """Start ``asking``; once it waits on the feed, open a case; then let the feed answer."""
    waiting = asyncio.ensure_future(asking)
    try:
        await asyncio.wait_for(feed.asked.wait(), LIMIT_S)
        opened = await asyncio.wait_for(
            staff.call(
                "POST",
                "/api/v1/cases",
                json={
                    "reference": "KIDS-2026-0999",
                    "kind": "mediation",
                    "local_authority": "Kent",
                    "referral_date": "2026-03-02",
                },
                expect=201,
            ),
            LIMIT_S,
        )
        # The case was opened while the first request was still waiting for the feed.
        assert opened["reference"] == "KIDS-2026-0999", opened
        assert not waiting.done()
    except BaseException:
        waiting.cancel()
        raise
    finally:
        feed.release.set()
    return await asyncio.wait_for(waiting, LIMIT_S)


def not_while_away(candidates: list[str]) -> list[str]:
    return [c for c in candidates if c.startswith(("2026-03-09", "2026-03-10"))]


async def test_a_case_opens_while_a_poll_waits_for_the_mediators_feed(
    staff: Staff, slow_feed: SlowFeed
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": slow_feed.url()})
    await add_party(staff, case["id"])

    path = f"/api/v1/cases/{case['id']}/availability-requests"
    poll = await while_the_feed_waits(
        slow_feed, staff, staff.call("POST", path, json={"duration_minutes": 180}, expect=201)
    )

    # The poll still respects what the feed said: nothing on the days the mediator is away.
    assert poll["candidates"], poll
    assert not not_while_away(poll["candidates"])


async def test_a_case_opens_while_a_poll_sent_with_an_idempotency_key_waits_for_the_feed(
    staff: Staff, slow_feed: SlowFeed
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": slow_feed.url()})
    await add_party(staff, case["id"])
    path = f"/api/v1/cases/{case['id']}/availability-requests"
    headers = {**staff.headers("scheduler"), "Idempotency-Key": "poll-while-feed-waits"}

    async def ask() -> tuple[int, dict[str, Any]]:
        response = await staff.client.post(path, json={"duration_minutes": 180}, headers=headers)
        return response.status, await response.json()

    status, poll = await while_the_feed_waits(slow_feed, staff, ask())

    assert status == 201, poll
    assert poll["candidates"] and not not_while_away(poll["candidates"])
    # Sent again, the key answers the same poll and opens no other.
    again = await staff.client.post(path, json={"duration_minutes": 180}, headers=headers)
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["poll_id"] == poll["poll_id"]


async def test_a_case_opens_while_the_staff_page_polls_and_waits_for_the_feed(
    staff: Staff, slow_feed: SlowFeed
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": slow_feed.url()})
    await add_party(staff, case["id"])
    await make_user(staff.client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(staff.client)
    await browser.sign_in("sam@staff.example")

    asked = await while_the_feed_waits(
        slow_feed,
        staff,
        browser.post(f"/staff/cases/{case['id']}/availability", {"duration_minutes": "180"}),
    )

    assert asked.status == 303
    assert "notice=asked" in asked.headers["Location"]
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}/availability", expect=200)
    assert shown["candidates"], shown
    assert not not_while_away(shown["candidates"])


async def test_a_case_opens_while_a_plan_waits_for_the_mediators_feed(
    staff: Staff, slow_feed: SlowFeed
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": slow_feed.url()})
    await add_party(staff, case["id"], email=None, phone="07700 900201")

    plan = await while_the_feed_waits(
        slow_feed,
        staff,
        staff.call("POST", "/api/v1/plans", json={"duration_minutes": 180}, expect=200),
    )

    # The plan still respects what the feed said: the first day the mediator is free.
    assert [b["case_id"] for b in plan["bookings"]] == [case["id"]], plan
    assert plan["bookings"][0]["start"].startswith("2026-03-11"), plan


async def test_a_poll_refuses_if_a_calendar_changed_while_it_was_read(
    staff: Staff, slow_feed: SlowFeed
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": slow_feed.url()})
    party = await add_party(staff, case["id"])
    path = f"/api/v1/cases/{case['id']}/availability-requests"
    waiting = asyncio.ensure_future(
        staff.call("POST", path, json={"duration_minutes": 180}, expect=409)
    )
    try:
        await asyncio.wait_for(slow_feed.asked.wait(), LIMIT_S)
        # Meanwhile the parent shares a calendar: the times read so far no longer cover them.
        await staff.call(
            "PATCH",
            f"/api/v1/cases/{case['id']}/parties/{party['id']}",
            json={"calendar": {"ics_url": "https://calendar.family.example/pat.ics"}},
            expect=200,
        )
    finally:
        slow_feed.release.set()
    refused = await asyncio.wait_for(waiting, LIMIT_S)

    assert refused["error"]["code"] == "conflict", refused
    assert "changed while they were being read; try again" in refused["error"]["message"]
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}/availability", expect=200)
    assert shown["poll"] is None
