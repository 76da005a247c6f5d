"""Slow down link guessing: failures at the link doors count against the caller's address.

A party link that does not verify (404/403/410 on ``/p``, ``/j``, ``/r``, ``/c``,
``/b``, ``/prepare``), a calendar feed URL that is not one (``/feeds/…``) or a dead set-password
link (``/set-password/…``) is counted against the caller's budget
(``orchestrator.core.throttle.DOOR_ALLOWANCES``), in the database so every replica shares it.
Once the budget is spent, further *failures* get a friendly 429 page with ``Retry-After``
instead of their 404 or 410; a valid link is always served, however many failures its
address has had, so one guesser behind a school's or council's address locks nobody out.
The success path costs nothing: no lookup, no write.

A family's own referral (``/refer`` and ``POST /api/v1/referrals``) counts every one it sends
(``count_at_door``), since each is work for a scheduler.

Staff sign-in is limited by ``orchestrator.staff.signin`` itself, before the password is checked.
The caller's address is ``orchestrator.web.clients.ClientAddress``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLIENT_ADDRESS, ERROR_PAGE, THROTTLE

HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

LINK_PREFIXES = ("/p/", "/j/", "/r/", "/c/", "/b/", "/prepare/")
FEED_PREFIX = "/feeds/"
SET_PASSWORD_PREFIX = "/set-password/"
FAILURES = frozenset({403, 404, 410})


def door_for(request: web.Request) -> str | None:
    """Which guarded door the request knocks on, if any."""
    path = request.path
    if path.startswith(LINK_PREFIXES):
        return "link"
    if path.startswith(FEED_PREFIX):
        return "feed"
    if path.startswith(SET_PASSWORD_PREFIX):
        return "set_password"
    return None


@web.middleware
async def failed_links_limiter(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Count failed link checks; once over budget, answer a failure 429 instead."""
    door = door_for(request)
    if door is None:
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status not in FAILURES:
            raise
        wait = await _count_failure(request, door)
        if wait:
            return await too_many(request, wait)
        raise
    if response.status in FAILURES:
        wait = await _count_failure(request, door)
        if wait:
            return await too_many(request, wait)
    return response


async def _count_failure(request: web.Request, door: str) -> int:
    return await request.app[THROTTLE].failed_at(door, request.app[CLIENT_ADDRESS](request))


async def count_at_door(request: web.Request, door: str) -> int:
    """Count this request against the caller's budget at ``door`` (a door where every
    request counts, such as ``referral``); seconds to wait if over it."""
    return await _count_failure(request, door)


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
