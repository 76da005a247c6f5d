"""JSON API: who attended a meeting, for how long and how, and the mediator's own marks."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.core.models import Channel, ParticipantStatus
from orchestrator.meeting import attendance
from orchestrator.web.api.meetings import READERS, ROOM_CONTROL, load_meeting
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("meetings")


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
