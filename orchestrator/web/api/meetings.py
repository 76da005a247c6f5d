"""JSON API: booking, rescheduling and cancelling meetings; join links; room control; attendance."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from orchestrator.cases import intake, links, panel, roster
from orchestrator.core.errors import NotFound
from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingMode,
    MeetingStatus,
    ParticipantStatus,
    Room,
    StaffRole,
)
from orchestrator.meeting import attendance, clicks, room_moves, rooms, session_control
from orchestrator.meeting.providers import Providers
from orchestrator.scheduling import booking, cancelling, joining, lookups, rescheduling
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import DB, HTTP, JOIN_CLICKS, PROVIDERS, SETTINGS, WORKDAYS

router = ApiRouter("meetings")
SCHEDULING = {StaffRole.scheduler}
READERS = {StaffRole.scheduler, StaffRole.mediator}
ROOM_CONTROL = {StaffRole.mediator}  # admins pass every role check


# What ``_single_line`` refuses, said in the schema.
ONE_LINE: dict[str, JsonValue] = {"pattern": "^[^\\r\\n\\t]*$"}


def _single_line(value: str | None) -> str | None:
    if value is not None and any(ch in value for ch in "\r\n\t"):
        raise ValueError("must be a single line of text")
    return value.strip() if value else value


# ---------------------------------------------------------------------------- schemas


class VenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, json_schema_extra=ONE_LINE)
    address: str = Field(min_length=1, max_length=500)
    access_notes: str | None = Field(default=None, max_length=2000)

    _lines = field_validator("name")(_single_line)


class RuleWaiver(BaseModel):
    """Book outside the scheduling rules on purpose, saying why."""

    waive_rules: bool = Field(
        default=False,
        description="book even though the time breaks a scheduling rule (needs waiver_reason)",
    )
    waiver_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="why the rules are waived, e.g. the family agreed to shorter notice",
    )

    @model_validator(mode="after")
    def _reason_goes_with_waiver(self) -> RuleWaiver:
        if self.waive_rules and not (self.waiver_reason or "").strip():
            raise ValueError("waive_rules needs a waiver_reason saying why")
        if self.waiver_reason is not None and not self.waive_rules:
            raise ValueError("waiver_reason is given only with waive_rules")
        return self

    @property
    def waiver(self) -> str | None:
        return self.waiver_reason if self.waive_rules else None


class MeetingCreate(RuleWaiver):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    duration_minutes: int = Field(ge=10, le=600)
    mode: MeetingMode
    provider: str | None = Field(default=None, max_length=200)
    venue: VenueIn | None = None


class MeetingMove(RuleWaiver):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    duration_minutes: int = Field(ge=10, le=600)


class MeetingCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class MeetingPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    mediator_id: uuid.UUID | None
    start: datetime
    end: datetime
    status: MeetingStatus
    mode: MeetingMode
    ical_uid: str
    sequence: int
    provider: str | None
    room_ready: bool
    venue: dict[str, Any] | None
    dial_in_number: str | None
    cancel_reason: str | None


class MeetingList(BaseModel):
    meetings: list[MeetingPublic]


class JoinLinkPublic(BaseModel):
    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    role: str
    url: str
    opens_at: datetime
    expires_at: datetime
    phone_pin: str | None


class JoinLinks(BaseModel):
    meeting_id: uuid.UUID
    sequence: int
    dial_in_number: str | None
    links: list[JoinLinkPublic]


class PartyRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID


class CaucusCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, json_schema_extra=ONE_LINE)
    party_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)

    _lines = field_validator("label")(_single_line)


class RoomPublic(BaseModel):
    id: uuid.UUID
    kind: str
    label: str
    party_ids: list[uuid.UUID]
    ready: bool
    closed_at: datetime | None


class ParticipantPublic(BaseModel):
    party_id: uuid.UUID | None
    status: ParticipantStatus
    room_id: uuid.UUID | None
    channel: Channel | None
    since: datetime | None


class RoomStatePublic(BaseModel):
    meeting_id: uuid.UUID
    status: MeetingStatus
    rooms: list[RoomPublic]
    participants: list[ParticipantPublic]


class AttendanceMarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID
    status: ParticipantStatus
    note: str | None = Field(default=None, max_length=1000)


class AttendanceEventPublic(BaseModel):
    at: datetime
    kind: str
    status: ParticipantStatus
    source: str
    channel: Channel | None
    room: str | None
    note: str | None


class PartyAttendancePublic(BaseModel):
    party_id: uuid.UUID
    role: str
    status: ParticipantStatus
    joined_at: datetime | None
    left_at: datetime | None
    seconds_present: int
    channel: Channel | None
    attended: bool
    events: list[AttendanceEventPublic]


class AttendancePublic(BaseModel):
    meeting_id: uuid.UUID
    parties: list[PartyAttendancePublic]
    unidentified_events: int


# ---------------------------------------------------------------------------- helpers


def dial_in_number(meeting: Meeting, ctx_settings: Any) -> str | None:
    found = joining.dial_in(meeting, ctx_settings, own_pin=meeting.mediator_pin)
    return found.number if found is not None else None


def present(meeting: Meeting, ctx: ApiContext) -> MeetingPublic:
    return MeetingPublic(
        id=meeting.id,
        case_id=meeting.case_id,
        mediator_id=meeting.mediator_id,
        start=meeting.start_at,
        end=meeting.end_at,
        status=meeting.status,
        mode=meeting.mode,
        ical_uid=meeting.ical_uid,
        sequence=meeting.calendar_sequence,
        provider=meeting.provider,
        room_ready=meeting.provider_room is not None,
        venue=meeting.venue,
        dial_in_number=dial_in_number(meeting, ctx.settings),
        cancel_reason=meeting.cancel_reason,
    )


async def _mine(ctx: ApiContext, mediator_id: uuid.UUID | None) -> bool:
    if ctx.user.role is not StaffRole.mediator:
        return True
    return mediator_id in await panel.mediator_ids_for_user(ctx.session, ctx.user.id)


async def load_meeting(ctx: ApiContext) -> Meeting:
    """The meeting in the path, if the caller may see it (mediators: their own only)."""
    meeting_id = ctx.path_id("meeting_id")
    meeting = await lookups.get_meeting(ctx.session, meeting_id)
    ctx.audit_case_id = meeting.case_id
    if not await _mine(ctx, meeting.mediator_id):
        raise NotFound("meeting", meeting_id)
    return meeting


def _room_public(room: Room) -> RoomPublic:
    return RoomPublic(
        id=room.id,
        kind=room.kind,
        label=room.label,
        party_ids=[uuid.UUID(p) for p in room.party_ids or []],
        ready=room.provider_room is not None or room.kind == "main",
        closed_at=room.closed_at,
    )


async def state_public(ctx: ApiContext, meeting: Meeting) -> RoomStatePublic:
    state = await rooms.room_state(ctx.session, meeting)
    return RoomStatePublic(
        meeting_id=meeting.id,
        status=meeting.status,
        rooms=[_room_public(r) for r in state.rooms],
        participants=[
            ParticipantPublic(
                party_id=p.party_id,
                status=p.status,
                room_id=p.room_id,
                channel=p.channel,
                since=p.since,
            )
            for p in state.participants
        ],
    )


# ---------------------------------------------------------------------------- booking


@router.post(
    "/cases/{case_id}/meetings",
    body=MeetingCreate,
    response=MeetingPublic,
    status=201,
    roles=SCHEDULING,
)
async def book_meeting(ctx: ApiContext, body: MeetingCreate) -> MeetingPublic:
    """Book a meeting; 422 naming the rule a time breaks, 409 when the mediator is taken."""
    case = await intake.get_case(ctx.session, ctx.path_id("case_id"))
    ctx.audit_case_id = case.id
    if body.mode in (MeetingMode.video, MeetingMode.hybrid):
        ctx.app[PROVIDERS].check_video(body.provider or ctx.settings.video_provider)
    venue = (
        booking.Venue(
            name=body.venue.name, address=body.venue.address, access_notes=body.venue.access_notes
        )
        if body.venue is not None
        else None
    )
    meeting = await booking.book(
        ctx.session,
        case=case,
        start=body.start,
        duration_minutes=body.duration_minutes,
        mode=body.mode,
        provider=body.provider,
        venue=venue,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        workdays=ctx.app[WORKDAYS],
        actor=ctx.actor,
        actor_id=ctx.user.id,
        waiver=body.waiver,
    )
    ctx.audit_details = {"meeting_id": str(meeting.id)}
    return present(meeting, ctx)


@router.get("/cases/{case_id}/meetings", response=MeetingList, roles=READERS)
async def list_meetings(ctx: ApiContext) -> MeetingList:
    """List a case's meetings, earliest first."""
    case = await intake.get_case(ctx.session, ctx.path_id("case_id"))
    ctx.audit_case_id = case.id
    if not await _mine(ctx, case.mediator_id):
        raise NotFound("case", case.id)
    found = await lookups.list_meetings(ctx.session, case_id=case.id)
    return MeetingList(meetings=[present(m, ctx) for m in found])


