"""Our own lobby's pages: ``GET /j/{token}/wait`` and its event stream ``/j/{token}/events``.

A party waits here until the mediator lets them in (``orchestrator.meeting.lobby``). The
page says who they are waiting for; with JavaScript it listens to Server-Sent Events and
goes into the room the moment they are let in. Without it, the page refreshes itself
every ``REFRESH_S`` seconds (and has a "Check again" button): a refresh that finds them
let in sends them straight in. Once let in, the page (if they come back to it) says where
the mediator has asked them to be, and the same stream keeps that current as the
mediator moves them between rooms; when the session ends it says so.

The stream reads the database (one cheap read a ``STREAM_POLL_S``), so an admit made on
any replica reaches a page served by any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta

from aiohttp import web

from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from orchestrator.cases import links
from orchestrator.core.errors import InvalidState, LinkInvalid, NotFound
from orchestrator.meeting import join_facts, lobby
from orchestrator.web import event_stream
from orchestrator.web.keys import CLOCK, CONSOLE_STOPPING, SETTINGS
from orchestrator.web.pages import render
from orchestrator.web.party import join

routes = web.RouteTableDef()

REFRESH_S = 10
STREAM_POLL_S = 1.0
STREAM_MAX = timedelta(hours=6)


async def _href(request: web.Request, verified: join.Verified, place: lobby.Place) -> str | None:
    """Where the page's button sends someone let in: their own URL into their room (None
    while waiting, or while the provider cannot give one: the button's click retries)."""
    if not place.released or not place.provider_room:
        return None
    now = request.app[CLOCK]()
    try:
        return await join.room_url(request.app, verified, place.provider_room, now, key=place.token)
    except (ProviderUnavailable, ProviderRejected, ProviderAuthError):
        return f"/j/{request.match_info['token']}/video"


async def _party_link(request: web.Request, now: datetime) -> join.Verified:
    """The verified link of a party (the mediator has no lobby: NotFound for theirs)."""
    verified = await join.verified_link(request.app, request.match_info["token"], now)
    if verified.facts.party_id is None:
        raise NotFound("page", "wait")
    return verified


@routes.get("/j/{token}/wait", name="join:wait")
async def waiting_page(request: web.Request) -> web.StreamResponse:
    """Waiting to be let in, where they have been asked to be, or the meeting has ended."""
    now = request.app[CLOCK]()
    token = request.match_info["token"]
    verified = await _party_link(request, now)
    place = await join.place_now(request.app, verified.facts)
    if place.where is lobby.Where.ended:
        facts = verified.facts
        links.ensure_live(
            links.verdict(facts.link, party=facts.party, meeting=facts.meeting, now=now)
        )
    else:
        refused = await join.checked_target(request, verified, now)
        if isinstance(refused, web.Response):
            return refused
    if place.released and request.query.get("waited"):
        # The waiting page's own refresh (or "Check again") found them let in: straight in.
        raise web.HTTPSeeOther(f"/j/{token}/video", headers={"Cache-Control": "no-store"})
    context = {
        "where": place.where.value,
        "href": await _href(request, verified, place),
        "events_href": f"/j/{token}/events",
        "again_href": f"/j/{token}/wait",
        "page_href": f"/j/{token}",
        "refresh_s": REFRESH_S,
    }
    response = render("party/join_waiting.html", request, context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _event(place: lobby.Place, href: str | None) -> bytes:
    data = json.dumps({"where": place.where.value, "href": href})
    return f"event: place\ndata: {data}\n\n".encode()


@routes.get("/j/{token}/events", name="join:events")
async def waiting_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: a ``place`` event whenever where the party is sent changes.

    Its data is JSON: ``where`` (waiting, joint, caucus or ended) and ``href``, the party's
    own URL into their room once they are let in. The stream ends when the meeting has
    ended, and with a ``refused`` event if the link stops working.
    """
    app = request.app
    clock = app[CLOCK]
    token = request.match_info["token"]
    verified = await _party_link(request, clock())
    response = await event_stream.open_stream(request)
    stopping = app[CONSOLE_STOPPING]
    started = clock()
    last = ""
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        while not stopping.is_set() and clock() - started < STREAM_MAX:
            place = await _place_while_live(request, token)
            if place is None:
                await response.write(b"event: refused\ndata: {}\n\n")
                break
            if place.token != last:
                last = place.token
                await response.write(_event(place, await _href(request, verified, place)))
            else:
                await response.write(b": still here\n\n")
            if place.where is lobby.Where.ended:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=STREAM_POLL_S)
    return response


async def _place_while_live(request: web.Request, token: str) -> lobby.Place | None:
    """Where the party is sent now; None once their link no longer lets them join."""
    app = request.app
    now = app[CLOCK]()
    try:
        verified = await join.verified_link(app, token, now)
        place = await join.place_now(app, verified.facts)
        if place.where is not lobby.Where.ended:
            opens_before = timedelta(minutes=app[SETTINGS].join_opens_minutes)
            verified.facts.target(now=now, opens_before=opens_before)
    except join_facts.RoomNotReady:
        return place  # still waiting; the room will be there by the time they are let in
    except (LinkInvalid, InvalidState):  # revoked, expired or moved while they waited
        return None
    return place
