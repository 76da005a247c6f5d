"""JSON API: plan the open caseload at once, and accept the plan in one go."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.core.models import MeetingMode, StaffRole
from orchestrator.scheduling import planning
from orchestrator.web.api.meetings import MeetingPublic, present
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import BUSY_READER, DB, HTTP, WORKDAYS

router = ApiRouter("planning")
SCHEDULING = {StaffRole.scheduler}


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_minutes: int = Field(default=180, ge=20, le=480)
    case_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)


class ProposedBookingOut(BaseModel):
    case_id: uuid.UUID
    reference: str
    mediator_id: uuid.UUID
    start: datetime
    end: datetime
    within_target: bool


class UnplacedOut(BaseModel):
    case_id: uuid.UUID
    reference: str
    reason: str


class PlanOut(BaseModel):
    bookings: list[ProposedBookingOut]
    unplaced: list[UnplacedOut]
    within_target: int
    first_come_within_target: int
    optimal: bool


class AcceptedBooking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID
    start: datetime
    duration_minutes: int = Field(ge=20, le=480)


class PlanAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bookings: list[AcceptedBooking] = Field(min_length=1, max_length=1000)
    mode: MeetingMode = MeetingMode.video


class AcceptedOut(BaseModel):
    meetings: list[MeetingPublic]


@router.post("/plans", body=PlanRequest, response=PlanOut, roles=SCHEDULING)
async def propose_plan(ctx: ApiContext, body: PlanRequest) -> PlanOut:
    """Propose bookings across all open cases that book the most families within target."""
    # A proposal only reads, and reads calendars: a read session, so that a slow feed
    # never holds the write lock (the request's own transaction only files the audit).
    async with ctx.app[DB].read() as session:
        proposal = await planning.propose(
            session,
            now=ctx.now,
            settings=ctx.settings,
            calendar=ctx.app[WORKDAYS],
            reader=ctx.app[BUSY_READER],
            http=ctx.app[HTTP],
            duration=timedelta(minutes=body.duration_minutes),
            case_ids=body.case_ids,
        )
    return PlanOut(
        bookings=[ProposedBookingOut(**vars(b)) for b in proposal.bookings],
        unplaced=[UnplacedOut(**vars(u)) for u in proposal.unplaced],
        within_target=proposal.within_target,
        first_come_within_target=proposal.first_come_within_target,
        optimal=proposal.optimal,
    )


@router.post("/plans/accept", body=PlanAccept, response=AcceptedOut, status=201, roles=SCHEDULING)
async def accept_plan(ctx: ApiContext, body: PlanAccept) -> AcceptedOut:
    """Book every accepted time in one transaction: all of them, or none if anything clashes."""
    meetings = await planning.accept(
        ctx.session,
        chosen=[planning.Accepted(b.case_id, b.start, b.duration_minutes) for b in body.bookings],
        mode=body.mode,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        workdays=ctx.app[WORKDAYS],
        actor=ctx.actor,
    )
    return AcceptedOut(meetings=[present(m, ctx) for m in meetings])
