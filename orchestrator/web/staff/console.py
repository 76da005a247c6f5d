"""The mediator's pages: "my sessions" and the live room console, then the outcome form.

The console shows who is where (lobby, joint room, each caucus room, left) with their
channel, and every button drives ``rooms.py``. It stays current without a reload through
Server-Sent Events (a fingerprint of the meeting's state polled once a second); without
JavaScript the refresh link does the same. A mediator only ever sees their own meetings.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake
from orchestrator.closing import outcomes
from orchestrator.core.errors import DomainError, NotFound
from orchestrator.core.models import (
    Case,
    Meeting,
    MeetingStatus,
    OutcomeResult,
    ParticipantStatus,
    Party,
    Room,
    StaffRole,
)
from orchestrator.core.records import add_audit
from orchestrator.meeting import attendance, rooms
from orchestrator.scheduling import booking
from orchestrator.web import pages
from orchestrator.web.keys import CLOCK, CONSOLE_STOPPING, DB
from orchestrator.web.staff.forms import parse_uuid, see_other
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
ROOM_STAFF = (StaffRole.mediator,)
STREAM_POLL_S = 1.0
STREAM_MAX = timedelta(hours=6)

STATUS_WORDS = {
    ParticipantStatus.not_signed_in: "Not arrived",
    ParticipantStatus.joining: "Joining",
    ParticipantStatus.in_lobby: "Waiting in the lobby",
    ParticipantStatus.in_session: "In the joint room",
    ParticipantStatus.in_caucus: "In a private room",
    ParticipantStatus.left: "Left",
    ParticipantStatus.disconnected: "Lost connection",
}
RESULT_WORDS = {
    OutcomeResult.agreement: "Agreement on everything",
    OutcomeResult.partial_agreement: "Agreement on some issues",
    OutcomeResult.no_agreement: "No agreement",
    OutcomeResult.withdrawn: "A party withdrew",
    OutcomeResult.not_attended: "A party did not attend",
}


def install(app: web.Application) -> None:
    """Let open event streams end promptly when the service stops."""
    # This one must stay an on_shutdown hook: on stopping, aiohttp runs on_shutdown, then
    # waits (up to its shutdown timeout) for the handlers still running, and only then
    # unwinds the cleanup contexts. An event stream stays open for hours, so it has to
    # hear "stop" before that wait, or every shutdown would hang on it.
    app.on_shutdown.append(_tell_streams_to_stop)


async def console_stopping_ctx(app: web.Application) -> AsyncIterator[None]:
    """Make the event open event streams watch, unset for each start of the app."""
    stopping = asyncio.Event()
    app[CONSOLE_STOPPING] = stopping
    yield
    stopping.set()


async def _tell_streams_to_stop(app: web.Application) -> None:
    app[CONSOLE_STOPPING].set()


async def _my_meeting(
    session: AsyncSession, staff: StaffContext, raw_id: str
) -> tuple[Meeting, Case]:
    """The meeting if it is this mediator's (admins: any); otherwise it does not exist."""
    meeting_id = parse_uuid(raw_id, "meeting")
    meeting = await booking.get_meeting(session, meeting_id)
    if staff.user.role is not StaffRole.admin:
        mine = await intake.mediator_ids_for_user(session, staff.user.id)
        if meeting.mediator_id not in mine:
            raise NotFound("meeting", meeting_id)
    case = await intake.get_case(session, meeting.case_id)
    return meeting, case


@routes.get("/staff/sessions")
@staff_page(roles=ROOM_STAFF)
async def my_sessions(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """This mediator's meetings: today's first, then the coming ones, then the recent past."""
    async with request.app[DB].read() as session:
        mine = None
        if staff.user.role is not StaffRole.admin:
            mine = await intake.mediator_ids_for_user(session, staff.user.id)
        rows = await booking.meetings_of_mediators(session, mediator_ids=mine)
    zone = ZoneInfo(staff.settings.timezone)
    today = staff.now.astimezone(zone).date()
    today_rows = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() == today]
    coming = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() > today]
    past = [(m, c) for m, c in rows if m.start_at.astimezone(zone).date() < today][-10:][::-1]
    shown = dict.fromkeys(str(c.id) for _, c in today_rows + coming + past)
    await staff.audit("page.sessions", details={"case_ids": list(shown)})
    context = staff.page(today=today_rows, coming=coming, past=past)
    return pages.render("staff/sessions.html", request, context)


@dataclass
class Person:
    party: Party
    status: ParticipantStatus
    words: str
    channel: str
    room_id: uuid.UUID | None


