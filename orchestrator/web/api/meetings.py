"""JSON API: booking, rescheduling and cancelling meetings, and the meeting's providers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from orchestrator.cases import intake, visibility
from orchestrator.core.models import Meeting, MeetingMode, MeetingStatus, StaffRole
from orchestrator.meeting import clicks
from orchestrator.meeting.providers import Providers
from orchestrator.scheduling import booking, cancelling, joining, lookups, rescheduling
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import DB, HTTP, JOIN_CLICKS, PROVIDERS, SETTINGS

router = ApiRouter("meetings")
SCHEDULING = {StaffRole.scheduler}
READERS = {StaffRole.scheduler, StaffRole.mediator}
ROOM_CONTROL = {StaffRole.mediator}  # admins pass every role check


# What ``single_line`` refuses, said in the schema.
ONE_LINE: dict[str, JsonValue] = {"pattern": "^[^\\r\\n\\t]*$"}


def single_line(value: str | None) -> str | None:
    if value is not None and any(ch in value for ch in "\r\n\t"):
        raise ValueError("must be a single line of text")
    return value.strip() if value else value


class VenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, json_schema_extra=ONE_LINE)
    address: str = Field(min_length=1, max_length=500)
    access_notes: str | None = Field(default=None, max_length=2000)

    _lines = field_validator("name")(single_line)


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


async def load_meeting(ctx: ApiContext) -> Meeting:
    """The meeting in the path, if the caller may see it (mediators: their own only)."""
    meeting_id = ctx.path_id("meeting_id")
    meeting = await lookups.get_meeting(ctx.session, meeting_id)
    ctx.audit_case_id = meeting.case_id
    return visibility.check_meeting(await visibility.scope_of(ctx.session, ctx.user), meeting)


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
        check_provider=ctx.app[PROVIDERS].check_video,
        **ctx.booking_terms(body.waiver),
    )
    ctx.audit_details = {"meeting_id": str(meeting.id)}
    return present(meeting, ctx)


@router.get("/cases/{case_id}/meetings", response=MeetingList, roles=READERS)
async def list_meetings(ctx: ApiContext) -> MeetingList:
    """List a case's meetings, earliest first."""
    case = await intake.get_case(ctx.session, ctx.path_id("case_id"))
    ctx.audit_case_id = case.id
    visibility.check_case(await visibility.scope_of(ctx.session, ctx.user), case)
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
        **ctx.booking_terms(body.waiver),
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
