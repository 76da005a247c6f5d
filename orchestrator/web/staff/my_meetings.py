"""A mediator's own meetings: the "my sessions" page, and the look-up that keeps every room
page to them (another mediator's meeting does not exist for them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake, visibility
from orchestrator.core.models import Case, Meeting
from orchestrator.core.records import add_audit
from orchestrator.scheduling import lookups
from orchestrator.web import pages
from orchestrator.web.keys import DB
from orchestrator.web.staff.forms import parse_uuid
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


async def my_meeting(
    session: AsyncSession, staff: StaffContext, raw_id: str
) -> tuple[Meeting, Case]:
    """The meeting if it is this mediator's (admins: any); otherwise it does not exist."""
    meeting_id = parse_uuid(raw_id, "meeting")
    meeting = visibility.check_meeting(
        await visibility.scope_of(session, staff.user),
        await lookups.get_meeting(session, meeting_id),
    )
    case = await intake.get_case(session, meeting.case_id)
    return meeting, case


async def read_my_meeting(request: web.Request, staff: StaffContext) -> tuple[Meeting, Case]:
    """The meeting in the path and its case, read for a page that only shows them."""
    async with request.app[DB].read() as session:
        return await my_meeting(session, staff, request.match_info["meeting_id"])


@asynccontextmanager
async def changing_my_meeting(
    request: web.Request, staff: StaffContext
) -> AsyncIterator[tuple[AsyncSession, Meeting, Case]]:
    """One write transaction on the meeting in the path, if it is this mediator's."""
    async with request.app[DB].write() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        yield session, meeting, case


@routes.get("/staff/sessions")
@staff_page(roles=ROOM_STAFF)
async def my_sessions(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """This mediator's meetings: today's first, then the coming ones, then the recent past."""
    async with request.app[DB].read() as session:
        scope = await visibility.scope_of(session, staff.user)
        rows = await lookups.meetings_of_mediators(session, mediator_ids=scope.mediator_ids)
    zone = ZoneInfo(staff.settings.timezone)
    today = staff.now.astimezone(zone).date()
    today_rows = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() == today]
    coming = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() > today]
    past = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() < today][-10:][::-1]
    shown = dict.fromkeys(str(c.id) for _, c in today_rows + coming + past)
    await staff.audit("page.sessions", details={"case_ids": list(shown)})
    context = staff.page(today=today_rows, coming=coming, past=past)
    return pages.render("staff/sessions.html", request, context)


def audit_meeting_write(
    session: AsyncSession, staff: StaffContext, action: str, meeting: Meeting
) -> None:
    """Put what this person did to a meeting on the staff audit trail, in the same commit."""
    add_audit(
        session,
        actor_id=staff.user.id,
        action=action,
        at=staff.now,
        case_id=meeting.case_id,
        target_type="meeting",
        target_id=str(meeting.id),
    )
