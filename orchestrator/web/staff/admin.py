"""Staff user admin: invite someone, or give them a fresh set-password link."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from orchestrator.core.errors import Conflict, DomainError
from orchestrator.core.models import StaffRole, is_person_name
from orchestrator.staff import accounts as staff_users
from orchestrator.staff.sessions import invite_staff, reset_password
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.forms import form_data, parse_uuid
from orchestrator.web.staff.roles import ADMINS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


@routes.get("/staff/admin/users")
@staff_page(roles=ADMINS)
async def users_page(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        users = await staff_users.list_users(session)
    await staff.audit("page.admin.users")
    context = staff.page(
        users=users, values={}, errors={}, invite_link=None, staff_roles=list(StaffRole)
    )
    return pages.render("staff/admin_users.html", request, context)


@routes.post("/staff/admin/users")
@staff_page(roles=ADMINS)
async def invite_user(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Add a staff user and show a one-time link for them to set their password."""
    values = form_data(staff.form, ("email", "name", "role"))
    errors: dict[str, str] = {}
    email = values.get("email", "").lower()
    if "@" not in email or len(email) > 320 or any(ch.isspace() for ch in email):
        errors["email"] = "Enter an email address like name@example.org"
    if values.get("role") not in {r.value for r in StaffRole}:
        errors["role"] = "Choose a role"
    if values.get("name") and not is_person_name(values["name"]):
        errors["name"] = 'Enter their name on one line, without "=?"'
    invite_link = None
    if not errors:
        role = StaffRole(values["role"])
        try:
            async with request.app[DB].write() as session:
                token = await invite_staff(
                    session,
                    email=email,
                    role=role,
                    name=values.get("name", ""),
                    by=staff.user.id,
                    secret=staff.settings.secret_key.get_secret_value(),
                    now=staff.now,
                )
            invite_link = f"{staff.settings.base_url}/set-password/{token}"
            values = {}
        except (Conflict, DomainError, ValidationError):
            errors["email"] = "There is already a staff user with this email address"
    async with request.app[DB].read() as session:
        users = await staff_users.list_users(session)
    context = staff.page(
        users=users,
        values=values,
        errors=errors,
        invite_link=invite_link,
        staff_roles=list(StaffRole),
    )
    return pages.render("staff/admin_users.html", request, context, status=422 if errors else 200)


@routes.post("/staff/admin/users/{user_id}/reset")
@staff_page(roles=ADMINS)
async def reset_user(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """A fresh set-password link for someone who forgot theirs (the old password stops)."""
    user_id = parse_uuid(request.match_info["user_id"], "staff user")
    async with request.app[DB].write() as session:
        user = await staff_users.get_user(session, user_id)
        token = await reset_password(
            session, user=user, secret=staff.settings.secret_key.get_secret_value(), now=staff.now
        )
        users = await staff_users.list_users(session)
    context = staff.page(
        users=users,
        values={},
        errors={},
        invite_link=f"{staff.settings.base_url}/set-password/{token}",
        staff_roles=list(StaffRole),
    )
    return pages.render("staff/admin_users.html", request, context)
