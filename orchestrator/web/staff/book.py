"""Booking a meeting: a confirmation page (when, who, how, rules broken), then the booking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake, roster
from orchestrator.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from orchestrator.core.models import MeetingMode
from orchestrator.scheduling import booking, venues
from orchestrator.web import pages
from orchestrator.web.keys import DB, PROVIDERS, SETTINGS
from orchestrator.web.staff.cases import audit_case_write
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.meeting_forms import (
    MODE_NAMES,
    NO_WAIVER_REASON,
    Waiver,
    booking_error,
    duration_from,
    rules_broken,
    start_from,
)
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


async def _booking_form(
    request: web.Request, staff: StaffContext, case_id: uuid.UUID, start: datetime, duration: int
) -> dict[str, Any]:
    """What the confirmation page shows: the case, who is invited, and the rules broken."""
    async with request.app[DB].read() as session:
        case = await intake.get_case(session, case_id)
        parties = await roster.list_parties(session, case_id=case.id)
    return {
        "case": case,
        "parties": parties,
        "venue_choices": venues.venue_choices(request.app[SETTINGS].venues, parties),
        "family_towns": venues.family_towns(parties),
        "start": start,
        "end": start + timedelta(minutes=duration),
        "duration": duration,
        "modes": list(MeetingMode),
        "mode_names": MODE_NAMES,
        "rules_broken": await rules_broken(request, staff, case, start, duration),
    }


@routes.get("/staff/cases/{case_id}/book")
@staff_page(roles=SCHEDULERS)
async def confirm_booking(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The confirmation step: when, who, how, which rules the time breaks; nothing is sent yet."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    async with request.app[DB].read() as session:
        case = await intake.get_case(session, case_id)
    start = start_from(request.query.get("start"), case.timezone)
    duration = duration_from(request.query.get("duration"))
    form = await _booking_form(request, staff, case_id, start, duration)
    context = staff.page(
        **form,
        mode="video",
        venue_key=None,
        venue_error=None,
        error=None,
        alternatives=[],
        waive=False,
        waiver_reason="",
        waiver_error=None,
    )
    return pages.render("staff/book_confirm.html", request, context)


@routes.post("/staff/cases/{case_id}/book")
@staff_page(roles=SCHEDULERS)
async def book(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    form = staff.form
    mode_raw = str(form.get("mode", "video"))
    mode = MeetingMode(mode_raw) if mode_raw in {m.value for m in MeetingMode} else None
    duration = duration_from(str(form.get("duration", "")))
    waiver = Waiver.from_form(form)
    waiver_error = None
    try:
        async with request.app[DB].write() as session:
            case = await intake.get_case(session, case_id)
            start = start_from(str(form.get("start", "")), case.timezone)
            if mode is None:
                raise Conflict("choose how people will meet")
            if waiver.missing_reason:
                waiver_error = NO_WAIVER_REASON
                raise ValidationFailed(waiver_error)
            await booking.book(
                session,
                case=case,
                start=start,
                duration_minutes=duration,
                mode=mode,
                venue=await _venue(session, request, case_id, mode, form.get("venue")),
                check_provider=request.app[PROVIDERS].check_video,
                **staff.booking_terms(waiver.given),
            )
            audit_case_write(session, staff, "meeting.book", case.id)
    except DomainError as exc:
        refused = exc
    else:
        raise see_other(f"/staff/cases/{case_id}?notice=booked#meetings")
    again = _Refused(refused, mode_raw, duration, waiver, waiver_error, form.get("venue"))
    return await _book_page_again(request, staff, case_id, again)


async def _venue(
    session: AsyncSession,
    request: web.Request,
    case_id: uuid.UUID,
    mode: MeetingMode,
    key: str | None,
) -> booking.Venue | None:
    """The place picked from the list: needed in person, optional for a hybrid meeting."""
    if mode not in (MeetingMode.in_person, MeetingMode.hybrid):
        return None
    if mode is MeetingMode.hybrid and not key:
        return None
    parties = await roster.list_parties(session, case_id=case_id)
    return venues.chosen_venue(venues.venue_choices(request.app[SETTINGS].venues, parties), key)


def _venue_error(exc: DomainError) -> str | None:
    """The message to show beside the venue list, when the venue was what was missing."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if details.get("field") == "venue":
        return venues.CHOOSE_A_VENUE
    return None


@dataclass(frozen=True)
class _Refused:
    """A booking the service refused, and what the scheduler had typed."""

    error: DomainError
    mode: str
    duration: int
    waiver: Waiver
    waiver_error: str | None
    venue_key: str | None


def _alternatives(exc: DomainError) -> list[datetime]:
    """The other times a refusal suggests (a clash names the nearest free ones)."""
    found: list[datetime] = []
    details = exc.details if isinstance(exc.details, dict) else {}
    for item in details.get("alternatives", []) or []:
        try:
            found.append(datetime.fromisoformat(str(item.get("start", item))))
        except (AttributeError, ValueError):
            continue
    return found


async def _book_page_again(
    request: web.Request, staff: StaffContext, case_id: uuid.UUID, refused: _Refused
) -> web.StreamResponse:
    """The confirmation page again, saying why the booking was refused."""
    async with request.app[DB].read() as session:
        case = await intake.get_case(session, case_id)
    try:
        start = start_from(str(staff.form.get("start", "")), case.timezone)
    except NotFound:
        start = staff.now
    shown = await _booking_form(request, staff, case_id, start, refused.duration)
    context = staff.page(
        **shown,
        mode=refused.mode,
        venue_key=refused.venue_key,
        venue_error=_venue_error(refused.error),
        error=booking_error(refused.error),
        alternatives=_alternatives(refused.error),
        waive=refused.waiver.waive,
        waiver_reason=refused.waiver.reason,
        waiver_error=refused.waiver_error,
    )
    status = 422 if isinstance(refused.error, ValidationFailed) else 409
    return pages.render("staff/book_confirm.html", request, context, status=status)
