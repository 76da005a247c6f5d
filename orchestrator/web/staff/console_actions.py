"""The console's buttons: each one transaction through ``rooms.py``, then back to the console.

Ending the session for everyone cannot be undone, so it takes two steps: the console's
button leads to a page that asks, and only that page's button (``confirm=yes``) ends it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import DomainError, NotFound
from orchestrator.core.models import Meeting, ParticipantStatus
from orchestrator.meeting import attendance, room_moves, rooms, session_control
from orchestrator.web import pages
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.my_meetings import (
    audit_meeting_write,
    changing_my_meeting,
    read_my_meeting,
)
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


ACTIONS = ("start", "pause", "end", "admit", "caucus", "close-room", "recall", "mark")


@routes.post("/staff/meetings/{meeting_id}/console/{action}")
@staff_page(roles=ROOM_STAFF)
async def console_action(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Each button: one transaction through rooms.py, then back to the console."""
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound("action", action)
    form = staff.form
    meeting_id = request.match_info["meeting_id"]
    if action == "end" and form.get("confirm") != "yes":
        await read_my_meeting(request, staff)  # another's meeting: not found, on the trail
        raise see_other(f"/staff/meetings/{meeting_id}/console/end")
    notice = action
    error = ""
    try:
        async with changing_my_meeting(request, staff) as (session, meeting, _):
            await _apply(session, staff, meeting, action, form)
            audit_meeting_write(session, staff, f"console.{action}", meeting)
    except NotFound:
        raise
    except DomainError as exc:
        error = pages.as_sentence(exc.message)
        notice = ""
    if action == "end" and not error:
        raise see_other(f"/staff/meetings/{meeting_id}/outcome")
    query = f"error={_quote(error)}" if error else f"notice={notice}"
    raise see_other(f"/staff/meetings/{meeting_id}/console?{query}")


@routes.get("/staff/meetings/{meeting_id}/console/end")
@staff_page(roles=ROOM_STAFF)
async def confirm_end(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Ask before ending the session for everyone: it disconnects every room at once."""
    meeting, case = await read_my_meeting(request, staff)
    context = staff.page(meeting=meeting, case=case)
    return pages.render("staff/console_end.html", request, context)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


async def _apply(
    session: AsyncSession, staff: StaffContext, meeting: Meeting, action: str, form: Any
) -> None:
    now = staff.now
    if action == "start":
        await session_control.start(
            session, meeting=meeting, now=now, actor_id=staff.user.id, settings=staff.settings
        )
    elif action == "pause":
        await session_control.pause(session, meeting=meeting, now=now, actor_id=staff.user.id)
    elif action == "end":
        await session_control.end(session, meeting=meeting, now=now, actor_id=staff.user.id)
    elif action == "recall":
        await room_moves.recall(session, meeting=meeting, now=now)
    elif action == "admit":
        party_id = parse_uuid(str(form.get("party_id", "")), "party")
        await room_moves.admit(session, meeting=meeting, party_id=party_id, now=now)
    elif action == "caucus":
        chosen = [parse_uuid(str(v), "party") for v in form.getall("party_ids", [])]
        label = str(form.get("label", "")).strip()[:60] or "Private room"
        await room_moves.open_caucus(
            session, meeting=meeting, label=label, party_ids=chosen, now=now
        )
    elif action == "close-room":
        room = await rooms.get_room(
            session, meeting, parse_uuid(str(form.get("room_id", "")), "room")
        )
        await room_moves.close_caucus(session, meeting=meeting, room=room, now=now)
    elif action == "mark":
        party_id = parse_uuid(str(form.get("party_id", "")), "party")
        raw = str(form.get("status", ""))
        if raw not in {s.value for s in ParticipantStatus}:
            raise NotFound("status", raw)
        await attendance.mark(
            session,
            meeting=meeting,
            party_id=party_id,
            status=ParticipantStatus(raw),
            now=now,
            note=str(form.get("note", ""))[:500] or None,
        )
