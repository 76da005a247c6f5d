"""Families' own referrals, for schedulers: accept one into a case or decline it.

Both forms call the use cases the API calls (``messaging.referral_replies``); the case
page opens once a referral is accepted, with its clocks running from the day the family
asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import referrals
from orchestrator.core.errors import Conflict, ValidationFailed
from orchestrator.core.models import Case, Party
from orchestrator.messaging import referral_replies
from orchestrator.web import pages
from orchestrator.web.keys import DB, WORKDAYS
from orchestrator.web.staff.cases import CASE_PAGE_SECTIONS, audit_case_write
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()

WHO_WORDS = {"parent_carer": "Parent or carer", "young_person": "Young person"}
WANTS_WORDS = {
    "mediation": "Mediation",
    "disagreement_resolution": "Disagreement resolution",
    "mias_certificate": "Only the MIAS certificate",
}
ISSUE_WORDS = {"education": "Education", "health": "Health", "social_care": "Social care"}
CONTACT_WORDS = {"email": "Email", "phone": "Phone", "letter": "Letter"}


async def _list_page(
    request: web.Request,
    staff: StaffContext,
    *,
    failed: uuid.UUID | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[DB].read() as session:
        waiting = await referrals.list_referrals(session)
    context = staff.page(
        referrals=waiting,
        failed=failed,
        errors=errors or {},
        values=values or {},
        notice=request.query.get("notice", "")[:40],
        who_words=WHO_WORDS,
        wants_words=WANTS_WORDS,
        issue_words=ISSUE_WORDS,
        contact_words=CONTACT_WORDS,
    )
    return pages.render("staff/referrals.html", request, context, status=status)


@routes.get("/staff/referrals")
@staff_page(roles=SCHEDULERS)
async def referral_list(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The referrals families sent themselves, oldest first."""
    return await _list_page(request, staff)


def _refused(exc: Conflict | ValidationFailed, field: str) -> dict[str, str]:
    if isinstance(exc, Conflict) and "reference" in exc.message:
        return {"reference": "A case with this reference already exists: choose another"}
    return {field: pages.as_sentence(exc.message)}


# One decision on one referral, in a write: answers where to go next.
Decision = Callable[[AsyncSession, uuid.UUID], Awaitable[str]]


async def _decide(
    request: web.Request,
    staff: StaffContext,
    *,
    field: str,
    missing: str,
    act: Decision,
) -> web.StreamResponse:
    """Run ``act`` on the referral in the path with the form's ``field``; the list again
    with the refusal named on that referral's form."""
    referral_id = parse_uuid(request.match_info["referral_id"], "referral")
    value = str(staff.form.get(field, "")).strip()[:500]
    errors = {field: missing} if not value else {}
    if value:
        try:
            async with request.app[DB].write() as session:
                location = await act(session, referral_id)
        except (Conflict, ValidationFailed) as exc:
            errors = _refused(exc, field)
        else:
            raise see_other(location)
    return await _list_page(
        request, staff, failed=referral_id, errors=errors, values={field: value}, status=422
    )


@routes.post("/staff/referrals/{referral_id}/accept")
@staff_page(roles=SCHEDULERS)
async def accept(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Open the case: the family's go-ahead is the day they asked."""

    async def open_case(session: AsyncSession, referral_id: uuid.UUID) -> str:
        case, _ = await referral_replies.accept_referral(
            session,
            referral_id=referral_id,
            reference=str(staff.form.get("reference", "")).strip()[:64],
            settings=staff.settings,
            calendar=request.app[WORKDAYS],
            bus=staff.bus,
            now=staff.now,
            actor=staff.actor,
        )
        audit_case_write(session, staff, "referral.accept", case.id)
        return f"/staff/cases/{case.id}?notice=referral"

    return await _decide(
        request, staff, field="reference", missing="Enter the case reference", act=open_case
    )


@routes.post("/staff/referrals/{referral_id}/decline")
@staff_page(roles=SCHEDULERS)
async def decline(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Decline with a reason the family is told."""

    async def say_no(session: AsyncSession, referral_id: uuid.UUID) -> str:
        await referral_replies.decline_referral(
            session,
            referral_id=referral_id,
            reason=str(staff.form.get("reason", "")).strip()[:500],
            settings=staff.settings,
            now=staff.now,
            actor=staff.actor,
        )
        return "/staff/referrals?notice=declined"

    missing = "Say why the referral is declined: the family is told"
    return await _decide(request, staff, field="reason", missing=missing, act=say_no)


async def referral_section(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    parties: list[Party],
) -> dict[str, Any] | None:
    """On the case page: how the family asked to be reached, from their own referral."""
    referral = await referrals.referral_of_case(session, case.id)
    if referral is None:
        return None
    return {
        "referral": referral,
        "who_words": WHO_WORDS,
        "wants_words": WANTS_WORDS,
        "issue_words": ISSUE_WORDS,
        "contact_words": CONTACT_WORDS,
    }


CASE_PAGE_SECTIONS.append(("staff/_referral.html", referral_section))