@router.get("/meetings/{meeting_id}", response=MeetingPublic, roles=READERS)
async def get_meeting(ctx: ApiContext) -> MeetingPublic:
    """Read one meeting."""
    return present(await load_meeting(ctx), ctx)


@router.post(
    "/meetings/{meeting_id}/reschedule", body=MeetingMove, response=MeetingPublic, roles=SCHEDULING
)
async def reschedule_meeting(ctx: ApiContext, body: MeetingMove) -> MeetingPublic:
    """Move a meeting; old join links stop working and new ones are issued."""
    meeting = await load_meeting(ctx)
    meeting = await rescheduling.reschedule(
        ctx.session,
        meeting=meeting,
        start=body.start,
        duration_minutes=body.duration_minutes,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        workdays=ctx.app[WORKDAYS],
        actor=ctx.actor,
        actor_id=ctx.user.id,
        waiver=body.waiver,
    )
    return present(meeting, ctx)


@router.post(
    "/meetings/{meeting_id}/cancel", body=MeetingCancel, response=MeetingPublic, roles=SCHEDULING
)
async def cancel_meeting(ctx: ApiContext, body: MeetingCancel) -> MeetingPublic:
    """Cancel a meeting; every join link stops working."""
    meeting = await load_meeting(ctx)
    meeting = await cancelling.cancel(
        ctx.session,
        meeting=meeting,
        reason=body.reason,
        now=ctx.now,
        bus=ctx.bus,
        actor=ctx.actor,
        actor_id=ctx.user.id,
    )
    return present(meeting, ctx)


