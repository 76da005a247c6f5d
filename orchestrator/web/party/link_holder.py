"""Who holds the link in the path: the party and the meeting a live link of one scope names."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import links
from orchestrator.core.models import LinkScope, Meeting, Party
from orchestrator.web.keys import CLOCK, SETTINGS


async def holder(
    session: AsyncSession, request: web.Request, scope: LinkScope
) -> tuple[Party, Meeting]:
    """The link's party and meeting; a dead link, or one for no person, is refused."""
    app = request.app
    resolved = await links.resolve(
        session,
        request.match_info["token"],
        scope=scope,
        secret=app[SETTINGS].secret_key.get_secret_value(),
        now=app[CLOCK](),
    )
    if resolved.party is None or resolved.meeting is None:
        raise links.refusal(links.Verdict.unknown)
    return resolved.party, resolved.meeting
