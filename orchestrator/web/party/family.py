"""The family's own page, ``/f/{token}``: book the information call, or withdraw.

For an information call (MIAS) the page offers the adviser's free 20-minute times by day
(``/f/{token}/call``) and the number to ring; for mediation it lets the family withdraw
at any time and ask for the certificate (``/f/{token}/withdraw``), with a confirm step.
A GET changes nothing; each form posts back to its own link and, once saved, redirects
to the page (POST, redirect, GET). A refused form comes back on the same page with the
GOV.UK error summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from calendars import wording
from calendars.clocks import certificate_due
from orchestrator.cases import deadlines
from orchestrator.closing import withdrawal
from orchestrator.core.errors import Conflict, DomainError, InvalidState, ValidationFailed
from orchestrator.core.languages import N_
from orchestrator.messaging import family_links
from orchestrator.messaging.family_links import FamilyView
from orchestrator.messaging.invite_content import meeting_when
from orchestrator.scheduling import mias_calls
from orchestrator.web.keys import BUS, BUSY_READER, CLOCK, DB, HTTP, SETTINGS, WORKDAYS
from orchestrator.web.pages import render

routes = web.RouteTableDef()

START_FIELD = "start"
TIME_FORMAT = "%Y%m%dT%H%MZ"


def _token(request: web.Request) -> str:
    return request.match_info["token"]


async def _view(request: web.Request) -> FamilyView:
    """Check the link and read the page's case (the friendly 4xx page when it is dead)."""
    app = request.app
    async with app[DB].read() as session:
        return await family_links.open_family_page(
            session, _token(request), settings=app[SETTINGS], now=app[CLOCK]()
        )


def _certificate_due(request: web.Request, view: FamilyView) -> str | None:
    """The day the family's certificate is due, once something calls for one."""
    event = deadlines.certificate_event_on(view.case)
    if event is None or _certificate_sent(view):
        return None
    return wording.day(certificate_due(event, request.app[WORKDAYS]))


def _certificate_sent(view: FamilyView) -> bool:
    """A certificate was issued for the latest event that called for one."""
    event, issued = deadlines.certificate_event_on(view.case), view.certificate_issued_on
    return event is not None and issued is not None and issued >= event


def _context(request: web.Request, view: FamilyView, **more: Any) -> dict[str, Any]:
    case, party, call = view.case, view.party, view.meeting
    return {
        "party_name": party.name,
        "reference": case.reference,
        "is_mias": mias_calls.is_information_call(case),
        "call_when": meeting_when(call, case.timezone) if call else None,
        "call_number": party.phone or "",
        "withdrawn": withdrawal.has_withdrawn(case),
        "may_withdraw": withdrawal.may_withdraw(case, party),
        "certificate_due": _certificate_due(request, view),
        "certificate_sent": _certificate_sent(view),
        "token": _token(request),
        **more,
    }


@routes.get("/f/{token}")
async def family_page(request: web.Request) -> web.Response:
    """The family's page: their call, or where their case stands and the way out."""
    view = await _view(request)
    return render("party/family.html", request, _context(request, view))


def _field(start: datetime) -> str:
    return start.astimezone(UTC).strftime(TIME_FORMAT)


