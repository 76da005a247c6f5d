"""Hostile calendar feeds behind ``GET /slots``: each refused clearly, in bounded time and memory.

A school's calendar is an ICS URL (with a secret token in it) served by a loopback server
that misbehaves in one way per test: truncated, binary, gigantic, runaway rules, absurd
dates, broken nesting, a trickle, a redirect loop, a web page. The scheduler must get a 200
naming that calendar and why it failed, never a 500 or a hang, while the LA officer's good
feed still rules out the days they are busy; the feed's token must show up nowhere.

The time guard is not a speed test: it fails only when a request hangs well past the feed
timeout. The memory cap is likewise far above what a bounded read takes and far below
what reading a gigantic feed in full takes (hundreds of megabytes).
"""

from __future__ import annotations

import asyncio
import logging
import random
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from orchestrator.core.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.availability_support import (
    SECRET,
    add_party,
    ics,
    make_case,
    make_mediator,
    poll_link_for,
    request_poll,
    whole_days,
)

FEED_TIMEOUT_S = 1.0
HANG_GUARD_S = FEED_TIMEOUT_S + 60.0
MEMORY_CAP_BYTES = 40_000_000
FEED_CAP_BYTES = 5_000_000  # BusyReader's default, which the app uses


def day(d: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, d, hour, tzinfo=UTC)


