"""JSON API: the live session's rooms: start, pause, end, admit, caucus rooms, recall."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.core.models import Channel, Meeting, MeetingStatus, ParticipantStatus, Room
from orchestrator.meeting import room_moves, rooms, session_control
from orchestrator.web.api.meetings import ONE_LINE, READERS, ROOM_CONTROL, load_meeting, single_line
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("meetings")


class PartyRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID


class CaucusCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, json_schema_extra=ONE_LINE)
    party_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)

    _lines = field_validator("label")(single_line)


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
