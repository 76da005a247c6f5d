"""Staff sign-in and sign-out, and the set-password page an invitation links to."""

from __future__ import annotations

from aiohttp import web

from orchestrator.core.models import StaffRole, StaffUser
from orchestrator.staff.sessions import (
    close_session,
    open_session,
    set_password,
    user_for_set_password_token,
)
from orchestrator.staff.signin import TooManyAttempts
from orchestrator.staff.signin import sign_in as check_sign_in
from orchestrator.web import pages, ratelimit
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLIENT_ADDRESS, CLOCK, DB, PASSWORDS, SETTINGS, THROTTLE
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.roles import ANY_STAFF
from orchestrator.web.staff.sessions import (
    StaffContext,
    clear_session_cookie,
    cookie_name,
    device_cookie_name,
    load_staff,
    password_problem,
    safe_next,
    set_device_cookie,
    set_session_cookie,
    staff_page,
)

routes = web.RouteTableDef()

SIGN_IN_FAILED = (
    "The email address or password is not right. Check them and try again, or ask an admin to help."
)


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.StreamResponse:
    staff = await load_staff(request)
    target = safe_next(request.query.get("next"))
    if staff is not None:
        raise see_other(target)
    notice = next((n for n in ("signed_out", "password_set") if n in request.query), "")
    context = {"next": target, "email": "", "error": None, "notice": notice}
    return pages.render("staff/sign_in.html", request, context)


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", "")).strip()[:320]
    password = str(form.get("password", ""))[:1000]
    target = safe_next(str(form.get("next", "")))
    app = request.app
    settings = app[SETTINGS]
    signed_in = None
    if email and password:
        try:
            signed_in = await check_sign_in(
                app[DB],
                app[THROTTLE],
                app[PASSWORDS],
                email=email,
                password=password,
                source=app[CLIENT_ADDRESS](request),
                known_device=request.cookies.get(device_cookie_name(settings)),
                secret=settings.secret_key.get_secret_value(),
            )
        except TooManyAttempts as exc:
            return await ratelimit.too_many(request, exc.retry_after)
    if signed_in is None:
        context = {"next": target, "email": email, "error": SIGN_IN_FAILED, "notice": ""}
        return pages.render("staff/sign_in.html", request, context, status=400)
    user = signed_in.user
    async with app[DB].write() as session:
        cookie = await open_session(session, user=user, now=app[CLOCK]())
    # A mediator's home is their sessions; everyone else starts at the board.
    if target == "/staff" and user.role is StaffRole.mediator:
        target = "/staff/sessions"
    response = web.HTTPSeeOther(target)
    set_session_cookie(response, settings, cookie)
    set_device_cookie(response, settings, signed_in.known_device)
    raise response


@routes.post("/staff/sign-out")
@staff_page(roles=ANY_STAFF)
async def sign_out(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    async with request.app[DB].write() as session:
        await close_session(session, cookie_value=request.cookies.get(cookie_name(settings), ""))
    response = web.HTTPSeeOther("/sign-in?signed_out=1")
    clear_session_cookie(response, settings)
    raise response


@routes.get("/set-password/{token}")
async def set_password_form(request: web.Request) -> web.StreamResponse:
    user = await _invited_user(request)
    return pages.render("staff/set_password.html", request, {"who": user, "error": None})


@routes.post("/set-password/{token}")
async def set_password_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    password = str(form.get("password", ""))[:1000]
    confirm = str(form.get("confirm", ""))[:1000]
    problem = password_problem(password, confirm)
    if problem:
        invited = await _invited_user(request)
        context = {"who": invited, "error": problem}
        return pages.render("staff/set_password.html", request, context, status=400)
    await _invited_user(request)  # a dead link is refused before any hashing
    password_hash = await request.app[PASSWORDS].hash(password)
    now = request.app[CLOCK]()
    async with request.app[DB].write() as session:
        user = await user_for_set_password_token(
            session,
            request.match_info["token"],
            secret=request.app[SETTINGS].secret_key.get_secret_value(),
            now=now,
            lock=True,
        )
        if user is None:
            raise ApiError(410, "link_invalid", "this link has expired or has already been used")
        await set_password(session, user=user, password_hash=password_hash, now=now)
    raise see_other("/sign-in?password_set=1")


async def _invited_user(request: web.Request) -> StaffUser:
    async with request.app[DB].read() as session:
        user = await user_for_set_password_token(
            session,
            request.match_info["token"],
            secret=request.app[SETTINGS].secret_key.get_secret_value(),
            now=request.app[CLOCK](),
        )
    if user is None:
        raise ApiError(410, "link_invalid", "this link has expired or has already been used")
    return user
