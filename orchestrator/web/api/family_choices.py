"""JSON API: the information call (MIAS) and the ways to a certificate without a meeting.

The same use-cases as the family's own page (``/f/{token}``): the adviser's free 20-minute
times, booking the call for the family, the adviser marking it done; the family's
withdrawal (taken by phone); and the LA saying it cannot meet the 30 days.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from orchestrator.cases import roster
from orchestrator.closing import withdrawal
from orchestrator.core.models import CasePublic, StaffRole
from orchestrator.meeting import session_control
from orchestrator.scheduling import mias_calls
from orchestrator.web.api.cases import load_case, present_case
from orchestrator.web.api.meetings import MeetingPublic, load_meeting, present
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import BUSY_READER, HTTP, WORKDAYS

router = ApiRouter("family_choices")
SCHEDULING = {StaffRole.scheduler}
ADVISERS = {StaffRole.mediator, StaffRole.scheduler}


class FreeDayPublic(BaseModel):
    date: date
    starts: list[datetime]


class CallTimes(BaseModel):
    duration_minutes: int = mias_calls.CALL_MINUTES
    days: list[FreeDayPublic]


class CallBooking(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID = Field(description="the parent or young person the adviser phones")
    start: AwareDatetime
    phone: str = Field(min_length=1, max_length=40, description="the number the adviser rings")


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_id: uuid.UUID = Field(description="the parent or young person withdrawing")
    reason: str | None = Field(default=None, max_length=withdrawal.MAX_REASON)


class LaCannotMeet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date = Field(description="the day the LA said it cannot arrange mediation in 30 days")


@router.get("/cases/{case_id}/mias-times", response=CallTimes, roles=ADVISERS)
async def call_times(ctx: ApiContext) -> CallTimes:
    """The adviser's free 20-minute times for the information call, by day."""
    case = await load_case(ctx)
    days = await mias_calls.free_days(
        ctx.session,
        case=case,
        now=ctx.now,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        reader=ctx.app[BUSY_READER],
        http=ctx.app[HTTP],
    )
    return CallTimes(days=[FreeDayPublic(date=d.day, starts=d.starts) for d in days])


@router.post(
    "/cases/{case_id}/mias-call",
    body=CallBooking,
    response=MeetingPublic,
    status=201,
    roles=SCHEDULING,
)
async def book_call(ctx: ApiContext, body: CallBooking) -> MeetingPublic:
    """Book the family's 20-minute information call; 409 when the adviser is taken then."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=body.party_id)
    meeting = await mias_calls.book_call(
        ctx.session,
        case=case,
        party=party,
        start=body.start,
        phone=body.phone,
        offered=None,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        workdays=ctx.app[WORKDAYS],
        actor=ctx.actor,
    )
    ctx.audit_details = {"meeting_id": str(meeting.id)}
    return present(meeting, ctx)


@router.post("/meetings/{meeting_id}/call-done", response=MeetingPublic, roles=ADVISERS)
async def call_done(ctx: ApiContext) -> MeetingPublic:
    """Mark an information call as having taken place: its certificate's clock starts."""
    meeting = await load_meeting(ctx)
    await session_control.call_done(ctx.session, meeting=meeting, now=ctx.now, actor_id=ctx.user.id)
    return present(meeting, ctx)


@router.post("/cases/{case_id}/withdrawal", body=Withdrawal, response=CasePublic, roles=SCHEDULING)
async def withdraw(ctx: ApiContext, body: Withdrawal) -> CasePublic:
    """Record that the family withdrew and asked for the certificate (due in 3 working days);
    every booked meeting is cancelled for everyone."""
    case = await load_case(ctx)
    party = await roster.get_party(ctx.session, case_id=case.id, party_id=body.party_id)
    await withdrawal.withdraw(
        ctx.session,
        case=case,
        party=party,
        reason=body.reason,
        now=ctx.now,
        bus=ctx.bus,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        actor=ctx.actor,
    )
    return await present_case(ctx, case)


@router.post(
    "/cases/{case_id}/la-cannot-meet-30-days",
    body=LaCannotMeet,
    response=CasePublic,
    roles=SCHEDULING,
)
async def la_cannot_meet(ctx: ApiContext, body: LaCannotMeet) -> CasePublic:
    """Record the day the LA said it cannot arrange mediation within 30 days; the
    certificate is then due 3 working days after it."""
    case = await load_case(ctx)
    await withdrawal.record_la_cannot_meet(
        ctx.session,
        case=case,
        on=body.on,
        now=ctx.now,
        calendar=ctx.app[WORKDAYS],
        actor=ctx.actor,
    )
    return await present_case(ctx, case)
