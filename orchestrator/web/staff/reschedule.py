"""Moving a meeting: pick or type a new time, confirm it, and the meeting moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from orchestrator.cases import roster
from orchestrator.core.errors import DomainError, RulesBroken, ValidationFailed
from orchestrator.core.models import Case, Meeting
from orchestrator.scheduling import availability_matrix, rescheduling
from orchestrator.scheduling.best_times import BestTimes
from orchestrator.web import pages
from orchestrator.web.keys import BUSY_READER, DB, HTTP
from orchestrator.web.staff.cases import audit_case_write
from orchestrator.web.staff.find_a_time import ranked_times
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.meeting_forms import (
    NO_WAIVER_REASON,
    Waiver,
    booking_error,
    duration_from,
    meeting_and_case,
    rules_broken,
    start_from,
)
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


@routes.get("/staff/meetings/{meeting_id}/reschedule")
@staff_page(roles=SCHEDULERS)
async def reschedule_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        meeting, case = await meeting_and_case(session, request)
    proposed = request.query.get("start")
    start = start_from(proposed, case.timezone) if proposed else None
    duration = duration_from(
        request.query.get("duration"), int((meeting.end_at - meeting.start_at).seconds / 60)
    )
    local = (start or meeting.start_at).astimezone(ZoneInfo(case.timezone))
    context = staff.page(
        case=case,
        meeting=meeting,
        start=start,
        duration=duration,
        local_value=local.strftime("%Y-%m-%dT%H:%M"),
        error=None,
        rules_broken=await rules_broken(request, staff, case, start, duration),
        waive=False,
        waiver_reason="",
        waiver_error=None,
        slots=None if start else await _times_to_move_to(request, staff, meeting, case, duration),
    )
    return pages.render("staff/reschedule.html", request, context)


async def _times_to_move_to(
    request: web.Request, staff: StaffContext, meeting: Meeting, case: Case, duration: int
) -> BestTimes | None:
    """The best times to move to, ranked and worded as the case page offers them to book."""
    app = request.app
    async with app[DB].read() as session:
        parties = await roster.list_parties(session, case_id=case.id)
        matrix = await availability_matrix.availability_matrix(
            session, case=case, reader=app[BUSY_READER], http=app[HTTP]
        )
        # The case's own meetings do not block its times, so the one being moved would
        # come back: it is left out.
        return await ranked_times(
            session, request, staff, case, duration, parties, matrix, leave_out=meeting.start_at
        )


@routes.post("/staff/meetings/{meeting_id}/reschedule")
@staff_page(roles=SCHEDULERS)
async def reschedule(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    meeting_id = parse_uuid(request.match_info["meeting_id"], "meeting")
    form = staff.form
    duration = duration_from(str(form.get("duration", "")))
    raw = str(form.get("start", ""))
    waiver = Waiver.from_form(form)
    waiver_error = None
    proposed: datetime | None = None
    try:
        async with request.app[DB].write() as session:
            meeting, case = await meeting_and_case(session, request)
            start = start_from(raw, case.timezone)
            if form.get("confirmed") != "yes":
                raise _NeedsConfirmation(start)
            proposed = start
            if waiver.missing_reason:
                waiver_error = NO_WAIVER_REASON
                raise ValidationFailed(waiver_error)
            await rescheduling.reschedule(
                session,
                meeting=meeting,
                start=start,
                duration_minutes=duration,
                **staff.booking_terms(waiver.given),
            )
            audit_case_write(session, staff, "meeting.reschedule", case.id)
    except _NeedsConfirmation as ask:
        raise see_other(
            # The rolled-back session has let go of the meeting: only its id is safe here.
            f"/staff/meetings/{meeting_id}/reschedule?start={ask.start.isoformat()}"
            f"&duration={duration}".replace("+", "%2B")
        ) from None
    except DomainError as exc:
        if not isinstance(exc, RulesBroken):
            proposed = proposed if waiver_error else None
        refused = _Refused(exc, proposed, raw, duration, waiver, waiver_error)
    else:
        raise see_other(f"/staff/cases/{case.id}?notice=moved#meetings")
    return await _reschedule_page_again(request, staff, refused)


@dataclass(frozen=True)
class _Refused:
    """A move the service refused, and what the scheduler had typed."""

    error: DomainError
    proposed: datetime | None  # kept when only the rules (or a missing reason) stood in the way
    typed: str
    duration: int
    waiver: Waiver
    waiver_error: str | None


async def _reschedule_page_again(
    request: web.Request, staff: StaffContext, refused: _Refused
) -> web.StreamResponse:
    """The move page again, saying why; with other times to pick when the time itself failed."""
    async with request.app[DB].read() as session:
        meeting, case = await meeting_and_case(session, request)
    proposed, duration = refused.proposed, refused.duration
    context = staff.page(
        case=case,
        meeting=meeting,
        start=proposed,
        duration=duration,
        local_value=refused.typed,
        error=booking_error(refused.error),
        rules_broken=await rules_broken(request, staff, case, proposed, duration),
        waive=refused.waiver.waive,
        waiver_reason=refused.waiver.reason,
        waiver_error=refused.waiver_error,
        slots=await _times_to_move_to(request, staff, meeting, case, duration)
        if proposed is None
        else None,
    )
    status = 422 if proposed is not None else 409
    return pages.render("staff/reschedule.html", request, context, status=status)


class _NeedsConfirmation(Exception):
    def __init__(self, start: datetime) -> None:
        super().__init__("confirm first")
        self.start = start
