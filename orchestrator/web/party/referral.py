"""Refer yourself: the public form at ``/refer`` for parents, carers and young people.

No account and no JavaScript needed. Every post counts against the sender's address
(``ratelimit.count_at_door``); a form with a problem comes back with the GOV.UK error
summary and what was typed, and every accepted form — a bot's filled-in honeypot
included — answers the same thank-you page, so nothing says who is known already. The
words people read are in the templates, in ``_()``; this module passes a key per refusal.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from orchestrator.cases import referrals
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.models import ReferralCreate
from orchestrator.web import ratelimit
from orchestrator.web.keys import CLOCK, DB, SETTINGS
from orchestrator.web.pages import render
from orchestrator.web.staff.forms import form_data, read_dates

routes = web.RouteTableDef()

TEXT_FIELDS = (
    "who",
    "name",
    "contact_by",
    "email",
    "phone",
    "address",
    "best_times",
    "local_authority",
    "wants",
    "parent_name",
    "parent_email",
    "parent_phone",
    "website",
)
DATE_FIELDS = ("date_of_birth", "decision_date")
ISSUES = ("education", "health", "social_care")
# The order of the fields on the page, so the error summary reads down the form.
FORM_ORDER = (
    "who",
    "name",
    "date_of_birth",
    "parent_name",
    "contact_by",
    "email",
    "phone",
    "address",
    "local_authority",
    "decision_date",
    "issues",
    "wants",
)


def _refusals(exc: ValidationError) -> dict[str, str]:
    """Field -> the key of its message (the template words it). A rule across fields
    (``ReferralCreate.missing_for``) is named by the caller, field by field."""
    found: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        if err["loc"]:
            field = str(err["loc"][0])
            found.setdefault(field, f"{field}:{err['type']}")
    return found


def read_referral(form: Any) -> tuple[dict[str, Any], dict[str, dict[str, str]], dict[str, str]]:
    """The posted form as the referral's fields, the date boxes as typed, and refusals."""
    values: dict[str, Any] = form_data(form, TEXT_FIELDS)
    dates = read_dates(form, DATE_FIELDS, required=())
    values.update(dates.values)
    values["issues"] = [i for i in form.getall("issues", []) if i in ISSUES]
    values["invite_parent"] = form.get("invite_parent") == "yes"
    if values.get("who") != "young_person":  # a parent's referral has no young person's date
        values.pop("date_of_birth", None)
        values["invite_parent"] = False
    errors = {name: f"{name}:date" for name in dates.errors}
    return values, dates.shown, errors


def _page(request: web.Request, **context: Any) -> web.Response:
    context.setdefault("values", {"issues": []})
    context.setdefault("dates", {name: {} for name in DATE_FIELDS})
    context.setdefault("errors", {})
    context["form_order"] = FORM_ORDER
    status = 422 if context["errors"] else 200
    return render("party/refer.html", request, context, status=status)


@routes.get("/refer")
async def referral_form(request: web.Request) -> web.Response:
    """The empty form."""
    return _page(request)


@routes.post("/refer")
async def send_referral(request: web.Request) -> web.StreamResponse:
    """Keep the referral and thank the family; the same answer for everyone accepted."""
    wait = await ratelimit.count_at_door(request, "referral")
    if wait:
        return await ratelimit.too_many(request, wait)
    values, dates, errors = read_referral(await request.post())
    data: ReferralCreate | None = None
    try:
        data = ReferralCreate.model_validate(values)
    except ValidationError as exc:
        lacking = {name: f"{name}:missing" for name in ReferralCreate.missing_for(values)}
        errors = {**lacking, **_refusals(exc), **errors}
    if data is not None and not errors:
        app = request.app
        try:
            async with app[DB].write() as session:
                await referrals.submit_referral(
                    session, data=data, now=app[CLOCK](), zone=app[SETTINGS].timezone
                )
        except ValidationFailed as exc:
            field = str(exc.details.get("field", "who")) if isinstance(exc.details, dict) else "who"
            errors = {field: f"{field}:rule"}
        else:
            raise web.HTTPSeeOther(location="/refer/thanks")
    ordered = {name: errors[name] for name in FORM_ORDER if name in errors}
    return _page(request, values=values, dates=dates, errors={**ordered, **errors})


@routes.get("/refer/thanks")
async def referral_sent(request: web.Request) -> web.Response:
    return render("party/refer_thanks.html", request, {})
