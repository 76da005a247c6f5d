"""The front door: what this service is, for whoever opens its address."""

from __future__ import annotations

from aiohttp import web

from orchestrator.core.models import StaffRole
from orchestrator.web import pages
from orchestrator.web.staff.sessions import load_staff

routes = web.RouteTableDef()

# Where signed-in staff start, as after signing in.
HOME_FOR_ROLE = {StaffRole.mediator: "/staff/sessions", StaffRole.admin: "/staff/admin/users"}


@routes.get("/")
async def front_door(request: web.Request) -> web.StreamResponse:
    """Say what the service is and who uses it; signed-in staff go straight to their work."""
    staff = await load_staff(request)
    if staff is not None:
        raise web.HTTPSeeOther(HOME_FOR_ROLE.get(staff.user.role, "/staff"))
    return pages.render("home.html", request, {})
