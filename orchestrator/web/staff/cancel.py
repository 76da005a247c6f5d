"""Cancelling a meeting, after a confirmation page that asks why."""

from __future__ import annotations

from aiohttp import web

from orchestrator.scheduling import cancelling
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.cases import audit_case_write
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.meeting_forms import meeting_and_case
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


@routes.get("/staff/meetings/{meeting_id}/cancel")
@staff_page(roles=SCHEDULERS)
async def cancel_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        meeting, case = await meeting_and_case(session, request)
    context = staff.page(case=case, meeting=meeting, error=None)
    return pages.render("staff/cancel.html", request, context)


@routes.post("/staff/meetings/{meeting_id}/cancel")
@staff_page(roles=SCHEDULERS)
async def cancel(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    reason = str(staff.form.get("reason", "")).strip()[:1000]
    if not reason:
        async with request.app[DB].read() as session:
            meeting, case = await meeting_and_case(session, request)
        context = staff.page(case=case, meeting=meeting, error="Say why it is cancelled")
        return pages.render("staff/cancel.html", request, context, status=422)
    async with request.app[DB].write() as session:
        meeting, case = await meeting_and_case(session, request)
        await cancelling.cancel(
            session,
            meeting=meeting,
            reason=reason,
            now=staff.now,
            bus=staff.bus,
            actor=staff.actor,
            actor_id=staff.user.id,
        )
        audit_case_write(session, staff, "meeting.cancel", case.id)
    raise see_other(f"/staff/cases/{case.id}?notice=cancelled#meetings")
