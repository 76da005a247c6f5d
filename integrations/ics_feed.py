"""Busy time from a published ICS feed URL (Google, Outlook, Apple, school calendars)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from calendars.busy import busy_from_ics
from calendars.errors import CalendarParseError, CalendarTooLarge
from calendars.intervals import Interval
from integrations.base import CalendarSource
from integrations.errors import CalendarSourceError

_CHUNK_BYTES = 64 * 1024
_RETRYABLE_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class CachedFeed:
    """A feed body as last fetched, with the validators to revalidate it."""

    body: bytes
    etag: str | None
    last_modified: str | None
    fetched_at: float


class FeedCache:
    """Feed bodies in memory, keyed by URL; entries younger than ``max_age_s`` are reused as is."""

    def __init__(
        self,
        *,
        max_age_s: float = 300,
        max_entries: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, CachedFeed] = {}

    def get(self, url: str) -> CachedFeed | None:
        """Return the cached feed for ``url``, however old."""
        return self._entries.get(url)

    def is_fresh(self, entry: CachedFeed) -> bool:
        """Tell whether ``entry`` is young enough to use without asking the server."""
        return self._clock() - entry.fetched_at < self.max_age_s

    def store(
        self, url: str, body: bytes, *, etag: str | None, last_modified: str | None
    ) -> CachedFeed:
        """Remember a freshly fetched body, evicting the oldest entry when full."""
        self._entries.pop(url, None)
        if len(self._entries) >= self.max_entries:
            oldest = min(self._entries, key=lambda key: self._entries[key].fetched_at)
            del self._entries[oldest]
        entry = CachedFeed(body, etag, last_modified, self._clock())
        self._entries[url] = entry
        return entry

    def revalidated(self, url: str, entry: CachedFeed) -> CachedFeed:
        """Mark ``entry`` as confirmed unchanged by the server just now."""
        return self.store(url, entry.body, etag=entry.etag, last_modified=entry.last_modified)


class IcsFeedSource(CalendarSource):
    """Someone's published ICS feed, fetched with validators, bounded in size and time.

    Error messages never include the URL: feed URLs often carry a secret token.
    """

    def __init__(
        self,
        url: str,
        http: aiohttp.ClientSession,
        *,
        cache: FeedCache | None = None,
        timeout_s: float = 10,
        max_bytes: int = 5_000_000,
        default_tz: str = "Europe/London",
    ) -> None:
        self.url = normalise_feed_url(url)
        self._http = http
        self._cache = cache
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._default_tz = default_tz

    async def busy(self, start: datetime, end: datetime) -> list[Interval]:
        """Busy intervals overlapping [start, end). Raises CalendarSourceError."""
        body = await self._body()
        try:
            return await asyncio.to_thread(
                busy_from_ics, body, start, end, default_tz=self._default_tz
            )
        except CalendarTooLarge as exc:
            raise _error("feed has too many events to read", retryable=False) from exc
        except CalendarParseError as exc:
            raise _error("feed is not valid iCalendar", retryable=False) from exc

    async def _body(self) -> bytes:
        cached = self._cache.get(self.url) if self._cache else None
        if cached and self._cache and self._cache.is_fresh(cached):
            return cached.body
        headers = {"Accept": "text/calendar, */*;q=0.5"}
        if cached and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._fetch(headers, cached)
        except TimeoutError:
            raise _error(f"feed timed out after {self._timeout_s:g} s", retryable=True) from None
        except aiohttp.ClientError as exc:
            # The exception's text names the URL, which may hold a secret: do not chain it.
            raise _error(
                f"feed could not be reached ({type(exc).__name__})", retryable=True
            ) from None

    async def _fetch(self, headers: dict[str, str], cached: CachedFeed | None) -> bytes:
        async with self._http.get(self.url, headers=headers) as response:
            if response.status == 304 and cached is not None:
                if self._cache:
                    self._cache.revalidated(self.url, cached)
                return cached.body
            if response.status != 200:
                raise _error(
                    f"feed answered HTTP {response.status}",
                    retryable=response.status >= 500 or response.status in _RETRYABLE_STATUSES,
                )
            if response.content_length is not None and response.content_length > self._max_bytes:
                raise self._too_large()
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                body += chunk
                if len(body) > self._max_bytes:
                    raise self._too_large()
            if response.content_type == "text/html" and not _looks_like_icalendar(body):
                # Most often the calendar's web page was pasted instead of its iCal address.
                raise _error(
                    "feed answered a web page, not a calendar (use its iCal address)",
                    retryable=False,
                )
            data = bytes(body)  # one copy, shared by the cache and the caller
            if self._cache:
                self._cache.store(
                    self.url,
                    data,
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
            return data

    def _too_large(self) -> CalendarSourceError:
        return _error(f"feed larger than {_human_size(self._max_bytes)}", retryable=False)


def normalise_feed_url(url: str) -> str:
    """Turn ``webcal://`` into ``https://``; refuse any scheme but http and https."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in {"webcal", "webcals"}:
        scheme = "https"
    if scheme not in {"http", "https"} or not parts.netloc:
        raise _error("feed URL must start with https://, http:// or webcal://", retryable=False)
    return urlunsplit(parts._replace(scheme=scheme))


def _looks_like_icalendar(body: bytes | bytearray) -> bool:
    return bytes(body[:64]).lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR")


def _error(message: str, *, retryable: bool) -> CalendarSourceError:
    error = CalendarSourceError(message, provider="ics")
    error.retryable = retryable
    return error


def _human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    if size >= 1_000:
        return f"{size / 1_000:g} kB"
    return f"{size} bytes"
