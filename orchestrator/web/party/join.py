"""The join page a party opens from their invite: ``GET /j/{token}`` and ``/j/{token}/video``.

The page puts the person's own way in first (``ways_in``, by their channel: the "Join the
meeting" button with how soon it starts, the dial-in number and their PIN, or the venue),
the other ways under "If you need to", then when, who, what to expect and the help line.
``{token}`` is the link's JWT or its short alias (``short_links``), which mail shows.

The video button is ours, not the provider's: ``/j/{token}/video`` (always the JWT) checks
the link, records the click and answers 303 to where the person is now: a party to our
own lobby (``waiting``) until the mediator lets them in, then to their own URL into their
current room, built from stored room data with no remote call. So a room can be
re-created or moved to a fallback provider without re-inviting anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from aiohttp import web

from calendars import wording
from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from orchestrator.cases import links
from orchestrator.core import languages
from orchestrator.core.errors import InvalidState, LinkInvalid
from orchestrator.core.models import (
    Invitation,
    LinkScope,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Party,
)
from orchestrator.core.settings import Settings
from orchestrator.meeting import join_facts, link_cache, lobby, room_access
from orchestrator.messaging import ways_in
from orchestrator.scheduling import joining, lookups, old_join_links
from orchestrator.web.keys import CLOCK, DB, JOIN_CLICKS, JOIN_LINK_CACHE, PROVIDERS, SETTINGS
from orchestrator.web.languages import choose
from orchestrator.web.pages import render
from orchestrator.web.party import meeting_papers

routes = web.RouteTableDef()


def _group_pin(pin: str) -> str:
    return " ".join(pin[i : i + 3] for i in range(0, len(pin), 3))


@routes.get("/j/{token}", name="join:page")
async def join_page(request: web.Request) -> web.Response:
    """When, who, how and what to expect, for the link's own holder only.

    The link may be the full JWT or its short alias (what a plain-text mail shows); the
    video button always carries the full token, which the click path verifies unaided.
    """
    app = request.app
    settings = app[SETTINGS]
    now = app[CLOCK]()
    token = request.match_info["token"]
    secret = settings.secret_key.get_secret_value()
    async with app[DB].read() as session:
        try:
            resolved = await links.resolve(
                session, token, scope=LinkScope.join_room, secret=secret, now=now
            )
        except LinkInvalid as exc:
            return await _old_link_page(request, exc)
        meeting, party = resolved.meeting, resolved.party
        assert meeting is not None
        case, mediator, invitation = await lookups.join_details(
            session, meeting=meeting, party=party
        )
        papers = await meeting_papers.paper_views(session, party, token)
        where = None  # the mediator has no lobby
        if party is not None:
            where = await lobby.place_of(session, meeting_id=meeting.id, party_id=party.id)
    code = choose(request, party.language if party else None)
    context = _join_context(
        meeting,
        party,
        invitation,
        settings,
        now=now,
        zone=case.timezone,
        locale=languages.LANGUAGES[code].locale,
    )
    context["where"] = where.where.value if where else None
    context["mediator_name"] = mediator.name if mediator else None
    if party is None and mediator is not None:
        context["name"] = mediator.name.split(" ")[0]
    context["video_href"] = f"/j/{links.encode(resolved.link, secret=secret)}/video"
    context["papers"] = papers
    return render("party/join.html", request, context, language=code)


def _join_context(
    meeting: Meeting,
    party: Party | None,
    invitation: Invitation | None,
    settings: Settings,
    *,
    now: datetime,
    zone: str,
    locale: str,
) -> dict[str, Any]:
    """What the join page shows this person: their own way in first (``ways_in``), when
    the video room opens or how soon the meeting starts, then the other ways."""
    opens = joining.join_opens_at(meeting, settings)
    video = meeting.mode in (MeetingMode.video, MeetingMode.hybrid)
    is_mediator = party is None
    dial_in: dict[str, Any] | None = None
    found = joining.dial_in_for(meeting, settings, invitation=invitation, mediator=is_mediator)
    if found is not None:
        dial_in = {"number": found.number, "pin": _group_pin(found.pin), "own": found.own}
    call_back = None
    if meeting.mode is MeetingMode.phone and not joining.uses_phone_bridge(meeting):
        call_back = party.phone if party is not None else None
    call_back_pending = meeting.mode is MeetingMode.phone and call_back is None
    ended = meeting.status is MeetingStatus.closed
    phone = bool(dial_in or call_back or (call_back_pending and not is_mediator))
    available = ways_in.available_ways(
        meeting.mode, video=video and not ended, phone=phone, venue=bool(meeting.venue)
    )
    return {
        "name": party.name.split(" ")[0] if party else "",
        "is_mediator": is_mediator,
        "when": wording.when(meeting.start_at, meeting.end_at, zone=zone, locale=locale),
        "mode": meeting.mode.value,
        "ways": [
            way.value
            for way in ways_in.ordered_ways(
                available, mode=meeting.mode, channel=party.channel if party else None
            )
        ],
        "video": video,
        "video_open": video and now >= opens and not ended,
        "room_ready": meeting.provider_room is not None,
        "opens_at": wording.clock_from_today(opens, now=now, zone=zone, locale=locale),
        "starts_in": wording.from_now(meeting.start_at, now=now, locale=locale),
        "started": now >= meeting.start_at,
        "ended": ended,
        "dial_in": dial_in,
        "call_back": call_back,
        "call_back_pending": call_back_pending,
        "venue": meeting.venue,
    }


async def _old_link_page(request: web.Request, refused: LinkInvalid) -> web.Response:
    """A cancelled or moved meeting's link says what happened (``old_join_links``); any
    other dead link is refused as it was."""
    if (refused.details or {}).get("reason") not in old_join_links.TOLD:
        raise refused
    app = request.app
    async with app[DB].read() as session:
        notice = await old_join_links.notice_for(
            session,
            request.match_info["token"],
            secret=app[SETTINGS].secret_key.get_secret_value(),
            now=app[CLOCK](),
            pick_language=lambda own: choose(request, own),
        )
    template = "party/join_cancelled.html"
    if isinstance(notice, old_join_links.Moved):
        template = "party/join_moved.html"
    return render(template, request, {"notice": notice}, status=410, language=notice.language)


def install(app: web.Application) -> None:
    """Keep verified join links in memory for the click path."""
    app[JOIN_LINK_CACHE] = link_cache.JoinLinkCache()


@dataclass(slots=True)
class Verified:
    """A verified join link as the click cache keeps it: its facts, and the person's own URLs
    into the rooms they have been sent to, built at the first click that is let in there
    (both are dropped together when anything about the link, meeting, party or room
    changes)."""

    facts: join_facts.JoinFacts
    urls: dict[str, str] = field(default_factory=dict)


async def room_url(
    app: web.Application,
    verified: Verified,
    provider_room: dict[str, Any],
    now: datetime,
    *,
    key: str,
) -> str:
    """This person's own URL into ``provider_room`` (``room_access.provider_url``), kept
    under ``key`` (where they are sent) for the link's next clicks.

    A party is only ever sent into a room once the mediator has let them in through our
    lobby, so their URL goes past the provider's own lobby where it can (``past_lobby``).
    Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
    """
    if key not in verified.urls:
        facts = replace(verified.facts, provider_room=provider_room)
        grace = timedelta(minutes=app[SETTINGS].join_grace_minutes)
        verified.urls[key] = await room_access.provider_url(
            app[PROVIDERS], facts, now=now, grace=grace, past_lobby=True
        )
    return verified.urls[key]


async def verified_link(app: web.Application, token: str, now: datetime) -> Verified:
    """The verified link's facts: from the short-lived cache, else one indexed read.

    A cached URL was built at most the cache's few seconds ago; a provider token in it
    (Jitsi's JWT) is valid until the join window closes, so it is as good as a fresh one.
    """
    cache = app[JOIN_LINK_CACHE]
    entry = cache.get(token)
    if entry is None:
        return cast(Verified, await cache.load_once(token, lambda: _verify(app, cache, token, now)))
    # The signature was checked when the entry was filled; the times are checked now.
    stamp = int(now.timestamp())
    if entry.expires <= stamp:
        raise LinkInvalid("this link has expired", details={"reason": "expired"})
    if entry.not_before > stamp:
        raise LinkInvalid("this link is not valid", details={"reason": "invalid"})
    return cast(Verified, entry.facts)


async def _verify(
    app: web.Application, cache: link_cache.JoinLinkCache, token: str, now: datetime
) -> Verified:
    """Check the token's signature and times, read its facts, and keep them in ``cache``."""
    seen = link_cache.generation()  # taken before the read: a change during it wins
    claims = links.verified_claims(
        token,
        secret=app[SETTINGS].secret_key.get_secret_value(),
        scope=LinkScope.join_room,
        now=now,
    )
    link_id = str(claims["jti"])
    async with app[DB].reader_engine.connect() as connection:
        facts = await join_facts.load_join_facts(connection, link_id=link_id)
    verified = Verified(facts)
    cache.put(
        token,
        link_id=link_id,
        not_before=int(claims["nbf"]),
        expires=int(claims["exp"]),
        facts=verified,
        seen=seen,
    )
    return verified


async def checked_target(
    request: web.Request, verified: Verified, now: datetime
) -> join_facts.JoinTarget | web.Response:
    """The click's target, or the page that says why this link cannot join now."""
    token = request.match_info["token"]
    opens_before = timedelta(minutes=request.app[SETTINGS].join_opens_minutes)
    try:
        return verified.facts.target(now=now, opens_before=opens_before)
    except LinkInvalid as exc:
        return await _old_link_page(request, exc)
    except join_facts.RoomNotReady:
        return render("party/join_wait.html", request, {"page_href": f"/j/{token}"}, status=503)
    except InvalidState as exc:
        return render(
            "party/join_closed.html",
            request,
            {"message": exc.message, "page_href": f"/j/{token}"},
            status=409,
        )


async def place_now(app: web.Application, facts: join_facts.JoinFacts) -> lobby.Place:
    """Where the party of these facts is sent right now (read fresh, never cached)."""
    assert facts.party_id is not None
    async with app[DB].reader_engine.connect() as connection:
        return await lobby.place_of(
            connection, meeting_id=facts.meeting_id, party_id=facts.party_id
        )


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


@routes.get("/j/{token}/video", name="join:video")
async def join_video(request: web.Request) -> web.StreamResponse:
    """Record the click and send the person where they are now (303).

    The mediator goes straight into the joint room. A party goes into the room they are
    in once the mediator has let them in (their caucus room, else the joint room), and
    to our waiting page (``/j/{token}/wait``) until then.
    """
    app = request.app
    now = app[CLOCK]()
    token = request.match_info["token"]
    verified = await verified_link(app, token, now)
    target = await checked_target(request, verified, now)
    if isinstance(target, web.Response):
        return target
    facts = verified.facts
    if facts.party_id is None:
        await app[JOIN_CLICKS].record(target.click)  # durable before the 303
        return await _into(request, verified, target.provider_room, now, key="mediator")
    # Before the session starts nobody is let in: the click needs no read to know they wait
    # (facts a few seconds old at most; the waiting page reads afresh).
    if facts.meeting.status is MeetingStatus.scheduled:
        place = lobby.Place(lobby.Where.waiting)
    else:
        place = await place_now(app, facts)
    if place.where is lobby.Where.ended:
        return render(
            "party/join_closed.html",
            request,
            {"message": "this meeting has ended", "page_href": f"/j/{token}"},
            status=409,
        )
    await app[JOIN_CLICKS].record(lobby.click_as_placed(target.click, place))
    if not place.released or not place.provider_room:
        return _see(f"/j/{token}/wait")
    return await _into(request, verified, place.provider_room, now, key=place.token)


async def _into(
    request: web.Request,
    verified: Verified,
    provider_room: dict[str, Any],
    now: datetime,
    *,
    key: str,
) -> web.Response:
    """303 into the room, or the "being prepared" page while the provider fails."""
    try:
        return _see(await room_url(request.app, verified, provider_room, now, key=key))
    except (ProviderUnavailable, ProviderRejected, ProviderAuthError):
        token = request.match_info["token"]
        return render("party/join_wait.html", request, {"page_href": f"/j/{token}"}, status=503)
