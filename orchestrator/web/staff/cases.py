"""The case page and the forms on it: new case, mediator, ICB notice.

Every view of a case is written to the staff audit trail; other capabilities add their
sections to the page through ``CASE_PAGE_SECTIONS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import deadlines, intake, panel, roster, visibility
from orchestrator.cases.timeline import staff_timeline
from orchestrator.core import records
from orchestrator.core.errors import Conflict, ValidationFailed
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseCreate,
    CaseKind,
    CasePublic,
    CaseUpdate,
    Channel,
    ClockPublic,
    PartStat,
    Party,
    PartyRole,
)
from orchestrator.messaging import deliveries, letter_post
from orchestrator.scheduling import who_is_coming
from orchestrator.web import pages
from orchestrator.web.keys import CLOCK, DB, SETTINGS, WORKDAYS
from orchestrator.web.staff.forms import (
    date_parts,
    domain_date_error,
    form_data,
    parse_uuid,
    read_dates,
    see_other,
    validate,
)
from orchestrator.web.staff.roles import CASE_READERS, SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


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


async def visible_case(session: AsyncSession, staff: StaffContext, case_id: uuid.UUID) -> Case:
    """The case if this person may see it; a mediator sees only their own (others: 404)."""
    return await visibility.visible_case(session, staff.user, case_id)


async def case_and_party(
    session: AsyncSession, request: web.Request, *, seen_by: StaffContext | None = None
) -> tuple[Case, Party]:
    """The case and party in the path; with ``seen_by``, only a case that person may see."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    party_id = parse_uuid(request.match_info["party_id"], "party")
    if seen_by is None:
        case = await intake.get_case(session, case_id)
    else:
        case = await visible_case(session, seen_by, case_id)
    party = await roster.get_party(session, case_id=case.id, party_id=party_id)
    return case, party


# Beside each name: their answer to the booked meeting's invite, and how it reached us.
INVITE_WORDS = {
    PartStat.needs_action: ("No answer yet", "govuk-tag--grey"),
    PartStat.accepted: ("Accepted", "govuk-tag--green"),
    PartStat.tentative: ("Maybe", "govuk-tag--yellow"),
    PartStat.declined: ("Declined", "govuk-tag--red"),
}
DOOR_WORDS = {
    "rsvp": "with the link in their email",
    "calendar": "from their calendar",
    "phone": "on the phone, entered by staff",
}

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
CASE_DATES = ("referral_date", "decision_date")


@routes.get("/staff/cases/new")
@staff_page(roles=SCHEDULERS)
async def new_case_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    today = staff.now.astimezone(ZoneInfo(staff.settings.timezone)).date()
    values = {"kind": "mediation"}
    dates = {"referral_date": date_parts(today), "decision_date": {}}
    context = staff.page(values=values, dates=dates, errors={}, kinds=list(CaseKind))
    return pages.render("staff/case_new.html", request, context)


@routes.post("/staff/cases/new")
@staff_page(roles=SCHEDULERS)
async def create_case(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    dates = read_dates(staff.form, CASE_DATES, required=("referral_date",))
    values = {**form_data(staff.form, CASE_FIELDS), **dates.values}
    data, refused = validate(CaseCreate, values)
    errors = in_form_order({**refused, **dates.errors})
    if data is not None and not errors:
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
            errors = {field: domain_date_error(field, exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?created=1")
    context = staff.page(values=values, dates=dates.shown, errors=errors, kinds=list(CaseKind))
    return pages.render("staff/case_new.html", request, context, status=422)


def in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """The refusals in the order the fields appear, so the summary reads down the form."""
    ordered = {name: errors[name] for name in CASE_FIELDS if name in errors}
    return {**ordered, **errors}


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
        replies=await who_is_coming.replies_of_case(session, case_id=case.id),
        invite_words=INVITE_WORDS,
        door_words=DOOR_WORDS,
        cannot_reach=[p for p in parties if roster.cannot_reach(p)]
        if case.status in OPEN_CASE_STATUSES
        else [],
        unreached=await deliveries.unreached(session, case_id=case.id),
        letters=await letter_post.letters_of_case(
            session, case_id=case.id, calendar=request.app[WORKDAYS]
        ),
        mediators=mediators,
        mediator=mediator,
        timeline=timeline,
        party_roles=list(PartyRole),
        channels=list(Channel),
        party_values=party_values or {"channel": "video"},
        party_errors=party_errors or {},
        icb_values=icb_values if icb_values is not None else date_parts(today),
        icb_errors=icb_errors or {},
        created=request.query.get("created") == "1",
        notice=request.query.get("notice", "")[:200],
        can_schedule=staff.may(SCHEDULERS),
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
        audit_case_write(session, staff, "case.mediator", case.id)
    raise see_other(f"/staff/cases/{case_id}?notice=mediator")


@routes.post("/staff/cases/{case_id}/icb-notice")
@staff_page(roles=SCHEDULERS)
async def record_icb_notice(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Record the day the health commissioners (ICB) were told: its clock stops."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    dates = read_dates(staff.form, ("icb_notified_on",), required=("icb_notified_on",))
    data, errors = validate(CaseUpdate, dates.values)
    errors = {**errors, **dates.errors}
    if data is not None and not errors:
        try:
            async with request.app[DB].write() as session:
                case = await intake.get_case(session, case_id)
                await intake.update_case(
                    session, case=case, data=data, now=staff.now, actor=staff.actor
                )
                audit_case_write(session, staff, "case.icb_notice", case.id)
        except ValidationFailed as exc:  # refused before anything changed
            errors = {"icb_notified_on": domain_date_error("icb_notified_on", exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?notice=icb#clocks")
    return await case_page_with_errors(
        request, staff, case_id, icb_values=dates.shown["icb_notified_on"], icb_errors=errors
    )


def audit_case_write(session: AsyncSession, staff: StaffContext, action: str, case_id: Any) -> None:
    """Put what this person changed on a case on the staff audit trail, in the same commit."""
    records.add_audit(
        session,
        actor_id=staff.user.id,
        action=action,
        at=staff.now,
        case_id=case_id,
        target_type="case",
        target_id=str(case_id),
    )
