"""Reading one calendar's busy time (ICS feed or CalDAV free/busy), kept while it is fresh.

One ``BusyReader`` per app keeps feed bodies (``FeedCache``) and the busy intervals parsed
from them, so a repeated search neither downloads nor re-parses a feed that has not changed.
A calendar that cannot be read raises ``CalendarSourceError`` with a message that never
names its URL or credentials; ``busy_times`` turns that into a per-person error.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time as monotonic
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

import aiohttp

from calendars.intervals import Interval
from calendars.slots import SlotSearch
from integrations.caldav_source import CalDavSource
from integrations.errors import CalendarSourceError
from integrations.ics_feed import FeedCache, IcsFeedSource, normalise_feed_url
from orchestrator.core.settings import Settings

log = logging.getLogger(__name__)

# How many blocker counts (see ``slot_search.find_case_slots``) the reader keeps.
_BLOCKER_COUNTS_KEPT = 256


def _calendar_kind(config: Mapping[str, Any] | None) -> Literal["ics", "caldav"] | None:
    """Which kind of calendar a stored config names (an ICS feed wins), or None."""
    if not config:
        return None
    if config.get("ics_url"):
        return "ics"
    caldav = config.get("caldav")
    if isinstance(caldav, Mapping) and caldav.get("url"):
        return "caldav"
    return None


def has_calendar(config: Mapping[str, Any] | None) -> bool:
    """Say whether a stored calendar config names something we can read."""
    return _calendar_kind(config) is not None


# (kind, url, zone or user, window start, window end)
_Key = tuple[str, str, str, datetime, datetime]


@dataclass
class _Parsed:
    stored_at: float
    intervals: list[Interval] | None = None
    error: str | None = None
    body: bytes | None = None  # the feed body the intervals came from (ICS only)


class BusyReader:
    """Read busy time from ICS feeds and CalDAV, reusing what was read while it is fresh.

    Feed bodies live in ``feeds`` (revalidated with ETag/Last-Modified once stale); the busy
    intervals parsed from a body are kept beside it, keyed by source and whole-day window, and
    reused for as long as the cache still holds that same body. CalDAV answers are kept for
    ``max_age_s``. Failures are remembered for ``error_ttl_s`` so a dead feed does not slow
    every search. Messages never include a URL or credentials.
    """

    def __init__(
        self,
        *,
        max_age_s: float = 300.0,
        timeout_s: float = 10.0,
        error_ttl_s: float = 60.0,
        max_entries: int = 2000,
        max_feed_bytes: int = 5_000_000,
        clock: Callable[[], float] = monotonic.monotonic,
    ) -> None:
        self.feeds = FeedCache(max_age_s=max_age_s, max_entries=max_entries, clock=clock)
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.error_ttl_s = min(error_ttl_s, max_age_s)
        self.max_entries = max_entries
        self.max_feed_bytes = max_feed_bytes
        self._clock = clock
        self._parsed: OrderedDict[_Key, _Parsed] = OrderedDict()
        # Who blocks the target, per identical search: see ``slot_search.find_case_slots``.
        self.blocker_counts: OrderedDict[Hashable, SlotSearch] = OrderedDict()
        self._locks: dict[_Key, asyncio.Lock] = defaultdict(asyncio.Lock)

    def clear(self) -> None:
        """Forget every feed body, parsed interval and blocker count."""
        self.feeds = FeedCache(
            max_age_s=self.max_age_s, max_entries=self.max_entries, clock=self._clock
        )
        self._parsed.clear()
        self.blocker_counts.clear()

    def remember_blockers(self, key: Hashable, search: SlotSearch) -> None:
        """Keep a blocker count for identical searches (a few hundred at most)."""
        self.blocker_counts[key] = search
        while len(self.blocker_counts) > _BLOCKER_COUNTS_KEPT:
            self.blocker_counts.popitem(last=False)

    async def busy(
        self,
        config: Mapping[str, Any],
        window: Interval,
        *,
        http: aiohttp.ClientSession,
        default_tz: str = "Europe/London",
    ) -> list[Interval]:
        """Busy intervals of one calendar over (at least) ``window``; CalendarSourceError if not."""
        key = _key(config, window, default_tz)
        hit = self._fresh(key)
        if hit is None:
            async with self._locks[key]:
                hit = self._fresh(key)  # another request may have read it meanwhile
                if hit is None:
                    hit = await self._read(key, self._source(config, http, default_tz))
        return _outcome(hit)

    def cached(
        self, config: Mapping[str, Any], window: Interval, *, default_tz: str = "Europe/London"
    ) -> list[Interval] | None:
        """The fresh busy intervals already read for this calendar, or None (errors raise)."""
        hit = self._fresh(_key(config, window, default_tz))
        return None if hit is None else _outcome(hit)

    def _source(
        self, config: Mapping[str, Any], http: aiohttp.ClientSession, default_tz: str
    ) -> IcsFeedSource | CalDavSource:
        if _calendar_kind(config) == "ics":
            return IcsFeedSource(
                str(config["ics_url"]),
                http,
                cache=self.feeds,
                timeout_s=self.timeout_s,
                max_bytes=self.max_feed_bytes,
                default_tz=default_tz,
            )
        caldav = config.get("caldav")
        assert isinstance(caldav, Mapping)
        return CalDavSource(
            str(caldav["url"]),
            str(caldav.get("username", "")),
            str(caldav.get("password", "")),
            timeout_s=self.timeout_s,
        )

    def _fresh(self, key: _Key) -> _Parsed | None:
        entry = self._parsed.get(key)
        if entry is None:
            return None
        age = self._clock() - entry.stored_at
        if entry.error is not None:
            return entry if age < self.error_ttl_s else None
        if key[0] == "ics":
            cached = self.feeds.get(key[1])
            if cached is None or not self.feeds.is_fresh(cached) or cached.body is not entry.body:
                return None
            return entry
        return entry if age < self.max_age_s else None

    async def _read(self, key: _Key, source: IcsFeedSource | CalDavSource) -> _Parsed:
        try:
            intervals = await source.busy(key[-2], key[-1])
        except CalendarSourceError as exc:
            entry = _Parsed(stored_at=self._clock(), error=str(exc))
        except Exception:  # an adapter bug must not take every other calendar down with it
            log.exception("calendar read failed unexpectedly (%s)", type(source).__name__)
            entry = _Parsed(stored_at=self._clock(), error="calendar could not be read")
        else:
            body = None
            if isinstance(source, IcsFeedSource):
                cached = self.feeds.get(source.url)
                body = cached.body if cached is not None else None
            entry = _Parsed(stored_at=self._clock(), intervals=intervals, body=body)
        self._parsed[key] = entry
        self._parsed.move_to_end(key)
        while len(self._parsed) > self.max_entries:
            old_key, _ = self._parsed.popitem(last=False)
            self._locks.pop(old_key, None)
        return entry


def _key(config: Mapping[str, Any], window: Interval, default_tz: str) -> _Key:
    """What a calendar read is cached under: the source, its zone and the whole-day window."""
    start, end = _whole_days(window)
    kind = _calendar_kind(config)
    if kind == "ics":
        return ("ics", normalise_feed_url(str(config["ics_url"])), default_tz, start, end)
    if kind == "caldav":
        caldav = config["caldav"]
        # The password is part of what was asked, but is kept only as a digest.
        secret = hashlib.sha256(str(caldav.get("password", "")).encode()).hexdigest()
        who = f"{caldav.get('username', '')}:{secret}"
        return ("caldav", str(caldav["url"]), who, start, end)
    raise CalendarSourceError("no calendar is configured")


def _outcome(entry: _Parsed) -> list[Interval]:
    if entry.error is not None or entry.intervals is None:
        raise CalendarSourceError(entry.error or "calendar could not be read")
    return entry.intervals


def _whole_days(window: Interval) -> tuple[datetime, datetime]:
    """Widen a window to whole UTC days, so searches made through the day share one entry."""
    start = datetime.combine(window.start.astimezone(UTC).date(), time(0), tzinfo=UTC)
    end_day = window.end.astimezone(UTC)
    end = datetime.combine(end_day.date(), time(0), tzinfo=UTC)
    if end < end_day:
        end += timedelta(days=1)
    return start, end


def reader_for(settings: Settings) -> BusyReader:
    """The app's reader, sized by the settings."""
    return BusyReader(
        max_age_s=settings.calendar_cache_seconds, timeout_s=settings.calendar_timeout_seconds
    )
