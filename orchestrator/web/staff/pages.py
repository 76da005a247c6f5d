"""Staff pages: sign-in, the deadline board, the case page with its parties, and admin.

Every page calls the use-case functions directly inside one unit of work, and every view
of a case is written to the staff audit trail. Forms carry the session's CSRF token.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.cases import deadlines, intake, panel, roster
from orchestrator.cases.timeline import staff_timeline
from orchestrator.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseCreate,
    CaseKind,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    Channel,
    ClockPublic,
    Mediator,
    Party,
    PartyCreate,
    PartyRole,
    PartyUpdate,
    StaffRole,
    StaffUser,
    is_person_name,
)
from orchestrator.staff import accounts as staff_users
from orchestrator.staff.sessions import (
    close_session,
    invite_staff,
    open_session,
    reset_password,
    set_password,
    user_for_set_password_token,
)
from orchestrator.staff.signin import TooManyAttempts
from orchestrator.staff.signin import sign_in as check_sign_in
from orchestrator.web import pages, ratelimit
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import (
    CLIENT_ADDRESS,
    CLOCK,
    DB,
    PASSWORDS,
    SETTINGS,
    THROTTLE,
    WORKDAYS,
)
from orchestrator.web.staff.sessions import (
    StaffContext,
    clear_session_cookie,
    cookie_name,
    device_cookie_name,
    load_staff,
    password_problem,
    require_csrf,
    safe_next,
    set_device_cookie,
    set_session_cookie,
    staff_page,
)

routes = web.RouteTableDef()

SCHEDULERS = (StaffRole.scheduler,)
CASE_READERS = (StaffRole.scheduler, StaffRole.mediator)
ADMINS = (StaffRole.admin,)

SIGN_IN_FAILED = (
    "The email address or password is not right. Check them and try again, or ask an admin to help."
)

ROLE_NAMES = {
    PartyRole.parent: "Parent or carer",
    PartyRole.young_person: "Young person",
    PartyRole.school: "School",
    PartyRole.college: "College",
    PartyRole.la_officer: "Local authority officer",
    PartyRole.health: "Health",
    PartyRole.social_care: "Social care",
    PartyRole.sendiass: "SENDIASS supporter",
    PartyRole.advocate: "Advocate",
    PartyRole.interpreter: "Interpreter",
    PartyRole.observer: "Observer",
}
CHANNEL_NAMES = {Channel.video: "Video", Channel.phone: "Phone", Channel.in_person: "In person"}
KIND_NAMES = {
    CaseKind.mediation: "Mediation",
    CaseKind.disagreement_resolution: "Disagreement resolution",
    CaseKind.mias: "Mediation information and advice (MIAS)",
}
STATUS_NAMES = {
    CaseStatus.referred: "Referred",
    CaseStatus.negotiating: "Finding a time",
    CaseStatus.booked: "Booked",
    CaseStatus.held: "Held, outcome due",
    CaseStatus.outcome_recorded: "Outcome recorded",
    CaseStatus.certificate_issued: "Certificate issued",
    CaseStatus.closed: "Closed",
    CaseStatus.withdrawn: "Withdrawn",
}
CLOCK_NAMES = {
    "target": "Target",
    "statutory": "Statutory 30 days",
    "contact_window": "Contact window",
    "appeal": "Appeal deadline",
    "certificate_due": "Certificate due",
    "health_notice": "LA tells health (ICB)",
}
LEVEL_TAGS = {
    "ok": ("On track", "govuk-tag--green"),
    "amber": ("Due soon", "govuk-tag--yellow"),
    "red": ("Urgent", "govuk-tag--red"),
    "overdue": ("Overdue", "govuk-tag--red"),
    "met": ("Done", "govuk-tag--green"),
    "late": ("Done late", "govuk-tag--orange"),
}
LEVEL_RANK = {"overdue": 0, "red": 1, "amber": 2, "ok": 3}


# ---------------------------------------------------------------------------- helpers


def install(app: web.Application) -> None:
    """Give templates the words for our vocabularies and the time formatter."""
    import aiohttp_jinja2

    env = aiohttp_jinja2.get_env(app)
    env.globals.update(
        role_names=ROLE_NAMES,
        channel_names=CHANNEL_NAMES,
        kind_names=KIND_NAMES,
        status_names=STATUS_NAMES,
        clock_names=CLOCK_NAMES,
        level_tags=LEVEL_TAGS,
    )
    env.filters["when"] = format_when
    env.filters["day"] = format_day


def format_when(value: datetime | None, zone: str = "Europe/London") -> str:
    """'Monday 2 March 2026, 9am GMT' in the case's zone (``wording.stamp``)."""
    if value is None:
        return ""
    return wording.stamp(value, zone=zone)


