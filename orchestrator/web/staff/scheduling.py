"""The scheduler's "find a time and book it" pages: the poll matrix, ranked slots, booking.

The case page shows, once the case has people: who has answered the newest poll (people x
candidate times), the best times with who blocks the rest, and the case's meetings. Booking,
moving and cancelling each go through a confirmation page before anything is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake
from orchestrator.core.errors import (
    Conflict,
    DomainError,
    InvalidState,
    NotFound,
    RulesBroken,
    ValidationFailed,
)
from orchestrator.core.models import Case, Meeting, MeetingMode, MeetingStatus, Party, StaffRole
from orchestrator.core.records import add_audit
from orchestrator.messaging import invitations
from orchestrator.scheduling import availability, booking, polls
from orchestrator.web import pages
from orchestrator.web.keys import BUSY_READER, HTTP, PROVIDERS, WORKDAYS
from orchestrator.web.keys import DB as DB_KEY
from orchestrator.web.staff.cases import CASE_PAGE_SECTIONS, case_page_with_errors
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
SCHEDULERS = (StaffRole.scheduler,)
DURATIONS = (120, 180, 240)
MODE_NAMES = {
    MeetingMode.video: "Video",
    MeetingMode.phone: "Telephone",
    MeetingMode.hybrid: "Hybrid (some in the room, some by video or phone)",
    MeetingMode.in_person: "In person",
}
CELL_WORDS = {
    "yes": "Yes",
    "if_need_be": "If need be",
    "no": "No",
    "free": "Free (calendar)",
    "busy": "Busy (calendar)",
    "unknown": "No answer",
}


def _audit(session: AsyncSession, staff: StaffContext, action: str, case_id: uuid.UUID) -> None:
    add_audit(
        session,
        actor_id=staff.user.id,
        action=action,
        at=staff.now,
        case_id=case_id,
        target_type="case",
        target_id=str(case_id),
    )


def _duration(raw: str | None, default: int = 180) -> int:
    try:
        value = int(raw or default)
    except ValueError:
        return default
    return value if 30 <= value <= 480 else default


def _start(raw: str | None, zone: str) -> datetime:
    """An ISO time from a form or query: with an offset, or local to the case's zone."""
    if not raw:
        raise NotFound("time", "")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise NotFound("time", raw[:40]) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


async def scheduling_section(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    parties: list[Party],
) -> dict[str, Any] | None:
    """The case page's "Find a time" and "Meetings" sections."""
    app = request.app
    meetings = await booking.list_meetings(session, case_id=case.id)
    matrix = None
    found = None
    duration = _duration(request.query.get("duration"))
    if parties:
        matrix = await availability.availability_matrix(
            session, case=case, reader=app[BUSY_READER], http=app[HTTP]
        )
        if matrix.poll is not None and "duration" not in request.query:
            duration = matrix.poll.duration_minutes
        found = await _best_times(session, request, staff, case, duration)
    names = {str(p.id): p.name for p in parties}
    blockers = []
    if found is not None:
        blockers = [(names.get(str(b.party_id), b.role), b.blocked) for b in found.blockers]
    return {
        "meetings": meetings,
        "matrix": matrix,
        "slots": found,
        "blockers": blockers,
        "duration": duration,
        "durations": DURATIONS,
        "names": names,
        "cell_words": CELL_WORDS,
        "mode_names": MODE_NAMES,
        "live_statuses": (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused),
    }


CASE_PAGE_SECTIONS.append(("staff/_scheduling.html", scheduling_section))


async def _best_times(
    session: AsyncSession, request: web.Request, staff: StaffContext, case: Case, duration: int
) -> availability.CaseSlots | None:
    """The five best times for the case's people and mediator (none without a mediator)."""
    if case.mediator_id is None:
        return None
    app = request.app
    return await availability.find_case_slots(
        session,
        case=case,
        duration=timedelta(minutes=duration),
        now=staff.now,
        settings=staff.settings,
        calendar=app[WORKDAYS],
        reader=app[BUSY_READER],
        http=app[HTTP],
        limit=5,
    )