def calendar(*events: str) -> bytes:
    """A VCALENDAR around VEVENT bodies given one property per line."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//hostile//EN"]
    for n, body in enumerate(events):
        lines += ["BEGIN:VEVENT", f"UID:{n}@hostile.test", *body.strip().splitlines()]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def every_day_from(start: str, count: int) -> list[str]:
    """``count`` daily-repeating events without end, starting at ``start``."""
    return [f"DTSTART:{start}\nDTEND:{start[:9]}235900Z\nRRULE:FREQ=DAILY"] * count


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of a few hundred kilobytes that inflates to ``inflated`` bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    megabyte = b"x" * 1_000_000
    parts = [packer.compress(b"BEGIN:VCALENDAR\r\nX-PAD:")]
    parts += [packer.compress(megabyte) for _ in range(inflated // len(megabyte))]
    return b"".join(parts) + packer.flush()


def packed_just_under_the_cap() -> bytes:
    """Some 45,000 one-hour events on 11 March: nine tenths of the size cap."""
    event = "DTSTART:20260311T090000Z\nDTEND:20260311T100000Z"
    one = len(calendar(event, event)) - len(calendar(event))
    return calendar(*[event] * (FEED_CAP_BYTES * 9 // 10 // one))


WHOLE_DAY_11 = "DTSTART:20260311T060000Z\nDTEND:20260311T200000Z"
# The LA officer is out on Monday 9 and Tuesday 10 March.
LA_BUSY_DAYS = {9, 10}

FEEDS: dict[str, bytes] = {
    "good": ics(whole_days(day(9), day(10))),
    "truncated": calendar(WHOLE_DAY_11)[:-40],
    "binary": random.Random(8).randbytes(300_000),
    "packed": packed_just_under_the_cap(),
    "secondly": calendar("DTSTART:20260302T000000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY"),
    "minutely": calendar("DTSTART:20240101T000000Z\nDURATION:PT1M\nRRULE:FREQ=MINUTELY"),
    "thousands-of-rules": calendar(*every_day_from("19900101T060000Z", 3000)),
    "never-matching-rule": calendar(
        "DTSTART:20150101T000000Z\nDURATION:PT1M\n"
        "RRULE:FREQ=MINUTELY;COUNT=5;BYMONTH=2;BYMONTHDAY=30"
    ),
    "standing-rule": calendar(
        "DTSTART:20260302T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;INTERVAL=0"
    ),
    "rule-from-year-1": calendar("DTSTART:00010101T000000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY"),
    "ends-in-year-9999": calendar(
        "DTSTART;TZID=America/Los_Angeles:20260311T090000\n"
        "DTEND;TZID=America/Los_Angeles:99991231T235959"
    ),
    "nested": b"BEGIN:VCALENDAR\r\n" * 5000 + calendar(WHOLE_DAY_11),
    "unterminated": calendar(WHOLE_DAY_11).removesuffix(b"END:VCALENDAR\r\n"),
    "html": b"<!DOCTYPE html><html><body><h1>Sign in to see this calendar</h1></body></html>",
}
GZIP_BOMB = gzip_bomb(20 * FEED_CAP_BYTES)
# Read without complaint: a daily rule whose 2,000-odd EXDATEs leave only 11 March busy...
SINCE_2020 = datetime(2020, 1, 1, 6, tzinfo=UTC)
EXDATES = [SINCE_2020 + timedelta(days=n) for n in range((day(2) - SINCE_2020).days)]
FEEDS["thousands-of-exdates"] = calendar(
    "DTSTART:20200101T060000Z\nDTEND:20200101T200000Z\nRRULE:FREQ=DAILY;UNTIL=20260311T235959Z\n"
    + "\n".join(f"EXDATE:{moment:%Y%m%dT%H%M%SZ}" for moment in EXDATES)
    + "\n"
    + "\n".join(f"EXDATE:{day(d, 6):%Y%m%dT%H%M%SZ}" for d in range(2, 11))
)
# ... and years 1 and 9999 are ignored beside a reversed event and a real day off.
FEEDS["absurd-dates"] = calendar(
    "DTSTART:00010101T000000Z\nDTEND:00010101T010000Z",
    "DTSTART:99991231T230000Z\nDTEND:99991231T235959Z",
    "DTSTART:20260312T170000Z\nDTEND:20260312T080000Z",
    WHOLE_DAY_11,
)


class HostileFeeds:
    """A loopback server: ``/{name}.ics`` misbehaves as its name says; ``good`` is good."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_get("/gigantic.ics", self.gigantic)
        app.router.add_get("/gigantic-declared.ics", self.gigantic_declared)
        app.router.add_get("/gzip-bomb.ics", self.gzip_bomb)
        app.router.add_get("/trickle.ics", self.trickle)
        app.router.add_get("/redirect-loop.ics", self.redirect_loop)
        app.router.add_get("/wrong-type.ics", self.wrong_type)
        app.router.add_get("/{name}.ics", self.fixed)
        self.server = TestServer(app, host="127.0.0.1")

    def url(self, name: str) -> str:
        return str(self.server.make_url(f"/{name}.ics").with_query(token=SECRET))

    async def fixed(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        content_type = "text/html" if name == "html" else "text/calendar"
        return web.Response(body=FEEDS[name], content_type=content_type)

    async def gigantic(self, request: web.Request) -> web.StreamResponse:
        """Stream a calendar that never ends, without a length, until the reader hangs up."""
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        await response.write(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
        chunk = b"X-PAD:" + b"x" * 65_000 + b"\r\n"
        try:
            for _ in range(20 * FEED_CAP_BYTES // len(chunk)):
                await response.write(chunk)
        except ConnectionError:
            pass
        return response

    async def gigantic_declared(self, request: web.Request) -> web.StreamResponse:
        """Announce a gigantic body, then send only its first line."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/calendar", "Content-Length": str(10**12)}
        )
        await response.prepare(request)
        try:
            await response.write(b"BEGIN:VCALENDAR\r\n")
        except ConnectionError:
            pass
        return response

    async def gzip_bomb(self, request: web.Request) -> web.Response:
        """A hundred kilobytes on the wire that inflate to twenty times the size cap."""
        return web.Response(
            body=GZIP_BOMB,
            headers={"Content-Type": "text/calendar", "Content-Encoding": "gzip"},
        )

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        """A byte every tenth of a second: never stalled long enough for a read timeout."""
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        try:
            for byte in (calendar(WHOLE_DAY_11) * 100)[:3000]:
                await response.write(bytes([byte]))
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        return response

    async def redirect_loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.url("redirect-loop"))

    async def wrong_type(self, request: web.Request) -> web.Response:
        """A good calendar labelled as a download: read all the same."""
        return web.Response(body=calendar(WHOLE_DAY_11), content_type="application/octet-stream")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with a one-second feed timeout, so a trickle costs a second."""
    return settings.model_copy(update={"calendar_timeout_seconds": FEED_TIMEOUT_S})


@pytest.fixture
async def hostile() -> AsyncIterator[HostileFeeds]:
    feeds = HostileFeeds()
    await feeds.server.start_server(access_log=None)  # its own log would hold the token
    yield feeds
    await feeds.server.close()


@dataclass
class Case:
    id: str
    la_id: str
    school_id: str
    parent_id: str
    mediator_id: str


async def case_with(
    staff: Staff, hostile: HostileFeeds, *, school: str = "good", mediator: str | None = None
) -> Case:
    """An LA officer on the good feed, a school on ``school``, a polled parent, a mediator."""
    made = await make_case(staff)
    calendar_of = {"calendar": {"ics_url": hostile.url(mediator)}} if mediator else {}
    chosen = await make_mediator(staff, made["id"], **calendar_of)
    la = await add_party(
        staff, made["id"], role="la_officer", name="Lee", email="lee@la.example",
        calendar={"ics_url": hostile.url("good")},
    )  # fmt: skip
    school_party = await add_party(
        staff, made["id"], role="school", name="Sam", email="sam@school.example",
        calendar={"ics_url": hostile.url(school)},
    )  # fmt: skip
    parent = await add_party(staff, made["id"])
    return Case(made["id"], la["id"], school_party["id"], parent["id"], chosen["id"])


async def slots_within_bounds(staff: Staff, case_id: str) -> tuple[dict[str, Any], int]:
    """``GET /slots`` as the scheduler, failing on a hang; the answer and its memory peak."""
    tracemalloc.start()
    try:
        async with asyncio.timeout(HANG_GUARD_S):
            response = await staff.client.get(
                f"/api/v1/cases/{case_id}/slots?duration_minutes=180&limit=50",
                headers=staff.headers("scheduler"),
            )
            text = await response.text()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 200, text
    assert SECRET not in text and "127.0.0.1" not in text
    return await response.json(), peak


def days_offered(found: dict[str, Any]) -> set[int]:
    return {datetime.fromisoformat(s["start"]).astimezone(UTC).day for s in found["slots"]}


REFUSED = {
    "truncated": "feed is not valid iCalendar",
    "binary": "feed is not valid iCalendar",
    "gigantic": "feed larger than 5 MB",
    "gigantic-declared": "feed larger than 5 MB",
    "gzip-bomb": "feed larger than 5 MB",
    "packed": "feed has too many events to read",
    "secondly": "feed has too many events to read",
    "minutely": "feed has too many events to read",
    "thousands-of-rules": "feed has too many events to read",
    "never-matching-rule": "feed has too many events to read",
    "standing-rule": "feed is not valid iCalendar",
    "rule-from-year-1": "feed has too many events to read",
    "ends-in-year-9999": "feed is not valid iCalendar",
    "nested": "feed is not valid iCalendar",
    "unterminated": "feed is not valid iCalendar",
    "trickle": "feed timed out after 1 s",
    "redirect-loop": "feed could not be reached (TooManyRedirects)",
    "html": "feed answered a web page, not a calendar (use its iCal address)",
}


@pytest.mark.parametrize(("feed", "message"), list(REFUSED.items()), ids=list(REFUSED))
async def test_a_hostile_party_feed_is_named_and_the_others_still_count(
    staff: Staff,
    hostile: HostileFeeds,
    caplog: pytest.LogCaptureFixture,
    feed: str,
    message: str,
) -> None:
    case = await case_with(staff, hostile, school=feed)

    with caplog.at_level(logging.DEBUG):
        found, peak = await slots_within_bounds(staff, case.id)

    assert found["calendar_errors"] == [
        {"who": "party", "party_id": case.school_id, "mediator_id": None, "message": message}
    ]
    assert found["slots"], "the other calendars still give times"
    assert not days_offered(found) & LA_BUSY_DAYS, "the LA officer's good feed still counts"
    assert all(s["parties"][case.school_id] == "unknown" for s in found["slots"])
    assert peak < MEMORY_CAP_BYTES, f"reading the feed peaked at {peak / 1e6:.0f} MB"
    assert SECRET not in caplog.text


@pytest.mark.parametrize("feed", ["thousands-of-exdates", "absurd-dates", "wrong-type"])
async def test_odd_but_readable_feeds_are_read(
    staff: Staff, hostile: HostileFeeds, feed: str
) -> None:
    """Each of these says the school is busy on 11 March, and nothing else unusual."""
    case = await case_with(staff, hostile, school=feed)

    found, peak = await slots_within_bounds(staff, case.id)

    assert found["calendar_errors"] == []
    offered = days_offered(found)
    assert offered and 11 not in offered and not offered & LA_BUSY_DAYS
    assert peak < MEMORY_CAP_BYTES


async def test_a_hostile_mediator_feed_is_named_and_the_parties_still_count(
    staff: Staff, hostile: HostileFeeds
) -> None:
    case = await case_with(staff, hostile, mediator="thousands-of-rules")

    found, _ = await slots_within_bounds(staff, case.id)

    assert found["calendar_errors"] == [
        {
            "who": "mediator",
            "party_id": None,
            "mediator_id": case.mediator_id,
            "message": "feed has too many events to read",
        }
    ]
    assert found["slots"] and not days_offered(found) & LA_BUSY_DAYS


async def test_other_parties_never_see_the_failure_or_the_feed_address(
    staff: Staff, hostile: HostileFeeds
) -> None:
    case = await case_with(staff, hostile, school="binary")
    await request_poll(staff, case.id)
    found, _ = await slots_within_bounds(staff, case.id)
    assert found["calendar_errors"]

    poll_page = await staff.client.get(await poll_link_for(staff, "pat@family.example"))
    text = await poll_page.text()

    assert poll_page.status == 200
    assert SECRET not in text and "binary.ics" not in text and "not valid iCalendar" not in text
    parties = await staff.call("GET", f"/api/v1/cases/{case.id}/parties", expect=200)
    assert SECRET not in str(parties)
