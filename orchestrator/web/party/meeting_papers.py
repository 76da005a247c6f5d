"""Papers shared in the meeting, as a party reads them from their join link.

``paper_views`` gives the join page what to show; ``/j/{token}/papers/{id}`` returns an
uploaded paper's file, only to a party it is shared with.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.closing import meeting_papers, preparation
from orchestrator.core.models import LinkScope, Party
from orchestrator.web.keys import DB, SETTINGS
from orchestrator.web.party.link_holder import holder
from orchestrator.web.party.prepare import download, paper_view
from orchestrator.web.staff.forms import parse_uuid

routes = web.RouteTableDef()


async def paper_views(
    session: AsyncSession, party: Party | None, token: str
) -> list[dict[str, Any]]:
    """What of the meeting's shared papers this person sees on their join page."""
    if party is None:
        return []
    return [
        paper_view(document, f"/j/{token}/papers/{document.id}")
        for document in await meeting_papers.shared_papers(session, party=party)
    ]


@routes.get("/j/{token}/papers/{document_id}")
async def shared_paper(request: web.Request) -> web.StreamResponse:
    """The file of a paper shared with the link's holder; 404 for anything else."""
    document_id = parse_uuid(request.match_info["document_id"], "document")
    app = request.app
    async with app[DB].read() as session:
        party, _meeting = await holder(session, request, LinkScope.join_room)
        document = await preparation.document_for_party(
            session, party=party, document_id=document_id
        )
    return download(document, preparation.file_bytes(document, app[SETTINGS]))
