"""The case page's "Find a time" and "Meetings" sections, and asking people when they are free.

Once the case has people the page shows who has answered the newest poll (people x
candidate times), the best times with who blocks the rest, and the case's meetings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake, panel
from orchestrator.core.models import Case, MeetingStatus, Party, role_words
from orchestrator.scheduling import (
    availability_matrix,
    lookups,
    poll_requests,
    slot_search,
)
from orchestrator.scheduling.best_times import BestTimes, rank_times
from orchestrator.web.keys import BUSY_READER, DB, HTTP, WORKDAYS
from orchestrator.web.staff.cases import CASE_PAGE_SECTIONS, audit_case_write
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.meeting_forms import MODE_NAMES, duration_from
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page
from orchestrator.web.staff.vocabulary import ROLE_NAMES

routes = web.RouteTableDef()


DURATIONS = (120, 180, 240)
# The best times shown at once; the rest wait behind "Show more times".
SHOWN_FIRST = 5


CELL_WORDS = {
    "yes": "Yes",
    "if_need_be": "If need be",
    "no": "No",
    "free": "Free (calendar)",
    "busy": "Busy (calendar)",
    "unknown": "No answer",
}


async def scheduling_section(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    parties: list[Party],
) -> dict[str, Any] | None:
    """The case page's "Find a time" and "Meetings" sections."""
    app = request.app
    meetings = await lookups.list_meetings(session, case_id=case.id)
    matrix = None
    ranked = None
    duration = duration_from(request.query.get("duration"))
    if parties:
        matrix = await availability_matrix.availability_matrix(
            session, case=case, reader=app[BUSY_READER], http=app[HTTP]
        )
        if matrix.poll is not None and "duration" not in request.query:
            duration = matrix.poll.duration_minutes
        ranked = await ranked_times(session, request, staff, case, duration, parties, matrix)
    names = {str(p.id): p.name for p in parties}
    return {
        "meetings": meetings,
        "matrix": matrix,
        "best": ranked,
        "shown_first": SHOWN_FIRST,
        "duration": duration,
        "durations": DURATIONS,
        "names": names,
        "cell_words": CELL_WORDS,
        "mode_names": MODE_NAMES,
        "live_statuses": (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused),
    }


CASE_PAGE_SECTIONS.append(("staff/_scheduling.html", scheduling_section))


def person_label(party: Party) -> str:
    """A person as the best times name them: "Lee Grant (local authority officer)"."""
    role = role_words(party.role, ROLE_NAMES)
    return f"{party.name} ({role}{'' if party.required else ', optional'})"


async def mediator_label(session: AsyncSession, case: Case) -> str:
    """The case's mediator as the reasons name them: "Mo Ahmed (mediator)"."""
    mediator = await panel.get_mediator(session, case.mediator_id) if case.mediator_id else None
    return f"{mediator.name} (mediator)" if mediator is not None else "The mediator"


async def ranked_times(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    duration: int,
    parties: list[Party],
    matrix: availability_matrix.AvailabilityMatrix | None,
    *,
    leave_out: datetime | None = None,
) -> BestTimes | None:
    """Every time the case can meet, ranked the way booking and moving both offer them:
    what people answered first, each with its reasons (``leave_out``: a time not to offer)."""
    found = await best_times(session, request, staff, case, duration, limit=None)
    if found is None:
        return None
    if leave_out is not None:
        found = replace(
            found,
            slots=[s for s in found.slots if s.start != leave_out],
            earliest_after_target=[s for s in found.earliest_after_target if s.start != leave_out],
        )
    return rank_times(
        found,
        matrix=matrix,
        parties=parties,
        mediator=await mediator_label(session, case),
        label=person_label,
        now=staff.now,
    )


async def best_times(
    session: AsyncSession,
    request: web.Request,
    staff: StaffContext,
    case: Case,
    duration: int,
    *,
    limit: int | None = 5,
) -> slot_search.CaseSlots | None:
    """The best times for the case's people and mediator (none without a mediator).

    ``limit=None`` gives every time, for the case page to rank what people answered first.
    """
    if case.mediator_id is None:
        return None
    app = request.app
    return await slot_search.find_case_slots(
        session,
        case=case,
        duration=timedelta(minutes=duration),
        now=staff.now,
        settings=staff.settings,
        calendar=app[WORKDAYS],
        reader=app[BUSY_READER],
        http=app[HTTP],
        limit=limit,
    )


@routes.post("/staff/cases/{case_id}/availability")
@staff_page(roles=SCHEDULERS)
async def ask_availability(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    case_id = parse_uuid(request.match_info["case_id"], "case")
    duration = duration_from(str(staff.form.get("duration_minutes", "")))
    # Calendars first: a slow feed must not hold the write lock.
    read = await poll_requests.read_poll_calendars(
        request.app[DB],
        case_id=case_id,
        now=staff.now,
        settings=staff.settings,
        calendar=request.app[WORKDAYS],
        reader=request.app[BUSY_READER],
        http=request.app[HTTP],
    )
    async with request.app[DB].write() as session:
        case = await intake.get_case(session, case_id)
        await poll_requests.request_availability(
            session,
            case=case,
            duration_minutes=duration,
            now=staff.now,
            settings=staff.settings,
            calendar=request.app[WORKDAYS],
            calendars=read,
            actor=staff.actor,
        )
        audit_case_write(session, staff, "availability.request", case.id)
    raise see_other(f"/staff/cases/{case_id}?notice=asked#find-a-time")