@router.get("/meetings/{meeting_id}/links", response=JoinLinks, roles=READERS)
async def join_links(ctx: ApiContext) -> JoinLinks:
    """Each party's (and the mediator's) current personal join link and phone PIN."""
    meeting = await load_meeting(ctx)
    current = await lookups.current_join_links(ctx.session, meeting)
    pins = {
        inv.party_id: inv.phone_pin for inv in await lookups.invitations(ctx.session, meeting.id)
    }
    secret = ctx.settings.secret_key.get_secret_value()
    parties = {p.id: p for p in await roster.list_parties(ctx.session, case_id=meeting.case_id)}
    out = []
    for link in current:
        role = "mediator"
        if link.party_id is not None:
            party = parties.get(link.party_id)
            if party is None:  # removed from the case
                continue
            role = party.role.value
        out.append(
            JoinLinkPublic(
                party_id=link.party_id,
                mediator_id=link.mediator_id,
                role=role,
                url=links.url_for(link, base_url=ctx.settings.base_url, secret=secret),
                opens_at=joining.join_opens_at(meeting, ctx.settings),
                expires_at=link.expires_at,
                phone_pin=pins.get(link.party_id) if link.party_id else meeting.mediator_pin,
            )
        )
    return JoinLinks(
        meeting_id=meeting.id,
        sequence=meeting.calendar_sequence,
        dial_in_number=dial_in_number(meeting, ctx.settings),
        links=out,
    )


# ---------------------------------------------------------------------------- the room


@router.get("/meetings/{meeting_id}/rooms", response=RoomStatePublic, roles=READERS)
async def room_state(ctx: ApiContext) -> RoomStatePublic:
    """Who is where: the meeting's rooms and each party's live status."""
    return await state_public(ctx, await load_meeting(ctx))


@router.post("/meetings/{meeting_id}/start", response=RoomStatePublic, roles=ROOM_CONTROL)
async def start_session(ctx: ApiContext) -> RoomStatePublic:
    """Start (or resume) the session."""
    meeting = await load_meeting(ctx)
    await session_control.start(
        ctx.session, meeting=meeting, now=ctx.now, actor_id=ctx.user.id, settings=ctx.settings
    )
    return await state_public(ctx, meeting)


@router.post("/meetings/{meeting_id}/pause", response=RoomStatePublic, roles=ROOM_CONTROL)
async def pause_session(ctx: ApiContext) -> RoomStatePublic:
    """Pause the session (a break); start resumes it."""
    meeting = await load_meeting(ctx)
    await session_control.pause(ctx.session, meeting=meeting, now=ctx.now, actor_id=ctx.user.id)
    return await state_public(ctx, meeting)


@router.post("/meetings/{meeting_id}/end", response=RoomStatePublic, roles=ROOM_CONTROL)
async def end_session(ctx: ApiContext) -> RoomStatePublic:
    """End the session for everyone."""
    meeting = await load_meeting(ctx)
    await session_control.end(ctx.session, meeting=meeting, now=ctx.now, actor_id=ctx.user.id)
    return await state_public(ctx, meeting)


