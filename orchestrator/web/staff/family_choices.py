"""Staff pages for the ways to a certificate without a mediation meeting.

On the case page: an information call's booking and the adviser's "the call took place"
button (its certificate is then issued by the outcome page's own button); for mediation,
a link to record that the LA cannot arrange it within 30 days (a page with the day,
refused on the same page). Each calls the same use-case as the API
(``session_control.call_done``, ``withdrawal.record_la_cannot_meet``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.clocks import certificate_due
from orchestrator.cases import deadlines
from orchestrator.closing import withdrawal
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseKind,
    MeetingStatus,
    Party,
)
from orchestrator.meeting import session_control
from orchestrator.scheduling import lookups
from orchestrator.web import pages
from orchestrator.web.keys import DB, WORKDAYS
from orchestrator.web.staff.cases import CASE_PAGE_SECTIONS, audit_case_write, visible_case
from orchestrator.web.staff.forms import (
    date_parts,
    domain_date_error,
    parse_uuid,
    read_dates,
    see_other,
)
from orchestrator.web.staff.my_meetings import audit_meeting_write, changing_my_meeting
from orchestrator.web.staff.roles import ROOM_STAFF, SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
FIELD = "la_cannot_meet_30_days_on"


async def certificate_section(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    parties: list[Party],
) -> dict[str, Any] | None:
    """The information call and its certificate, or (mediation) the LA's 30 days."""
    calls = await lookups.list_meetings(session, case_id=case.id)
    event = deadlines.certificate_event_on(case)
    issued = await deadlines.certificate_issued_on(session, case)
    pending = event is not None and (issued is None or issued < event)
    return {
        "is_mias": case.kind is CaseKind.mias,
        "calls": [m for m in calls if m.status is not MeetingStatus.cancelled],
        "family": next((p for p in parties if p.role.value in ("parent", "young_person")), None),
        "due": certificate_due(event, request.app[WORKDAYS]) if pending and event else None,
        "issued_on": issued,
        "may_record_la": case.kind is CaseKind.mediation and case.status in OPEN_CASE_STATUSES,
        "la_on": case.la_cannot_meet_30_days_on,
        "withdrawn": withdrawal.has_withdrawn(case),
        "can_run": staff.may(ROOM_STAFF),
    }


CASE_PAGE_SECTIONS.append(("staff/_certificate_events.html", certificate_section))


@routes.post("/staff/meetings/{meeting_id}/call-done")
@staff_page(roles=ROOM_STAFF)
async def call_done(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The adviser marks the information call done: its certificate's clock starts."""
    async with changing_my_meeting(request, staff) as (session, meeting, case):
        await session_control.call_done(
            session, meeting=meeting, now=staff.now, actor_id=staff.user.id
        )
        audit_meeting_write(session, staff, "meeting.call_done", meeting)
    raise see_other(f"/staff/cases/{case.id}?notice=call-done#certificate")


async def _la_page(
    request: web.Request,
    staff: StaffContext,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    async with request.app[DB].read() as session:
        case = await visible_case(session, staff, case_id)
    context = staff.page(case=case, field=FIELD, values=values, errors=errors)
    return pages.render("staff/la_cannot_meet.html", request, context, status=status)


@routes.get("/staff/cases/{case_id}/la-cannot-meet")
@staff_page(roles=SCHEDULERS)
async def la_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    return await _la_page(request, staff, values=date_parts(staff.now.date()), errors={})


@routes.post("/staff/cases/{case_id}/la-cannot-meet")
@staff_page(roles=SCHEDULERS)
async def la_record(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Record the day the LA said it cannot arrange mediation in 30 days."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    dates = read_dates(staff.form, (FIELD,), required=(FIELD,))
    errors = dict(dates.errors)
    on = dates.values.get(FIELD)
    if on and not errors:
        try:
            async with request.app[DB].write() as session:
                case = await visible_case(session, staff, case_id)
                await withdrawal.record_la_cannot_meet(
                    session,
                    case=case,
                    on=date.fromisoformat(on),
                    now=staff.now,
                    calendar=request.app[WORKDAYS],
                    actor=staff.actor,
                )
                audit_case_write(session, staff, "case.la_cannot_meet_30_days", case.id)
        except (ValidationFailed, InvalidState) as exc:
            errors[FIELD] = domain_date_error(FIELD, exc.message)
        else:
            raise see_other(f"/staff/cases/{case_id}?notice=la-30#certificate")
    return await _la_page(request, staff, values=dates.shown[FIELD], errors=errors, status=422)
