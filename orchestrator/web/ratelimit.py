"""Slow down guessing: a token bucket per client IP for failed link checks and sign-ins.

Only failures cost anything. A party link that does not verify (404/403/410 on ``/p``,
``/j``, ``/r``, ``/c``, ``/prepare``) or a refused ``POST /sign-in`` takes a token from
the caller's bucket; when the bucket is empty the next attempt at those doors gets a
friendly 429 page with ``Retry-After`` before any work is done. The success path is one
dictionary lookup. Time is the app's clock, so tests can move it.

The caller is the connection's peer, unless the peer is one of the service's own reverse
proxies (``ORCH_TRUSTED_PROXIES``): then it is the nearest address in ``X-Forwarded-For``
that is not one of them. Behind a proxy, keying on the peer would put every party and
every member of staff in one bucket, and one person's mistyped links would lock out all.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLOCK, ERROR_PAGE

HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

LINK_PREFIXES = ("/p/", "/j/", "/r/", "/c/", "/prepare/")
SIGN_IN_PATH = "/sign-in"
LINK_FAILURES = frozenset({403, 404, 410})
SIGN_IN_FAILURES = frozenset({400, 401, 403})
MAX_TRACKED_CLIENTS = 10_000


@dataclass(frozen=True)
class Allowance:
    """``burst`` failures at once, then one more every ``refill_seconds``."""

    burst: float
    refill_seconds: float


LINK_ALLOWANCE = Allowance(burst=30, refill_seconds=6)
SIGN_IN_ALLOWANCE = Allowance(burst=10, refill_seconds=30)


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureLimiter:
    """Token buckets keyed by (door, client); bounded in memory."""

    def __init__(self, allowances: dict[str, Allowance]) -> None:
        self.allowances = allowances
        self.buckets: dict[tuple[str, str], _Bucket] = {}

    def _level(self, door: str, client: str, now: float) -> _Bucket | None:
        bucket = self.buckets.get((door, client))
        if bucket is None:
            return None
        allowance = self.allowances[door]
        refilled = (now - bucket.at) / allowance.refill_seconds
        bucket.tokens = min(allowance.burst, bucket.tokens + max(refilled, 0.0))
        bucket.at = now
        return bucket

    def retry_after(self, door: str, client: str, now: float) -> int:
        """Seconds until the client may try again (0: go ahead)."""
        bucket = self._level(door, client, now)
        if bucket is None or bucket.tokens >= 1:
            return 0
        return max(1, math.ceil((1 - bucket.tokens) * self.allowances[door].refill_seconds))

    def record_failure(self, door: str, client: str, now: float) -> None:
        bucket = self._level(door, client, now)
        if bucket is None:
            if len(self.buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_some(now)
            bucket = self.buckets[(door, client)] = _Bucket(self.allowances[door].burst, now)
        bucket.tokens = max(bucket.tokens - 1, 0.0)

    def _forget_some(self, now: float) -> None:
        """Drop full buckets; if none are full, the oldest half (a flood of new addresses)."""
        for key in list(self.buckets):
            bucket = self._level(*key, now)
            if bucket is not None and bucket.tokens >= self.allowances[key[0]].burst:
                del self.buckets[key]
        if len(self.buckets) >= MAX_TRACKED_CLIENTS:
            for key in list(self.buckets)[: MAX_TRACKED_CLIENTS // 2]:
                del self.buckets[key]


def door_for(request: web.Request) -> str | None:
    """Which guarded door the request knocks on, if any."""
    if request.path.startswith(LINK_PREFIXES):
        return "link"
    if request.path == SIGN_IN_PATH and request.method == "POST":
        return "sign_in"
    return None


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """Who is calling: the peer, or behind our own proxies the address they were asked by."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )

    def _is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, request: web.Request) -> str:
        peer = request.remote or "unknown"
        if not self.trusted or not self._is_proxy(peer):
            return peer
        # Each proxy appends the address it was asked by; read from the right, past our own
        # proxies. What lies further left was written by the caller and proves nothing.
        hops = [
            hop.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            if not self._is_proxy(hop):
                return hop
        return hops[0] if hops else peer


def failed_attempts_limiter(
    link: Allowance = LINK_ALLOWANCE,
    sign_in: Allowance = SIGN_IN_ALLOWANCE,
    *,
    trusted_proxies: Sequence[str] = (),
) -> Middleware:
    """A middleware (with its own buckets) that answers 429 to a client who keeps failing."""
    limiter = FailureLimiter({"link": link, "sign_in": sign_in})
    failures = {"link": LINK_FAILURES, "sign_in": SIGN_IN_FAILURES}
    client_of = ClientAddress(trusted_proxies)

    @web.middleware
    async def rate_limit_middleware(request: web.Request, handler: HandlerT) -> web.StreamResponse:
        door = door_for(request)
        if door is None:
            return await handler(request)
        if limiter.buckets:  # nobody has failed lately: nobody needs to wait
            wait = limiter.retry_after(door, client_of(request), _now(request))
            if wait:
                return await too_many(request, wait)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status in failures[door]:
                limiter.record_failure(door, client_of(request), _now(request))
            raise
        if response.status in failures[door]:
            limiter.record_failure(door, client_of(request), _now(request))
        return response

    return rate_limit_middleware


def _now(request: web.Request) -> float:
    return request.app[CLOCK]().timestamp()


async def too_many(request: web.Request, wait: int) -> web.StreamResponse:
    """The friendly 429 page, saying when to try again."""
    minutes = max(1, math.ceil(wait / 60))
    error = ApiError(
        429,
        "too_many_attempts",
        f"there have been too many attempts from your connection; "
        f"please wait {minutes} minute{'s' if minutes != 1 else ''} and try again",
    )
    renderer = request.app.get(ERROR_PAGE)
    if renderer is not None:
        response: web.StreamResponse = await renderer(request, error)
    else:
        response = web.Response(status=429, text=error.message, content_type="text/plain")
    response.headers["Retry-After"] = str(wait)
    return response
