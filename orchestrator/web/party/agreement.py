"""The written agreement as a party reads it: ``/a/{token}``, their answer, the final PDF.

The page shows the version they were asked about and two choices: it is what was agreed,
or something is wrong (then, what). Once everyone has confirmed, it offers the PDF.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.closing import agreement_pdf, agreements
from orchestrator.core.errors import DomainError, NotFound
from orchestrator.core.languages import N_
from orchestrator.core.models import Agreement, LinkScope, Party
from orchestrator.web.keys import CLOCK, DB, SETTINGS
from orchestrator.web.pages import render
from orchestrator.web.party.link_holder import holder
from orchestrator.web.staff.forms import see_other

routes = web.RouteTableDef()


async def _open(session: AsyncSession, request: web.Request) -> tuple[Agreement, Party]:
    party, meeting = await holder(session, request, LinkScope.agreement)
    agreement = await agreements.find_agreement(session, meeting_id=meeting.id)
    if agreement is None:
        raise NotFound("agreement", meeting.id)
    return agreement, party


async def _context(
    session: AsyncSession, request: web.Request, agreement: Agreement, party: Party
) -> dict[str, Any]:
    view = await agreements.view_of(session, agreement)
    mine = next((a for a in view.answers if a.party.id == party.id), None)
    return {
        "name": party.name.split(" ")[0],
        "view": view,
        "actions": [
            {
                "who": a.owner_label or "Everyone",
                "what": a.action,
                "due": wording.day(a.due_on) if a.due_on else "",
            }
            for a in view.actions
        ],
        "mine": mine,
        "values": {},
        "errors": {},
        "pdf_href": f"/a/{request.match_info['token']}/agreement.pdf",
        "saved": request.query.get("saved") == "1",
    }


@routes.get("/a/{token}")
async def agreement_page(request: web.Request) -> web.Response:
    async with request.app[DB].read() as session:
        agreement, party = await _open(session, request)
        context = await _context(session, request, agreement, party)
    return render("party/agreement.html", request, context)


@routes.post("/a/{token}")
async def agreement_answer(request: web.Request) -> web.StreamResponse:
    """Confirm the agreement, or say what is wrong with it."""
    form = await request.post()
    choice = str(form.get("answer", ""))
    comment = str(form.get("comment", ""))[:5000]
    errors: dict[str, str] = {}
    if choice not in ("yes", "no"):
        errors["answer"] = N_("Choose whether this is what was agreed")
    elif choice == "no" and not comment.strip():
        errors["comment"] = N_("Say what is wrong with the agreement")
    if not errors:
        app = request.app
        async with app[DB].write() as session:
            agreement, party = await _open(session, request)
            try:
                await agreements.answer(
                    session,
                    agreement=agreement,
                    party=party,
                    data=agreements.AgreementAnswer(confirmed=choice == "yes", comment=comment),
                    settings=app[SETTINGS],
                    now=app[CLOCK](),
                )
            except NotFound:
                raise
            except DomainError as exc:
                errors["answer"] = exc.message
        if not errors:
            raise see_other(f"/a/{request.match_info['token']}?saved=1")
    async with request.app[DB].read() as session:
        agreement, party = await _open(session, request)
        context = await _context(session, request, agreement, party)
    context.update(values={"answer": choice, "comment": comment}, errors=errors)
    return render("party/agreement.html", request, context, status=422)


@routes.get("/a/{token}/agreement.pdf")
async def agreement_download(request: web.Request) -> web.StreamResponse:
    """The final agreement's PDF; 404 until everyone has confirmed it."""
    async with request.app[DB].read() as session:
        agreement, _party = await _open(session, request)
    pdf = agreement_pdf.read_pdf(agreement)
    if pdf is None:
        raise NotFound("agreement document", agreement.id)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="mediation-agreement.pdf"',
            "Cache-Control": "no-store",
        },
    )
