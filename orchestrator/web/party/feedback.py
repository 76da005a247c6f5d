"""The feedback form a party opens after the meeting: ``/feedback/{token}``, three questions."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.closing import feedback
from orchestrator.core.models import LinkScope, Meeting, Party
from orchestrator.web.keys import CLOCK, DB
from orchestrator.web.pages import render
from orchestrator.web.party.link_holder import holder
from orchestrator.web.staff.forms import see_other

routes = web.RouteTableDef()

# Each question's first error, in the page's words.
MESSAGES = {
    "satisfaction": "Choose how satisfied you are with how the mediation was run",
    "listened": "Choose whether you felt listened to",
    "comment": "Keep your comment under 3,000 characters",
}


async def _open(session: AsyncSession, request: web.Request) -> tuple[Meeting, Party]:
    party, meeting = await holder(session, request, LinkScope.feedback)
    return meeting, party


def _context(party: Party, request: web.Request, values: dict[str, str]) -> dict[str, Any]:
    return {
        "name": party.name.split(" ")[0],
        "values": values,
        "errors": {},
        "saved": request.query.get("saved") == "1",
    }


@routes.get("/feedback/{token}")
async def feedback_page(request: web.Request) -> web.Response:
    async with request.app[DB].read() as session:
        meeting, party = await _open(session, request)
        given = await feedback.find_answer(session, meeting_id=meeting.id, party=party)
    values = {}
    if given is not None:
        values = {
            "satisfaction": str(given.satisfaction),
            "listened": given.listened,
            "comment": given.comment or "",
            "may_quote": "yes" if given.may_quote else "",
        }
    return render("party/feedback.html", request, _context(party, request, values))


@routes.post("/feedback/{token}")
async def feedback_answer(request: web.Request) -> web.StreamResponse:
    """Keep the answers, or show the form again with what is missing."""
    form = await request.post()
    values = {k: str(form.get(k, ""))[:3100] for k in ("satisfaction", "listened", "comment")}
    values["may_quote"] = "yes" if form.get("may_quote") == "yes" else ""
    errors: dict[str, str] = {}
    data = None
    try:
        data = feedback.FeedbackAnswer.model_validate(
            {
                "satisfaction": values["satisfaction"] or None,
                "listened": values["listened"] or None,
                "comment": values["comment"],
                "may_quote": bool(values["may_quote"]),
            }
        )
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            field = str(err["loc"][0]) if err["loc"] else "satisfaction"
            errors.setdefault(field, MESSAGES.get(field, MESSAGES["satisfaction"]))
    app = request.app
    if data is not None:
        async with app[DB].write() as session:
            meeting, party = await _open(session, request)
            await feedback.save_answer(
                session, meeting=meeting, party=party, data=data, now=app[CLOCK]()
            )
        raise see_other(f"/feedback/{request.match_info['token']}?saved=1")
    async with app[DB].read() as session:
        _meeting, party = await _open(session, request)
    context = _context(party, request, values)
    context["errors"] = {k: errors[k] for k in MESSAGES if k in errors}
    return render("party/feedback.html", request, context, status=422)
