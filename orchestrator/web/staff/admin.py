"""Staff user admin: invite someone, give them a fresh set-password link, or end their access.

A staff user's own page lists their API tokens (revoke one or all) and deactivates or
reactivates the account; each action answers with the page and a banner saying what it did.
The rules (and the audit trail) are ``orchestrator.staff.access``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from orchestrator.core.errors import Conflict, DomainError, InvalidState
from orchestrator.core.models import StaffRole, is_person_name
from orchestrator.staff import access
from orchestrator.staff import accounts as staff_users
from orchestrator.staff.sessions import invite_staff, reset_password
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.forms import form_data, parse_uuid
from orchestrator.web.staff.roles import ADMINS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
T = TypeVar("T")


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


@routes.get("/staff/admin/users/{user_id}")
@staff_page(roles=ADMINS)
async def user_page(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """One staff user: who they are, their API tokens, and deactivating the account."""
    return await _render_user(request, staff)


@routes.post("/staff/admin/users/{user_id}/deactivate")
@staff_page(roles=ADMINS)
async def deactivate(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Sign them out everywhere now, stop their tokens, and stop them signing in again."""
    try:
        done = await _act(request, staff, access.deactivate_user)
    except InvalidState as exc:
        return await _render_user(request, staff, problem=pages.as_sentence(exc.message))
    tokens = _tokens_phrase(done.tokens_revoked)
    name = done.user.name or done.user.email
    return await _render_user(
        request,
        staff,
        done=f"{name} can no longer sign in. They were signed out everywhere and {tokens}.",
    )


@routes.post("/staff/admin/users/{user_id}/reactivate")
@staff_page(roles=ADMINS)
async def reactivate(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    user = await _act(request, staff, access.reactivate_user)
    name = user.name or user.email
    return await _render_user(
        request, staff, done=f"{name} can sign in again. Their old API tokens stay revoked."
    )


@routes.post("/staff/admin/users/{user_id}/tokens/{token_id}/revoke")
@staff_page(roles=ADMINS)
async def revoke_token(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    token_id = parse_uuid(request.match_info["token_id"], "API token")
    token = await _act(request, staff, access.revoke_token, token_id=token_id)
    label = f"“{token.label}”" if token.label else "without a name"
    return await _render_user(request, staff, done=f"The API token {label} no longer works.")


@routes.post("/staff/admin/users/{user_id}/tokens/revoke-all")
@staff_page(roles=ADMINS)
async def revoke_tokens(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    count = await _act(request, staff, access.revoke_tokens)
    return await _render_user(request, staff, done=pages.as_sentence(_tokens_phrase(count)) + ".")


async def _act(
    request: web.Request, staff: StaffContext, action: Callable[..., Awaitable[T]], **extra: Any
) -> T:
    """Do one of ``access``'s actions to the user the path names, as this admin, in one write."""
    user_id = parse_uuid(request.match_info["user_id"], "staff user")
    async with request.app[DB].write() as session:
        return await action(session, user_id=user_id, by=staff.user.id, now=staff.now, **extra)


def _tokens_phrase(count: int) -> str:
    if count == 0:
        return "they had no API tokens to revoke"
    return f"{count} API token{'s' if count != 1 else ''} stopped working"


async def _render_user(
    request: web.Request,
    staff: StaffContext,
    *,
    done: str | None = None,
    problem: str | None = None,
) -> web.StreamResponse:
    user_id = parse_uuid(request.match_info["user_id"], "staff user")
    async with request.app[DB].read() as session:
        user = await staff_users.get_user(session, user_id)
        tokens = await access.live_tokens(session, user_id)
    if request.method == "GET":
        await staff.audit("page.admin.user", target_type="staff_user", target_id=str(user_id))
    context = staff.page(
        user=user,
        tokens=tokens,
        done=done,
        errors={"deactivate": problem} if problem else {},
        own_account=user.id == staff.user.id,
    )
    status = 409 if problem else 200
    return pages.render("staff/admin_user.html", request, context, status=status)