async def console_context(
    session: AsyncSession, staff: StaffContext, meeting: Meeting, case: Case
) -> dict[str, Any]:
    state = await rooms.room_state(session, meeting)
    parties = {p.id: p for p in await intake.list_parties(session, case_id=case.id)}
    people: list[Person] = []
    for p in state.participants:
        party = parties.get(p.party_id) if p.party_id else None
        if party is None:
            continue
        people.append(
            Person(
                party=party,
                status=p.status,
                words=STATUS_WORDS.get(p.status, p.status.value),
                channel=(p.channel or party.channel).value.replace("_", " "),
                room_id=p.room_id,
            )
        )
    open_rooms = sorted(
        (r for r in state.rooms if r.closed_at is None),
        key=lambda r: (r.kind != "main", r.created_at),
    )
    lobby = [
        p for p in people if p.status in (ParticipantStatus.in_lobby, ParticipantStatus.joining)
    ]
    placed = {
        r.id: [p for p in people if p.room_id == r.id and p.status in _IN_ROOM] for r in open_rooms
    }
    away = [
        p
        for p in people
        if p.status
        in (
            ParticipantStatus.not_signed_in,
            ParticipantStatus.left,
            ParticipantStatus.disconnected,
        )
    ]
    running = meeting.status in (MeetingStatus.in_session, MeetingStatus.paused)
    return staff.page(
        meeting=meeting,
        case=case,
        rooms=open_rooms,
        placed=placed,
        lobby=lobby,
        away=away,
        people=people,
        running=running,
        fingerprint=_fingerprint_of(meeting, state.rooms, people),
        mark_choices=[
            (ParticipantStatus.in_session, "Present"),
            (ParticipantStatus.left, "Left"),
            (ParticipantStatus.not_signed_in, "Did not attend"),
        ],
    )


_IN_ROOM = (ParticipantStatus.in_session, ParticipantStatus.in_caucus)


def _fingerprint_of(meeting: Meeting, all_rooms: list[Room], people: list[Person]) -> str:
    parts = [meeting.status.value]
    parts += [f"{r.id}:{r.closed_at}" for r in all_rooms]
    parts += [f"{p.party.id}:{p.status.value}:{p.room_id}:{p.channel}" for p in people]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@routes.get("/staff/meetings/{meeting_id}/console")
