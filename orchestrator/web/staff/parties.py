"""The parties of a case: add, change and remove them from the case page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestrator.cases import intake, roster
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.models import Channel, PartyCreate, PartyUpdate
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.cases import audit_case_write, case_and_party, case_page_with_errors
from orchestrator.web.staff.forms import form_data, parse_uuid, see_other, validate
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


PARTY_FIELDS = (
    "role",
    "name",
    "email",
    "phone",
    "organisation",
    "town",
    "postal_address",
    "postcode",
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
                audit_case_write(session, staff, "party.add", case.id)
        except ValidationFailed as exc:
            errors = {"email": pages.as_sentence(exc.message)}
        else:
            raise see_other(f"/staff/cases/{case_id}?notice=party-added#parties")
    return await case_page_with_errors(
        request, staff, case_id, party_values=values, party_errors=errors
    )


@routes.get("/staff/cases/{case_id}/parties/{party_id}")
@staff_page(roles=SCHEDULERS)
async def edit_party_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        case, party = await case_and_party(session, request)
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
        case, party = await case_and_party(session, request)
        if data is not None and not errors:
            try:
                await roster.update_party(
                    session, party=party, data=data, now=staff.now, actor=staff.actor
                )
            except ValidationFailed as exc:  # refused before anything changed
                errors = {"email": pages.as_sentence(exc.message)}
            else:
                audit_case_write(session, staff, "party.update", case.id)
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
        case, party = await case_and_party(session, request)
    context = staff.page(case=case, party=party)
    return pages.render("staff/party_remove.html", request, context)


@routes.post("/staff/cases/{case_id}/parties/{party_id}/remove")
@staff_page(roles=SCHEDULERS)
async def remove_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].write() as session:
        case, party = await case_and_party(session, request)
        await roster.remove_party(
            session, party=party, now=staff.now, bus=staff.bus, actor=staff.actor
        )
        audit_case_write(session, staff, "party.remove", case.id)
    raise see_other(f"/staff/cases/{case.id}?notice=party-removed#parties")