@routes.post("/staff/cases/{case_id}/availability")
@staff_page(roles=SCHEDULERS)
async def ask_availability(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    duration = _duration(str(staff.form.get("duration_minutes", "")))
    # Calendars first: a slow feed must not hold the write lock.
    read = await polls.read_poll_calendars(
        request.app[DB_KEY],
        case_id=case_id,
        now=staff.now,
        settings=staff.settings,
        calendar=request.app[WORKDAYS],
        reader=request.app[BUSY_READER],
        http=request.app[HTTP],
    )
    async with request.app[DB_KEY].write() as session:
        case = await intake.get_case(session, case_id)
        await polls.request_availability(
            session,
            case=case,
            duration_minutes=duration,
            now=staff.now,
            settings=staff.settings,
            calendar=request.app[WORKDAYS],
            calendars=read,
            actor=staff.actor,
        )
        _audit(session, staff, "availability.request", case.id)
    raise see_other(f"/staff/cases/{case_id}?notice=asked#find-a-time")


async def _booking_form(
    request: web.Request, staff: StaffContext, case_id: uuid.UUID, start: datetime, duration: int
) -> dict[str, Any]:
    """What the confirmation page shows: the case, who is invited, and the rules broken."""
    async with request.app[DB_KEY].read() as session:
        case = await intake.get_case(session, case_id)
        parties = await intake.list_parties(session, case_id=case.id)
        breaks = await booking.breaks_for(
            session,
            case=case,
            start=start,
            duration_minutes=duration,
            now=staff.now,
            workdays=request.app[WORKDAYS],
        )
    return {
        "case": case,
        "parties": parties,
        "start": start,
        "end": start + timedelta(minutes=duration),
        "duration": duration,
        "modes": list(MeetingMode),
        "mode_names": MODE_NAMES,
        "rules_broken": [pages.as_sentence(b.message) for b in breaks],
    }


@routes.get("/staff/cases/{case_id}/book")
@staff_page(roles=SCHEDULERS)
async def confirm_booking(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The confirmation step: when, who, how, which rules the time breaks; nothing is sent yet."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    async with request.app[DB_KEY].read() as session:
        case = await intake.get_case(session, case_id)
    start = _start(request.query.get("start"), case.timezone)
    duration = _duration(request.query.get("duration"))
    form = await _booking_form(request, staff, case_id, start, duration)
    context = staff.page(
        **form,
        mode="video",
        error=None,
        alternatives=[],
        waive=False,
        waiver_reason="",
        waiver_error=None,
    )
    return pages.render("staff/book_confirm.html", request, context)


_NO_WAIVER_REASON = "Say why the rules are waived for this meeting"


def _booking_error(exc: DomainError) -> str:
    """The sentence a booking or move page shows for a refusal."""
    if isinstance(exc, RulesBroken):  # the page lists each rule beside the waiver
        return "That time breaks the scheduling rules shown below"
    return pages.as_sentence(exc.message)


@routes.post("/staff/cases/{case_id}/book")
@staff_page(roles=SCHEDULERS)
async def book(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    form = staff.form
    mode_raw = str(form.get("mode", "video"))
    mode = MeetingMode(mode_raw) if mode_raw in {m.value for m in MeetingMode} else None
    duration = _duration(str(form.get("duration", "")))
    waive = form.get("waive_rules") == "yes"
    reason = str(form.get("waiver_reason", "")).strip()[:500]
    error = None
    waiver_error = None
    status = 409
    alternatives: list[Any] = []
    try:
        async with request.app[DB_KEY].write() as session:
            case = await intake.get_case(session, case_id)
            start = _start(str(form.get("start", "")), case.timezone)
            if mode is None:
                raise Conflict("choose how people will meet")
            if waive and not reason:
                waiver_error = _NO_WAIVER_REASON
                raise ValidationFailed(waiver_error)
            if mode in (MeetingMode.video, MeetingMode.hybrid):
                request.app[PROVIDERS].check_video(staff.settings.video_provider)
            await booking.book(
                session,
                case=case,
                start=start,
                duration_minutes=duration,
                mode=mode,
                now=staff.now,
                bus=staff.bus,
                settings=staff.settings,
                workdays=request.app[WORKDAYS],
                actor=staff.actor,
                actor_id=staff.user.id,
                waiver=reason if waive else None,
            )
            _audit(session, staff, "meeting.book", case.id)
    except DomainError as exc:
        error = _booking_error(exc)
        status = 422 if isinstance(exc, ValidationFailed) else 409
        details = exc.details if isinstance(exc.details, dict) else {}
        for item in details.get("alternatives", []) or []:
            try:
                alternatives.append(datetime.fromisoformat(str(item.get("start", item))))
            except (AttributeError, ValueError):
                continue
    else:
        raise see_other(f"/staff/cases/{case_id}?notice=booked#meetings")
    async with request.app[DB_KEY].read() as session:
        case = await intake.get_case(session, case_id)
    try:
        start = _start(str(form.get("start", "")), case.timezone)
    except NotFound:
        start = staff.now
    shown = await _booking_form(request, staff, case_id, start, duration)
    context = staff.page(
        **shown,
        mode=mode_raw,
        error=error,
        alternatives=alternatives,
        waive=waive,
        waiver_reason=reason,
        waiver_error=waiver_error,
    )
    return pages.render("staff/book_confirm.html", request, context, status=status)


async def _meeting_and_case(session: AsyncSession, request: web.Request) -> tuple[Any, Case]:
    meeting = await booking.get_meeting(
        session, parse_uuid(request.match_info["meeting_id"], "meeting")
    )
    case = await intake.get_case(session, meeting.case_id)
    return meeting, case


@routes.get("/staff/meetings/{meeting_id}/reschedule")
@staff_page(roles=SCHEDULERS)
async def reschedule_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB_KEY].read() as session:
        meeting, case = await _meeting_and_case(session, request)
    proposed = request.query.get("start")
    start = _start(proposed, case.timezone) if proposed else None
    duration = _duration(
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
        rules_broken=await _rules_broken(request, staff, case, start, duration),
        waive=False,
        waiver_reason="",
        waiver_error=None,
        slots=None if start else await _times_to_move_to(request, staff, meeting, case, duration),
    )
    return pages.render("staff/reschedule.html", request, context)


async def _times_to_move_to(
    request: web.Request, staff: StaffContext, meeting: Meeting, case: Case, duration: int
) -> availability.CaseSlots | None:
    """The best times to move to, ranked as the case page ranks them for booking."""
    async with request.app[DB_KEY].read() as session:
        found = await _best_times(session, request, staff, case, duration)
    if found is None:
        return None
    # The case's own meetings do not block its times, so the one being moved may come back.
    return replace(found, slots=[s for s in found.slots if s.start != meeting.start_at])


async def _rules_broken(
    request: web.Request, staff: StaffContext, case: Case, start: datetime | None, duration: int
) -> list[str]:
    """The scheduling rules a proposed time breaks, as sentences for the page."""
    if start is None:
        return []
    async with request.app[DB_KEY].read() as session:
        breaks = await booking.breaks_for(
            session,
            case=case,
            start=start,
            duration_minutes=duration,
            now=staff.now,
            workdays=request.app[WORKDAYS],
        )
    return [pages.as_sentence(b.message) for b in breaks]


@routes.post("/staff/meetings/{meeting_id}/reschedule")
@staff_page(roles=SCHEDULERS)
async def reschedule(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    meeting_id = parse_uuid(request.match_info["meeting_id"], "meeting")
    form = staff.form
    duration = _duration(str(form.get("duration", "")))
    raw = str(form.get("start", ""))
    waive = form.get("waive_rules") == "yes"
    reason = str(form.get("waiver_reason", "")).strip()[:500]
    error = None
    waiver_error = None
    proposed: datetime | None = None
    try:
        async with request.app[DB_KEY].write() as session:
            meeting, case = await _meeting_and_case(session, request)
            start = _start(raw, case.timezone)
            if form.get("confirmed") != "yes":
                raise _NeedsConfirmation(start)
            proposed = start
            if waive and not reason:
                waiver_error = _NO_WAIVER_REASON
                raise ValidationFailed(waiver_error)
            await booking.reschedule(
                session,
                meeting=meeting,
                start=start,
                duration_minutes=duration,
                now=staff.now,
                bus=staff.bus,
                settings=staff.settings,
                workdays=request.app[WORKDAYS],
                actor=staff.actor,
                actor_id=staff.user.id,
                waiver=reason if waive else None,
            )
            _audit(session, staff, "meeting.reschedule", case.id)
    except _NeedsConfirmation as ask:
        raise see_other(
            # The rolled-back session has let go of the meeting: only its id is safe here.
            f"/staff/meetings/{meeting_id}/reschedule?start={ask.start.isoformat()}"
            f"&duration={duration}".replace("+", "%2B")
        ) from None
    except DomainError as exc:
        error = _booking_error(exc)
        if not isinstance(exc, RulesBroken):
            proposed = proposed if waiver_error else None
    else:
        raise see_other(f"/staff/cases/{case.id}?notice=moved#meetings")
    async with request.app[DB_KEY].read() as session:
        meeting, case = await _meeting_and_case(session, request)
    context = staff.page(
        case=case,
        meeting=meeting,
        start=proposed,
        duration=duration,
        local_value=raw,
        error=error,
        rules_broken=await _rules_broken(request, staff, case, proposed, duration),
        waive=waive,
        waiver_reason=reason,
        waiver_error=waiver_error,
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


@routes.get("/staff/meetings/{meeting_id}/cancel")
@staff_page(roles=SCHEDULERS)
async def cancel_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB_KEY].read() as session:
        meeting, case = await _meeting_and_case(session, request)
    context = staff.page(case=case, meeting=meeting, error=None)
    return pages.render("staff/cancel.html", request, context)


@routes.post("/staff/meetings/{meeting_id}/cancel")
@staff_page(roles=SCHEDULERS)
async def cancel(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    reason = str(staff.form.get("reason", "")).strip()[:1000]
    if not reason:
        async with request.app[DB_KEY].read() as session:
            meeting, case = await _meeting_and_case(session, request)
        context = staff.page(case=case, meeting=meeting, error="Say why it is cancelled")
        return pages.render("staff/cancel.html", request, context, status=422)
    async with request.app[DB_KEY].write() as session:
        meeting, case = await _meeting_and_case(session, request)
        await booking.cancel(
            session,
            meeting=meeting,
            reason=reason,
            now=staff.now,
            bus=staff.bus,
            actor=staff.actor,
            actor_id=staff.user.id,
        )
        _audit(session, staff, "meeting.cancel", case.id)
    raise see_other(f"/staff/cases/{case.id}?notice=cancelled#meetings")


@routes.post("/staff/cases/{case_id}/parties/{party_id}/revoke-links")
@staff_page(roles=SCHEDULERS)
async def revoke_links(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Withdraw every link a party holds (a lost phone, a forwarded email)."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    party_id = parse_uuid(request.match_info["party_id"], "party")
    async with request.app[DB_KEY].write() as session:
        party = await intake.get_party(session, case_id=case_id, party_id=party_id)
        await intake.revoke_party_links(session, party=party, now=staff.now, actor=staff.actor)
        _audit(session, staff, "links.revoke", case_id)
    raise see_other(f"/staff/cases/{case_id}?notice=revoked#parties")


@routes.post("/staff/cases/{case_id}/parties/{party_id}/resend")
@staff_page(roles=SCHEDULERS)
async def resend_to_party(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Send one person their current invitation or poll link again (new links if withdrawn)."""
    case_id = parse_uuid(request.match_info["case_id"], "case")
    party_id = parse_uuid(request.match_info["party_id"], "party")
    try:
        async with request.app[DB_KEY].write() as session:
            case = await intake.get_case(session, case_id)
            party = await intake.get_party(session, case_id=case.id, party_id=party_id)
            await invitations.resend_to_party(
                session,
                case=case,
                party=party,
                settings=staff.settings,
                now=staff.now,
                actor=staff.actor,
            )
            _audit(session, staff, "party.resend", case.id)
    except (InvalidState, ValidationFailed) as exc:
        return await case_page_with_errors(
            request,
            staff,
            case_id,
            status=422 if isinstance(exc, ValidationFailed) else 409,
            party_errors={f"party-{party_id}": pages.as_sentence(exc.message)},
        )
    raise see_other(f"/staff/cases/{case_id}?notice=resent#parties")
