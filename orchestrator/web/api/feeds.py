"""Mediators' calendar feeds: the subscribable ``.ics`` URL, and the staff API that hands it out.

- ``GET /feeds/mediators/{token}.ics`` answers ``text/calendar`` (no login: the token is the
  key, as calendar apps cannot send one); a dead token gets a 404.
- ``GET /api/v1/mediators/{mediator_id}/feed`` gives the URL (made on first use);
  ``POST .../feed/rotate`` replaces it, and the old URL stops working at once.
  Schedulers and admins for anyone; a mediator for themselves only.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from orchestrator.cases import visibility
from orchestrator.closing import mediator_feeds
from orchestrator.core.models import Link, Mediator, StaffRole
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import CLOCK, DB, SETTINGS

router = ApiRouter("feeds")
routes = web.RouteTableDef()


class FeedPublic(BaseModel):
    mediator_id: str
    url: str
    created_at: str


async def _mediator(ctx: ApiContext) -> Mediator:
    return await visibility.visible_mediator(ctx.session, ctx.user, ctx.path_id("mediator_id"))


def _public(ctx: ApiContext, mediator: Mediator, link: Link) -> FeedPublic:
    return FeedPublic(
        mediator_id=str(mediator.id),
        url=mediator_feeds.feed_url(link, ctx.settings),
        created_at=link.created_at.isoformat(),
    )


@router.get(
    "/mediators/{mediator_id}/feed",
    response=FeedPublic,
    roles={StaffRole.scheduler, StaffRole.mediator},
    writes=True,
)
async def get_feed(ctx: ApiContext) -> FeedPublic:
    """The mediator's private calendar feed URL (made on first use)."""
    mediator = await _mediator(ctx)
    link = await mediator_feeds.feed_link(ctx.session, mediator=mediator, now=ctx.now)
    return _public(ctx, mediator, link)


@router.post(
    "/mediators/{mediator_id}/feed/rotate",
    response=FeedPublic,
    roles={StaffRole.scheduler, StaffRole.mediator},
)
async def rotate_feed(ctx: ApiContext) -> FeedPublic:
    """Replace the feed URL; the old one stops working at once."""
    mediator = await _mediator(ctx)
    link = await mediator_feeds.feed_link(ctx.session, mediator=mediator, now=ctx.now, rotate=True)
    return _public(ctx, mediator, link)


@routes.get("/feeds/mediators/{token}.ics")
async def mediator_feed(request: web.Request) -> web.Response:
    """The mediator's sessions as iCalendar, for calendar apps to subscribe to."""
    app = request.app
    async with app[DB].read() as session:
        body = await mediator_feeds.mediator_feed(
            session, request.match_info["token"], settings=app[SETTINGS], now=app[CLOCK]()
        )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
    )
