"""The mediator's live room console: who is where, kept current while the session runs.

The console shows who is where (lobby, joint room, each caucus room, left) with their
channel; its buttons (``console_actions``) drive ``rooms.py``. It stays current without a
reload through Server-Sent Events (a fingerprint of the meeting's state polled once a
second); without JavaScript the refresh link does the same. A mediator only ever sees
their own meetings.
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

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import roster
from orchestrator.closing import meeting_papers
from orchestrator.core.models import (
    Case,
    Meeting,
    MeetingStatus,
    ParticipantStatus,
    Party,
    PartyRole,
    Room,
)
from orchestrator.meeting import rooms
from orchestrator.messaging import ways_in
from orchestrator.web import event_stream, pages
from orchestrator.web.keys import CLOCK, CONSOLE_STOPPING, DB
from orchestrator.web.staff.my_meetings import my_meeting
from orchestrator.web.staff.roles import ROOM_STAFF
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()


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
# The marks a mediator may give each person, with their words.
MARK_CHOICES = (
    (ParticipantStatus.in_session, "Present"),
    (ParticipantStatus.left, "Left"),
    (ParticipantStatus.not_signed_in, "Did not attend"),
)
# The mark a person's dropdown starts at, by what the record says of them now (else Present).
MARK_FOR = {
    ParticipantStatus.not_signed_in: ParticipantStatus.not_signed_in,
    ParticipantStatus.left: ParticipantStatus.left,
    ParticipantStatus.disconnected: ParticipantStatus.left,
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


@dataclass
class Person:
    party: Party
    status: ParticipantStatus
    words: str
    channel: str
    room_id: uuid.UUID | None
    seen: bool = False  # a provider reported it: not only where we sent them

    @property
    def mark(self) -> ParticipantStatus:
        """The attendance mark the record shows: present unless not arrived or gone."""
        return MARK_FOR.get(self.status, ParticipantStatus.in_session)


async def console_context(
    session: AsyncSession, staff: StaffContext, meeting: Meeting, case: Case
) -> dict[str, Any]:
    state = await rooms.room_state(session, meeting)
    parties = {p.id: p for p in await roster.list_parties(session, case_id=case.id)}
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
                seen=p.seen,
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
        mark_choices=MARK_CHOICES,
        interpreters=[p.name for p in parties.values() if p.role is PartyRole.interpreter],
    )


_IN_ROOM = (ParticipantStatus.in_session, ParticipantStatus.in_caucus)


def _fingerprint_of(meeting: Meeting, all_rooms: list[Room], people: list[Person]) -> str:
    parts = [meeting.status.value]
    parts += [f"{r.id}:{r.closed_at}" for r in all_rooms]
    parts += [f"{p.party.id}:{p.status.value}:{p.room_id}:{p.channel}:{p.seen}" for p in people]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@routes.get("/staff/meetings/{meeting_id}/console")
@staff_page(roles=ROOM_STAFF)
async def console(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    async with request.app[DB].read() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        context = await console_context(session, staff, meeting, case)
        context["state_token"] = await rooms.state_fingerprint(session, meeting.id)
        context["join_url"] = await ways_in.mediator_video_url(session, meeting, staff.settings)
        context.update(await meeting_papers.console_view(session, case_id=case.id))
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
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
        context = await console_context(session, staff, meeting, case)
    return pages.render("staff/_console_panel.html", request, context)


@routes.get("/staff/meetings/{meeting_id}/console/events")
@staff_page(roles=ROOM_STAFF)
async def console_events(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """Server-Sent Events: a ``change`` event whenever who-is-where changes."""
    async with request.app[DB].read() as session:
        meeting, case = await my_meeting(session, staff, request.match_info["meeting_id"])
    # The stream may stay open for hours: record the view as it starts, not as it ends.
    await staff.audit(
        "page.console.events", case_id=case.id, target_type="meeting", target_id=str(meeting.id)
    )
    response = await event_stream.open_stream(request)
    stopping = request.app[CONSOLE_STOPPING]
    clock = request.app[CLOCK]
    started = clock()
    last = ""
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
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
