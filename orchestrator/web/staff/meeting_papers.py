"""The console's "Share the Child's View with everyone": one transaction, then back."""

from __future__ import annotations

from aiohttp import web

from orchestrator.closing import meeting_papers
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.my_meetings import audit_meeting_write, changing_my_meeting
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


@routes.post("/staff/meetings/{meeting_id}/share-childs-view")
@staff_page(roles=ROOM_STAFF)
async def share_childs_view(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Hand the Child's View round: every party sees it on their join page from now on."""
    async with changing_my_meeting(request, staff) as (session, meeting, _):
        await meeting_papers.share_childs_view(
            session, meeting=meeting, now=staff.now, actor=staff.actor
        )
        audit_meeting_write(session, staff, "document.share_in_meeting", meeting)
    raise see_other(f"/staff/meetings/{meeting.id}/console?notice=shared")
