"""The outcome form a mediator fills in after the session ends."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from orchestrator.cases import roster
from orchestrator.closing import outcomes
from orchestrator.core.errors import DomainError, NotFound
from orchestrator.core.models import OutcomeResult
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.forms import see_other
from orchestrator.web.staff.my_meetings import audit_meeting_write, my_meeting
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


RESULT_WORDS = {
    OutcomeResult.agreement: "Agreement on everything",
    OutcomeResult.partial_agreement: "Agreement on some issues",
    OutcomeResult.no_agreement: "No agreement",
    OutcomeResult.withdrawn: "A party withdrew",
    OutcomeResult.not_attended: "A party did not attend",
}


@routes.get("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    saved = request.query.get("saved") == "1"
    return await _outcome_page(request, staff, values={}, errors={}, saved=saved)


@routes.post("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_submit(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    data, errors = _outcome_from(staff.form)
    if data is not None:
        try:
            async with request.app[DB].write() as session:
                meeting, _ = await my_meeting(session, staff, request.match_info["meeting_id"])
                await outcomes.record_outcome(
                    session,
                    meeting=meeting,
                    data=data,
                    now=staff.now,
                    bus=staff.bus,
                    actor=staff.actor,
                    recorded_by=staff.user.id,
                )
                audit_meeting_write(session, staff, "outcome.record", meeting)
        except NotFound:
            raise
        except DomainError as exc:
            errors["result"] = pages.as_sentence(exc.message)
        else:
            raise see_other(f"/staff/meetings/{meeting.id}/outcome?saved=1")
    values = {k: str(v) for k, v in staff.form.items() if isinstance(v, str)}
    return await _outcome_page(request, staff, values=values, errors=errors, status=422)


async def _outcome_page(
    request: web.Request,
    staff: StaffContext,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    saved: bool = False,
    status: int = 200,
) -> web.StreamResponse:
    """The outcome form for the meeting in the path, with what was typed and refused."""
    async with request.app[DB].read() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        parties = await roster.list_parties(session, case_id=case.id)
    context = staff.page(
        meeting=meeting,
        case=case,
        parties=parties,
        results=list(OutcomeResult),
        result_words=RESULT_WORDS,
        values=values,
        errors=errors,
        saved=saved,
    )
    return pages.render("staff/outcome.html", request, context, status=status)


def _outcome_from(form: Any) -> tuple[outcomes.OutcomeCreate | None, dict[str, str]]:
    """The outcome the form describes (up to three issues), or what is wrong with it."""
    issues = []
    for i in range(1, 4):
        summary = str(form.get(f"issue_{i}", "")).strip()
        if summary:
            issues.append({"summary": summary, "agreed": form.get(f"agreed_{i}") == "yes"})
    raw = {
        "result": str(form.get("result", "")),
        "issues": issues,
        "agreement_text": str(form.get("agreement_text", "")).strip() or None,
        "notes": str(form.get("notes", "")).strip() or None,
    }
    try:
        return outcomes.OutcomeCreate.model_validate(raw), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "result"
            errors.setdefault(name, "Choose what happened" if name == "result" else err["msg"])
        return None, errors