@staff_page(roles=ROOM_STAFF)
async def console(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
        context = await console_context(session, staff, meeting, case)
        context["state_token"] = await rooms.state_fingerprint(session, meeting.id)
    await staff.audit(
        "page.console", case_id=case.id, target_type="meeting", target_id=str(meeting.id)
    )
    context["notice"] = request.query.get("notice", "")[:100]
    context["error"] = request.query.get("error", "")[:300]
    return pages.render("staff/console.html", request, context)


@routes.get("/staff/meetings/{meeting_id}/console/panel")
@staff_page(roles=ROOM_STAFF)
async def console_panel(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Just the "who is where" part, for the page's script to swap in."""
    async with request.app[DB].read() as session:
        meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
        context = await console_context(session, staff, meeting, case)
    return pages.render("staff/_console_panel.html", request, context)


@routes.get("/staff/meetings/{meeting_id}/console/events")
@staff_page(roles=ROOM_STAFF)
async def console_events(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Server-Sent Events: a ``change`` event whenever who-is-where changes."""
    async with request.app[DB].read() as session:
        meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
    # The stream may stay open for hours: record the view as it starts, not as it ends.
    await staff.audit(
        "page.console.events", case_id=case.id, target_type="meeting", target_id=str(meeting.id)
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    stopping = request.app[CONSOLE_STOPPING]
    clock = request.app[CLOCK]
    started = clock()
    last = ""
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        await response.write(b"retry: 2000\n\n")
        while not stopping.is_set() and clock() - started < STREAM_MAX:
            async with request.app[DB].read() as session:
                token = await rooms.state_fingerprint(session, meeting.id)
            if token != last:
                last = token
                await response.write(f"event: change\ndata: {token}\n\n".encode())
            else:
                await response.write(b": still here\n\n")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=STREAM_POLL_S)
    return response


ACTIONS = ("start", "pause", "end", "admit", "caucus", "close-room", "recall", "mark")


@routes.post("/staff/meetings/{meeting_id}/console/{action}")
@staff_page(roles=ROOM_STAFF)
async def console_action(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Each button: one transaction through rooms.py, then back to the console."""
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound("action", action)
    form = staff.form
    notice = action
    error = ""
    try:
        async with request.app[DB].write() as session:
            meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
            await _apply(session, staff, meeting, action, form)
            add_audit(
                session,
                actor_id=staff.user.id,
                action=f"console.{action}",
                at=staff.now,
                case_id=case.id,
                target_type="meeting",
                target_id=str(meeting.id),
            )
    except NotFound:
        raise
    except DomainError as exc:
        error = pages.as_sentence(exc.message)
        notice = ""
    meeting_id = request.match_info["meeting_id"]
    if action == "end" and not error:
        raise see_other(f"/staff/meetings/{meeting_id}/outcome")
    query = f"error={_quote(error)}" if error else f"notice={notice}"
    raise see_other(f"/staff/meetings/{meeting_id}/console?{query}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


async def _apply(
    session: AsyncSession, staff: StaffContext, meeting: Meeting, action: str, form: Any
) -> None:
    now = staff.now
    if action == "start":
        await rooms.start(
            session, meeting=meeting, now=now, actor_id=staff.user.id, settings=staff.settings
        )
    elif action == "pause":
        await rooms.pause(session, meeting=meeting, now=now, actor_id=staff.user.id)
    elif action == "end":
        await rooms.end(session, meeting=meeting, now=now, actor_id=staff.user.id)
    elif action == "recall":
        await rooms.recall(session, meeting=meeting, now=now)
    elif action == "admit":
        party_id = parse_uuid(str(form.get("party_id", "")), "party")
        await rooms.admit(session, meeting=meeting, party_id=party_id, now=now)
    elif action == "caucus":
        chosen = [parse_uuid(str(v), "party") for v in form.getall("party_ids", [])]
        label = str(form.get("label", "")).strip()[:60] or "Private room"
        await rooms.open_caucus(session, meeting=meeting, label=label, party_ids=chosen, now=now)
    elif action == "close-room":
        room = await rooms.get_room(
            session, meeting, parse_uuid(str(form.get("room_id", "")), "room")
        )
        await rooms.close_caucus(session, meeting=meeting, room=room, now=now)
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


@routes.get("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_form(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
        parties = await intake.list_parties(session, case_id=case.id)
    context = staff.page(
        meeting=meeting,
        case=case,
        parties=parties,
        results=list(OutcomeResult),
        result_words=RESULT_WORDS,
        values={},
        errors={},
        saved=request.query.get("saved") == "1",
    )
    return pages.render("staff/outcome.html", request, context)


@routes.post("/staff/meetings/{meeting_id}/outcome")
@staff_page(roles=ROOM_STAFF)
async def outcome_submit(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    form = staff.form
    issues = []
    for i in range(1, 4):
        summary = str(form.get(f"issue_{i}", "")).strip()
        if summary:
            issues.append({"summary": summary, "agreed": form.get(f"agreed_{i}") == "yes"})
    raw = {
        "result": str(form.get("result", "")),
        "issues": issues,
        "agreement_text": str(form.get("agreement_text", "")).strip() or None,
        "notes": str(form.get("notes", "")).strip() or None,
    }
    errors: dict[str, str] = {}
    try:
        data = outcomes.OutcomeCreate.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "result"
            errors.setdefault(name, "Choose what happened" if name == "result" else err["msg"])
        data = None
    if data is not None:
        try:
            async with request.app[DB].write() as session:
                meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
                await outcomes.record_outcome(
                    session,
                    meeting=meeting,
                    data=data,
                    now=staff.now,
                    bus=staff.bus,
                    actor=staff.actor,
                    recorded_by=staff.user.id,
                )
                add_audit(
                    session,
                    actor_id=staff.user.id,
                    action="outcome.record",
                    at=staff.now,
                    case_id=case.id,
                    target_type="meeting",
                    target_id=str(meeting.id),
                )
        except NotFound:
            raise
        except DomainError as exc:
            errors["result"] = pages.as_sentence(exc.message)
        else:
            raise see_other(f"/staff/meetings/{meeting.id}/outcome?saved=1")
    async with request.app[DB].read() as session:
        meeting, case = await _my_meeting(session, staff, request.match_info["meeting_id"])
        parties = await intake.list_parties(session, case_id=case.id)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    context = staff.page(
        meeting=meeting,
        case=case,
        parties=parties,
        results=list(OutcomeResult),
        result_words=RESULT_WORDS,
        values=values,
        errors=errors,
        saved=False,
    )
    return pages.render("staff/outcome.html", request, context, status=422)
