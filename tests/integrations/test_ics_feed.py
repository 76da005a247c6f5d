"""ICS feeds served over loopback HTTP: caching, revalidation, and feeds that misbehave."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from calendars.intervals import Interval
from integrations.errors import CalendarSourceError
from integrations.ics_feed import FeedCache, IcsFeedSource, normalise_feed_url

WINDOW = (datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC))
SECRET = "s3cr3t-token"

GOOD_FEED = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//feed//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:weekly@example.org\r\nDTSTAMP:20250101T000000Z\r\n"
    b"SUMMARY:Clinic\r\nDTSTART;TZID=Europe/London:20250303T100000\r\n"
    b"DTEND;TZID=Europe/London:20250303T120000\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)
GOOD_BUSY = [
    Interval(datetime(2025, 3, 3, 10, tzinfo=UTC), datetime(2025, 3, 3, 12, tzinfo=UTC)),
    Interval(datetime(2025, 3, 4, 10, tzinfo=UTC), datetime(2025, 3, 4, 12, tzinfo=UTC)),
]


class FeedServer:
    """A loopback web server publishing feeds, recording the headers it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/good.ics", self.good)
        self.app.router.add_get("/dated.ics", self.dated)
        self.app.router.add_get("/malformed.ics", self.malformed)
        self.app.router.add_get("/huge.ics", self.huge)
        self.app.router.add_get("/huge-declared.ics", self.huge_declared)
        self.app.router.add_get("/slow.ics", self.slow)
        self.server = TestServer(self.app, host="127.0.0.1")

    def url(self, path: str) -> str:
        return str(self.server.make_url(path).with_query(token=SECRET))

    def seen(self, path: str) -> list[dict[str, str]]:
        return [headers for seen_path, headers in self.requests if seen_path == path]

    def _record(self, request: web.Request) -> None:
        self.requests.append((request.path, dict(request.headers)))

    async def good(self, request: web.Request) -> web.Response:
        self._record(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=GOOD_FEED, content_type="text/calendar", headers={"ETag": '"v1"'})

    async def dated(self, request: web.Request) -> web.Response:
        self._record(request)
        stamp = "Mon, 03 Mar 2025 08:00:00 GMT"
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        return web.Response(
            body=GOOD_FEED, content_type="text/calendar", headers={"Last-Modified": stamp}
        )

    async def malformed(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(
            text="<html><body>Please sign in</body></html>", content_type="text/html"
        )

    async def huge(self, request: web.Request) -> web.StreamResponse:
        """Stream without a Content-Length, so only counting the bytes can catch it."""
        self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "text/calendar"})
        await response.prepare(request)
        chunk = b"X-FILLER:" + b"x" * 65_000 + b"\r\n"
        for _ in range(100):  # about 6.5 MB
            await response.write(chunk)
        await response.write_eof()
        return response

    async def huge_declared(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(body=b"x" * 2_000, content_type="text/calendar")

    async def slow(self, request: web.Request) -> web.Response:
        self._record(request)
        await asyncio.sleep(30)
        return web.Response(body=GOOD_FEED, content_type="text/calendar")


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.server.start_server()
    yield server
    await server.server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def failure_message(call: Callable[[], Awaitable[object]]) -> str:
    with pytest.raises(CalendarSourceError) as caught:
        await call()
    message = str(caught.value)
    assert SECRET not in message and "127.0.0.1" not in message
    return message


async def test_good_feed_gives_busy_time(feeds: FeedServer, http: aiohttp.ClientSession) -> None:
    source = IcsFeedSource(feeds.url("/good.ics"), http)

    assert await source.busy(*WINDOW) == GOOD_BUSY


async def test_fresh_cache_is_reused_without_asking_again(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/good.ics"), http, cache=FeedCache(max_age_s=600))

    first = await source.busy(*WINDOW)
    second = await source.busy(*WINDOW)

    assert first == second == GOOD_BUSY
    assert len(feeds.seen("/good.ics")) == 1


async def test_stale_cache_is_revalidated_with_etag(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/good.ics"), http, cache=FeedCache(max_age_s=0))

    first = await source.busy(*WINDOW)
    second = await source.busy(*WINDOW)

    requests = feeds.seen("/good.ics")
    assert len(requests) == 2
    assert "If-None-Match" not in requests[0]
    assert requests[1]["If-None-Match"] == '"v1"'  # answered 304 Not Modified
    assert first == second == GOOD_BUSY


async def test_stale_cache_is_revalidated_with_last_modified(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/dated.ics"), http, cache=FeedCache(max_age_s=0))

    await source.busy(*WINDOW)
    second = await source.busy(*WINDOW)

    requests = feeds.seen("/dated.ics")
    assert requests[1]["If-Modified-Since"] == "Mon, 03 Mar 2025 08:00:00 GMT"
    assert second == GOOD_BUSY


async def test_a_web_page_instead_of_a_feed_is_reported(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/malformed.ics"), http)

    assert await failure_message(lambda: source.busy(*WINDOW)) == (
        "feed answered a web page, not a calendar (use its iCal address)"
    )


async def test_huge_streamed_feed_is_cut_off(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/huge.ics"), http)

    assert await failure_message(lambda: source.busy(*WINDOW)) == "feed larger than 5 MB"


async def test_feed_declaring_too_large_a_length_is_refused(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/huge-declared.ics"), http, max_bytes=1_000)

    assert await failure_message(lambda: source.busy(*WINDOW)) == "feed larger than 1 kB"


async def test_slow_feed_times_out(feeds: FeedServer, http: aiohttp.ClientSession) -> None:
    source = IcsFeedSource(feeds.url("/slow.ics"), http, timeout_s=0.2)

    assert await failure_message(lambda: source.busy(*WINDOW)) == "feed timed out after 0.2 s"


async def test_missing_feed_reports_the_status(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    source = IcsFeedSource(feeds.url("/gone.ics"), http)

    with pytest.raises(CalendarSourceError) as caught:
        await source.busy(*WINDOW)

    assert str(caught.value) == "feed answered HTTP 404"
    assert caught.value.retryable is False


async def test_unreachable_feed_is_retryable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = IcsFeedSource(f"http://127.0.0.1:{port}/feed.ics?token={SECRET}", http, timeout_s=2)

    with pytest.raises(CalendarSourceError) as caught:
        await source.busy(*WINDOW)

    assert str(caught.value).startswith("feed could not be reached")
    assert SECRET not in str(caught.value)
    assert caught.value.retryable is True


async def test_one_broken_feed_does_not_spoil_the_others(
    feeds: FeedServer, http: aiohttp.ClientSession
) -> None:
    sources = [
        IcsFeedSource(feeds.url("/malformed.ics"), http),
        IcsFeedSource(feeds.url("/good.ics"), http),
        IcsFeedSource(feeds.url("/slow.ics"), http, timeout_s=0.2),
    ]

    results = await asyncio.gather(
        *(source.busy(*WINDOW) for source in sources), return_exceptions=True
    )

    assert isinstance(results[0], CalendarSourceError)
    assert results[1] == GOOD_BUSY
    assert isinstance(results[2], CalendarSourceError)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("webcal://calendar.example.org/u/feed.ics", "https://calendar.example.org/u/feed.ics"),
        ("WEBCAL://calendar.example.org/a.ics?k=1", "https://calendar.example.org/a.ics?k=1"),
        ("https://calendar.example.org/a.ics", "https://calendar.example.org/a.ics"),
        ("http://calendar.example.org/a.ics", "http://calendar.example.org/a.ics"),
    ],
)
def test_webcal_urls_are_fetched_over_https(given: str, expected: str) -> None:
    assert normalise_feed_url(given) == expected


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/a.ics", "javascript:alert(1)", "feed.ics"]
)
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(CalendarSourceError, match="must start with https://"):
        normalise_feed_url(url)