def format_day(value: date | None) -> str:
    if value is None:
        return ""
    return wording.short_day(value)


def form_data(form: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a posted form, trimmed; empty ones left out."""
    out: dict[str, str] = {}
    for name in fields:
        value = form.get(name) if form is not None else None
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as 'field -> plain sentence' (the first error of each field)."""
    errors: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        name = str(err["loc"][0]) if err["loc"] else "form"
        message = str(err["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, pages.as_sentence(message))
    return errors


def validate(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    # PostgreSQL cannot store U+0000; no name or note needs it (the API refuses it too).
    hidden = {
        name: "Remove the hidden control character (U+0000) from this field"
        for name, value in data.items()
        if isinstance(value, str) and "\x00" in value
    }
    if hidden:
        return None, hidden
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def parse_uuid(raw: str, kind: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(kind, raw) from None


async def present(session: AsyncSession, request: web.Request, case: Case) -> CasePublic:
    return await deadlines.present_case(
        session,
        case,
        default_target_days=request.app[SETTINGS].target_days,
        calendar=request.app[WORKDAYS],
        now=request.app[CLOCK](),
    )


def clocks_of(public: CasePublic) -> list[tuple[str, ClockPublic]]:
    d = public.deadlines
    found = [
        ("target", d.target),
        ("statutory", d.statutory),
        ("contact_window", d.contact_window),
        ("appeal", d.appeal),
        ("certificate_due", d.certificate_due),
        ("health_notice", d.health_notice),
    ]
    return [(name, clock) for name, clock in found if clock is not None]


def risk_key(public: CasePublic) -> tuple[int, int, str]:
    """Most at risk first: the worst level, then the fewest days left on any running clock."""
    running = [
        c for name, c in clocks_of(public) if name in ("target", "statutory", "certificate_due")
    ]
    worst = min(running, key=lambda c: (LEVEL_RANK[c.level], c.days_left))
    return LEVEL_RANK[worst.level], worst.days_left, public.reference


async def visible_case(session: AsyncSession, staff: StaffContext, case_id: uuid.UUID) -> Case:
    """The case if this person may see it; a mediator sees only their own (others: 404)."""
    case = await intake.get_case(session, case_id)
    if staff.user.role is StaffRole.mediator:
        mine = await panel.mediator_ids_for_user(session, staff.user.id)
        if case.mediator_id not in mine:
            raise NotFound("case", case_id)
    return case


def require_role(staff: StaffContext, *roles: StaffRole) -> None:
    if not staff.has_role(*roles):
        raise ApiError(403, "forbidden", "your role cannot do this")


# ---------------------------------------------------------------------------- sign in / out


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
@staff_page(roles=tuple(StaffRole))
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


# ---------------------------------------------------------------------------- the board


@dataclass
class BoardRow:
    case: CasePublic
    mediator: str
    clocks: list[tuple[str, ClockPublic]]
    cannot_reach: list[str]  # names of people who must be invited but have no contact


@routes.get("/staff")
@staff_page(roles=CASE_READERS)
async def board(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Open cases, most at risk first; filters by mediator, LA and stage."""
    query = request.query
    want_mediator = query.get("mediator", "")
    want_la = query.get("la", "").strip()
    want_stage = query.get("stage", "")
    async with request.app[DB].read() as session:
        mediators = await panel.list_mediators(session)
        names = {m.id: m.name for m in mediators}
        mine: set[uuid.UUID] | None = None
        if staff.user.role is StaffRole.mediator:
            mine = await panel.mediator_ids_for_user(session, staff.user.id)
        rows: list[BoardRow] = []
        authorities: set[str] = set()
        unreachable = await roster.unreachable_parties(session)
        for case in await intake.list_cases(session, limit=2000):
            # Open cases, and any whose certificate is still due: that clock is work too.
            public: CasePublic | None = None
            if case.status not in OPEN_CASE_STATUSES:
                public = await present(session, request, case)
                if public.deadlines.certificate_due is None:
                    continue
            if mine is not None and case.mediator_id not in mine:
                continue
            authorities.add(case.local_authority)
            if want_mediator == "none" and case.mediator_id is not None:
                continue
            if want_mediator not in ("", "none") and str(case.mediator_id) != want_mediator:
                continue
            if want_la and case.local_authority.lower() != want_la.lower():
                continue
            if want_stage and case.status.value != want_stage:
                continue
            public = public or await present(session, request, case)
            rows.append(
                BoardRow(
                    case=public,
                    mediator=names.get(case.mediator_id, "") if case.mediator_id else "",
                    clocks=[(n, c) for n, c in clocks_of(public) if n in ("target", "statutory")],
                    cannot_reach=[p.name for p in unreachable.get(case.id, [])],
                )
            )
    rows.sort(key=lambda r: risk_key(r.case))
    shown = [str(row.case.id) for row in rows]
    await staff.audit("page.board", details={"shown": len(rows), "case_ids": shown})
    context = staff.page(
        rows=rows,
        mediators=mediators,
        authorities=sorted(authorities),
        stages=[s for s in CaseStatus if s in OPEN_CASE_STATUSES],
        filters={"mediator": want_mediator, "la": want_la, "stage": want_stage},
        filtered=bool(want_mediator or want_la or want_stage),
    )
    return pages.render("staff/board.html", request, context)


# ---------------------------------------------------------------------------- cases

CASE_FIELDS = (
    "reference",
    "kind",
    "local_authority",
    "referral_date",
    "decision_date",
    "region",
    "target_days",
    "health_in_issue",
)


@routes.get("/staff/cases/new")
@staff_page(roles=SCHEDULERS)
async def new_case_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    today = staff.now.astimezone(ZoneInfo(staff.settings.timezone)).date()
    values = {"referral_date": today.isoformat(), "kind": "mediation"}
    context = staff.page(values=values, errors={}, kinds=list(CaseKind))
    return pages.render("staff/case_new.html", request, context)


@routes.post("/staff/cases/new")
@staff_page(roles=SCHEDULERS)
async def create_case(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    values = form_data(staff.form, CASE_FIELDS)
    data, errors = validate(CaseCreate, values)
    if data is not None:
        try:
            async with request.app[DB].write() as session:
                case = await intake.create_case(
                    session, data=data, now=staff.now, bus=staff.bus, actor=staff.actor
                )
                case_id = case.id
        except (Conflict, ValidationFailed) as exc:
            field = "reference" if isinstance(exc, Conflict) else "referral_date"
            if isinstance(exc.details, dict):
                field = str(exc.details.get("field", field))
            errors = {field: pages.as_sentence(exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?created=1")
    context = staff.page(values=values, errors=errors, kinds=list(CaseKind))
    return pages.render("staff/case_new.html", request, context, status=422)


@routes.get("/staff/cases/{case_id}")
@staff_page(roles=CASE_READERS)
async def case_page(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    async with request.app[DB].read() as session:
        case = await visible_case(session, staff, case_id)
        context = await case_context(session, request, staff, case)
    await staff.audit("page.case", case_id=case.id, target_type="case", target_id=str(case.id))
    return pages.render("staff/case.html", request, context)


async def case_page_with_errors(
    request: web.Request,
    staff: StaffContext,
    case_id: uuid.UUID,
    *,
    status: int = 422,
    **form: dict[str, str] | None,
) -> web.StreamResponse:
    """The case page again, with what a form on it refused and the values typed there."""
    async with request.app[DB].read() as session:
        case = await intake.get_case(session, case_id)
        context = await case_context(session, request, staff, case, **form)
    return pages.render("staff/case.html", request, context, status=status)


async def case_context(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    *,
    party_values: dict[str, str] | None = None,
    party_errors: dict[str, str] | None = None,
    icb_values: dict[str, str] | None = None,
    icb_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    public = await present(session, request, case)
    today = staff.now.astimezone(ZoneInfo(case.timezone)).date()
    parties = await roster.list_parties(session, case_id=case.id)
    mediators = await panel.list_mediators(session)
    mediator = next((m for m in mediators if m.id == case.mediator_id), None)
    timeline = await staff_timeline(session, case=case, limit=200)
    sections = []
    for template, contributor in CASE_PAGE_SECTIONS:
        found = await contributor(session, request, staff, case, parties)
        if found is not None:
            sections.append((template, found))
    return staff.page(
        case=public,
        case_row=case,
        clocks=clocks_of(public),
        parties=parties,
        cannot_reach=[p for p in parties if roster.cannot_reach(p)]
        if case.status in OPEN_CASE_STATUSES
        else [],
        mediators=mediators,
        mediator=mediator,
        timeline=timeline,
        party_roles=list(PartyRole),
        channels=list(Channel),
        party_values=party_values or {"channel": "video"},
        party_errors=party_errors or {},
        icb_values=icb_values or {"icb_notified_on": today.isoformat()},
        icb_errors=icb_errors or {},
        created=request.query.get("created") == "1",
        notice=request.query.get("notice", "")[:200],
        can_schedule=staff.has_role(StaffRole.scheduler),
        zone=case.timezone,
        sections=sections,
    )


# Other sections of the case page (availability, meetings, documents): a template and
# ``async def f(session, request, staff, case, parties) -> dict | None`` giving its context
# (None hides the section). The template sees it as ``section``.
SectionContributor = Callable[
    [AsyncSession, web.Request, StaffContext, Case, list[Party]], Awaitable[dict[str, Any] | None]
]
CASE_PAGE_SECTIONS: list[tuple[str, SectionContributor]] = []


@routes.post("/staff/cases/{case_id}/mediator")
@staff_page(roles=SCHEDULERS)
async def assign_mediator(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    raw = str(staff.form.get("mediator_id", ""))
    async with request.app[DB].write() as session:
        case = await intake.get_case(session, case_id)
        mediator = await panel.get_mediator(session, parse_uuid(raw, "mediator"))
        await panel.assign_mediator(
            session, case=case, mediator=mediator, now=staff.now, actor=staff.actor, bus=staff.bus
        )
        _audit_write(session, staff, "case.mediator", case.id)
    raise see_other(f"/staff/cases/{case_id}?notice=mediator")


@routes.post("/staff/cases/{case_id}/icb-notice")
@staff_page(roles=SCHEDULERS)
async def record_icb_notice(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Record the day the health commissioners (ICB) were told: its clock stops."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    values = form_data(staff.form, ("icb_notified_on",))
    data, errors = validate(CaseUpdate, values)
    if not values:
        errors = {"icb_notified_on": "Enter the day the ICB was told"}
    if data is not None and not errors:
        try:
            async with request.app[DB].write() as session:
                case = await intake.get_case(session, case_id)
                await intake.update_case(
                    session, case=case, data=data, now=staff.now, actor=staff.actor
                )
                _audit_write(session, staff, "case.icb_notice", case.id)
        except ValidationFailed as exc:  # refused before anything changed
            errors = {"icb_notified_on": pages.as_sentence(exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?notice=icb#clocks")
    return await case_page_with_errors(
        request, staff, case_id, icb_values=values, icb_errors=errors
    )


def _audit_write(session: AsyncSession, staff: StaffContext, action: str, case_id: Any) -> None:
    from orchestrator.core.records import add_audit

    add_audit(
        session,
        actor_id=staff.user.id,
        action=action,
        at=staff.now,
        case_id=case_id,
        target_type="case",
        target_id=str(case_id),
    )


# ---------------------------------------------------------------------------- parties

PARTY_FIELDS = (
    "role",
    "name",
    "email",
    "phone",
    "organisation",
    "channel",
    "language",
    "needs",
)


def party_form_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = form_data(form, PARTY_FIELDS)
    values["required"] = form.get("required") == "yes" if "required_shown" in form else None
    values["easy_read"] = form.get("easy_read") == "yes"
    return values


@routes.post("/staff/cases/{case_id}/parties")
@staff_page(roles=SCHEDULERS)
async def add_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    values = party_form_values(staff.form)
    data, errors = validate(PartyCreate, {k: v for k, v in values.items() if v is not None})
    if data is not None:
        try:
            async with request.app[DB].write() as session:
                case = await intake.get_case(session, case_id)
                await roster.add_party(
                    session, case=case, data=data, now=staff.now, bus=staff.bus, actor=staff.actor
                )
                _audit_write(session, staff, "party.add", case.id)
        except ValidationFailed as exc:
            errors = {"email": pages.as_sentence(exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?notice=party-added#parties")
    return await case_page_with_errors(
        request, staff, case_id, party_values=values, party_errors=errors
    )


async def _party(session: AsyncSession, request: web.Request) -> tuple[Case, Party]:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    party_id = parse_uuid(request.match_info["party_id"], "party")
    case = await intake.get_case(session, case_id)
    party = await roster.get_party(session, case_id=case.id, party_id=party_id)
    return case, party


@routes.get("/staff/cases/{case_id}/parties/{party_id}")
@staff_page(roles=SCHEDULERS)
async def edit_party_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        case, party = await _party(session, request)
    await staff.audit("page.party", case_id=case.id, target_type="party", target_id=str(party.id))
    values = {k: getattr(party, k) for k in PARTY_FIELDS}
    values["role"] = party.role.value
    values["channel"] = party.channel.value
    values["required"] = party.required
    values["easy_read"] = party.easy_read
    context = staff.page(case=case, party=party, values=values, errors={}, channels=list(Channel))
    return pages.render("staff/party_edit.html", request, context)


@routes.post("/staff/cases/{case_id}/parties/{party_id}")
@staff_page(roles=SCHEDULERS)
async def edit_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    values = party_form_values(staff.form)
    values.pop("role", None)
    update: dict[str, Any] = {k: values.get(k) for k in PARTY_FIELDS if k != "role"}
    update["required"] = values["required"]
    update["easy_read"] = values["easy_read"]
    if update["channel"] is None:
        update.pop("channel")
    if update["required"] is None:
        update.pop("required")
    data, errors = validate(PartyUpdate, update)
    if not update.get("name"):
        errors = {"name": "Enter their full name", **errors}
    saved = False
    async with request.app[DB].write() as session:
        case, party = await _party(session, request)
        if data is not None and not errors:
            try:
                await roster.update_party(
                    session, party=party, data=data, now=staff.now, actor=staff.actor
                )
            except ValidationFailed as exc:  # refused before anything changed
                errors = {"email": pages.as_sentence(exc.message)}
            else:
                _audit_write(session, staff, "party.update", case.id)
                saved = True
    if saved:
        raise see_other(f"/staff/cases/{case.id}?notice=party-changed#parties")
    context = staff.page(
        case=case, party=party, values=values, errors=errors, channels=list(Channel)
    )
    return pages.render("staff/party_edit.html", request, context, status=422)


@routes.get("/staff/cases/{case_id}/parties/{party_id}/remove")
@staff_page(roles=SCHEDULERS)
async def remove_party_confirm(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        case, party = await _party(session, request)
    context = staff.page(case=case, party=party)
    return pages.render("staff/party_remove.html", request, context)


@routes.post("/staff/cases/{case_id}/parties/{party_id}/remove")
@staff_page(roles=SCHEDULERS)
async def remove_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].write() as session:
        case, party = await _party(session, request)
        await roster.remove_party(
            session, party=party, now=staff.now, bus=staff.bus, actor=staff.actor
        )
        _audit_write(session, staff, "party.remove", case.id)
    raise see_other(f"/staff/cases/{case.id}?notice=party-removed#parties")


# ---------------------------------------------------------------------------- admin


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


def board_url(**filters: str) -> str:
    return "/staff?" + urlencode({k: v for k, v in filters.items() if v})


__all__ = ["CASE_PAGE_SECTIONS", "Mediator", "install", "require_csrf", "routes"]