@router.post(
    "/meetings/{meeting_id}/admit", body=PartyRef, response=RoomStatePublic, roles=ROOM_CONTROL
)
async def admit(ctx: ApiContext, body: PartyRef) -> RoomStatePublic:
    """Admit a party from the lobby into the joint room."""
    meeting = await load_meeting(ctx)
    await room_moves.admit(ctx.session, meeting=meeting, party_id=body.party_id, now=ctx.now)
    return await state_public(ctx, meeting)


@router.post(
    "/meetings/{meeting_id}/rooms",
    body=CaucusCreate,
    response=RoomStatePublic,
    status=201,
    roles=ROOM_CONTROL,
)
async def open_caucus(ctx: ApiContext, body: CaucusCreate) -> RoomStatePublic:
    """Open a private caucus room for some parties and move them there."""
    meeting = await load_meeting(ctx)
    await room_moves.open_caucus(
        ctx.session, meeting=meeting, label=body.label, party_ids=body.party_ids, now=ctx.now
    )
    return await state_public(ctx, meeting)


@router.post(
    "/meetings/{meeting_id}/rooms/{room_id}/close", response=RoomStatePublic, roles=ROOM_CONTROL
)
async def close_caucus(ctx: ApiContext) -> RoomStatePublic:
    """Close a caucus room; its parties return to the joint room."""
    meeting = await load_meeting(ctx)
    room = await rooms.get_room(ctx.session, meeting, ctx.path_id("room_id"))
    await room_moves.close_caucus(ctx.session, meeting=meeting, room=room, now=ctx.now)
    return await state_public(ctx, meeting)


@router.post("/meetings/{meeting_id}/recall", response=RoomStatePublic, roles=ROOM_CONTROL)
async def recall(ctx: ApiContext) -> RoomStatePublic:
    """Bring everyone back to the joint room."""
    meeting = await load_meeting(ctx)
    await room_moves.recall(ctx.session, meeting=meeting, now=ctx.now)
    return await state_public(ctx, meeting)


# ---------------------------------------------------------------------------- attendance


def attendance_public(report: attendance.AttendanceSummary) -> AttendancePublic:
    return AttendancePublic(
        meeting_id=report.meeting_id,
        unidentified_events=report.unidentified_events,
        parties=[
            PartyAttendancePublic(
                party_id=p.party_id,
                role=p.role,
                status=p.status,
                joined_at=p.joined_at,
                left_at=p.left_at,
                seconds_present=p.seconds_present,
                channel=p.channel,
                attended=p.attended,
                events=[AttendanceEventPublic(**e.__dict__) for e in p.events],
            )
            for p in report.parties
        ],
    )


@router.get("/meetings/{meeting_id}/attendance", response=AttendancePublic, roles=READERS)
async def get_attendance(ctx: ApiContext) -> AttendancePublic:
    """Per party: status, joined and left times, seconds present, channel, and the events."""
    meeting = await load_meeting(ctx)
    return attendance_public(await attendance.summary(ctx.session, meeting=meeting, now=ctx.now))


@router.post(
    "/meetings/{meeting_id}/attendance",
    body=AttendanceMarkIn,
    response=AttendancePublic,
    status=201,
    roles=ROOM_CONTROL,
)
async def mark_attendance(ctx: ApiContext, body: AttendanceMarkIn) -> AttendancePublic:
    """Record the mediator's own mark of a party's attendance."""
    meeting = await load_meeting(ctx)
    await attendance.mark(
        ctx.session,
        meeting=meeting,
        party_id=body.party_id,
        status=body.status,
        note=body.note,
        now=ctx.now,
    )
    return attendance_public(await attendance.summary(ctx.session, meeting=meeting, now=ctx.now))


# ---------------------------------------------------------------------------- wiring


async def click_recorder_ctx(app: web.Application) -> AsyncIterator[None]:
    """Record join clicks in group commits; on closing, commit the clicks still queued."""
    # Registered after the database's context, so it opens after the database and closes
    # before it; and cleanup contexts unwind only once the running handlers have finished,
    # so a click still being answered when the service stops is committed, not refused.
    recorder = clicks.ClickRecorder.for_database(app[DB])
    app[JOIN_CLICKS] = recorder
    yield
    await recorder.close()


def install(app: web.Application) -> None:
    """Build the providers lazily (``orchestrator.wiring`` hands them to the dispatcher)."""
    app[PROVIDERS] = Providers(app[SETTINGS], lambda: app[HTTP])