def _start_of(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


async def _free_days(request: web.Request, view: FamilyView) -> list[mias_calls.FreeDay]:
    app = request.app
    async with app[DB].read() as session:
        return await mias_calls.free_days(
            session,
            case=view.case,
            now=app[CLOCK](),
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
            reader=app[BUSY_READER],
            http=app[HTTP],
        )


def _days_shown(view: FamilyView, days: list[mias_calls.FreeDay]) -> list[dict[str, Any]]:
    zone = ZoneInfo(view.case.timezone)
    return [
        {
            "label": wording.day(free.day),
            "times": [
                {"value": _field(s), "label": wording.clock(s.astimezone(zone))}
                for s in free.starts
            ],
        }
        for free in days
    ]


async def _call_page(
    request: web.Request,
    view: FamilyView,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    days = await _free_days(request, view) if view.meeting is None else []
    context = _context(
        request,
        view,
        days=_days_shown(view, days),
        errors=errors or {},
        values=values or {"phone": view.party.phone or "", START_FIELD: ""},
    )
    return render("party/family_call.html", request, context, status=status)


@routes.get("/f/{token}/call")
async def call_times(request: web.Request) -> web.Response:
    """The adviser's free 20-minute times by day, and the number to ring."""
    view = await _view(request)
    if not mias_calls.is_information_call(view.case) or view.meeting is not None:
        raise web.HTTPSeeOther(location=f"/f/{_token(request)}")
    return await _call_page(request, view)


def _refusals(start: datetime | None, phone: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if start is None:
        errors[START_FIELD] = N_("Choose a time for your call")
    try:
        mias_calls.checked_phone(phone)
    except DomainError as exc:
        errors["phone"] = exc.message
    return errors


@routes.post("/f/{token}/call")
async def book_call(request: web.Request) -> web.StreamResponse:
    """Book the chosen time (it must still be free), then show the page with the call."""
    app = request.app
    view = await _view(request)
    form = await request.post()
    raw_start, phone = str(form.get(START_FIELD, ""))[:40], str(form.get("phone", ""))[:40]
    start = _start_of(raw_start)
    values = {"phone": phone, START_FIELD: raw_start}
    errors = _refusals(start, phone)
    if not errors and start is not None:
        offered = mias_calls.offered_starts(await _free_days(request, view))
        try:
            async with app[DB].write() as session:
                found = await family_links.open_family_page(
                    session, _token(request), settings=app[SETTINGS], now=app[CLOCK]()
                )
                await mias_calls.book_call(
                    session,
                    case=found.case,
                    party=found.party,
                    start=start,
                    phone=phone,
                    offered=offered,
                    now=app[CLOCK](),
                    bus=app[BUS],
                    settings=app[SETTINGS],
                    workdays=app[WORKDAYS],
                )
        except (Conflict, InvalidState, ValidationFailed) as exc:
            errors[START_FIELD] = _taken(exc)
            values[START_FIELD] = ""
        else:
            raise web.HTTPSeeOther(location=f"/f/{_token(request)}?booked=1")
    return await _call_page(request, view, errors=errors, values=values, status=422)


def _taken(exc: DomainError) -> str:
    """A time someone else took a moment ago reads the same whichever check caught it."""
    if exc.code == "conflict":
        return N_("That time has just been taken. Choose another time")
    return exc.message


@routes.get("/f/{token}/withdraw")
async def confirm_withdrawal(request: web.Request) -> web.Response:
    """Ask the family to confirm: nothing changes until they press the button."""
    view = await _view(request)
    if not withdrawal.may_withdraw(view.case, view.party):
        raise web.HTTPSeeOther(location=f"/f/{_token(request)}")
    context = _context(request, view, errors={}, values={"reason": ""})
    return render("party/family_withdraw.html", request, context)


@routes.post("/f/{token}/withdraw")
async def withdraw(request: web.Request) -> web.StreamResponse:
    """Withdraw from mediation and ask for the certificate; then show the page again."""
    app = request.app
    form = await request.post()
    reason = str(form.get("reason", ""))[: withdrawal.MAX_REASON + 1]
    if len(reason) > withdrawal.MAX_REASON:
        view = await _view(request)
        errors = {"reason": withdrawal.REASON_TOO_LONG}
        context = _context(request, view, errors=errors, values={"reason": reason})
        return render("party/family_withdraw.html", request, context, status=422)
    async with app[DB].write() as session:
        view = await family_links.open_family_page(
            session, _token(request), settings=app[SETTINGS], now=app[CLOCK]()
        )
        if withdrawal.has_withdrawn(view.case):  # pressed twice: the first one stands
            raise web.HTTPSeeOther(location=f"/f/{_token(request)}")
        await withdrawal.withdraw(
            session,
            case=view.case,
            party=view.party,
            reason=reason,
            now=app[CLOCK](),
            bus=app[BUS],
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
        )
    raise web.HTTPSeeOther(location=f"/f/{_token(request)}?withdrawn=1")
