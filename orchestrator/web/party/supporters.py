"""A young person's "Who would you like to bring?" page: ``GET/POST /b/{token}``.

Their own signed link (sent with the acknowledgement of their referral). The form adds one
person at a time; a saved person redirects to the same page with the list updated (POST,
redirect, GET); a form with a problem comes back with the GOV.UK error summary.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from orchestrator.cases import supporters
from orchestrator.core.errors import Conflict
from orchestrator.web.keys import BUS, CLOCK, DB, SETTINGS
from orchestrator.web.pages import render
from orchestrator.web.staff.forms import form_data

routes = web.RouteTableDef()

FIELDS = ("role", "name", "email", "phone")


def _refusals(exc: ValidationError) -> dict[str, str]:
    """Field -> the key of its message (the template words it)."""
    found: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        field = str(err["loc"][0]) if err["loc"] else message.split(" ", 1)[0]
        found.setdefault(field if field in FIELDS else "email", field)
    return found


async def _page(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    app = request.app
    async with app[DB].read() as session:
        view = await supporters.open_supporters(
            session, request.match_info["token"], settings=app[SETTINGS], now=app[CLOCK]()
        )
    context: dict[str, Any] = {
        "name": view.young_person.name,
        "supporters": view.supporters,
        "values": values or {},
        "errors": errors or {},
        "added": request.query.get("added") == "1",
    }
    return render("party/supporters.html", request, context, status=422 if errors else 200)


@routes.get("/b/{token}")
async def who_to_bring(request: web.Request) -> web.Response:
    """Whom the young person brings so far, and the form to add someone."""
    return await _page(request)


@routes.post("/b/{token}")
async def add_supporter(request: web.Request) -> web.StreamResponse:
    """Add the person the young person chose."""
    app = request.app
    values = form_data(await request.post(), FIELDS)
    try:
        data = supporters.SupporterCreate.model_validate(values)
    except ValidationError as exc:
        return await _page(request, values=values, errors=_refusals(exc))
    try:
        async with app[DB].write() as session:
            await supporters.add_supporter(
                session,
                request.match_info["token"],
                data=data,
                settings=app[SETTINGS],
                now=app[CLOCK](),
                bus=app[BUS],
            )
    except Conflict:  # someone on the case has this address already
        return await _page(request, values=values, errors={"email": "taken"})
    raise web.HTTPSeeOther(location=f"/b/{request.match_info['token']}?added=1")
