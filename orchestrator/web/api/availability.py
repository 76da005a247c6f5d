"""JSON API: ask parties when they can meet, see who has answered, and rank the slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from calendars.slots import Slot
from orchestrator.core.models import StaffRole
from orchestrator.scheduling import (
    availability_matrix,
    busy_reader,
    poll_requests,
    poll_times,
    slot_search,
)
from orchestrator.scheduling.busy_times import CalendarError
from orchestrator.web.api.cases import load_case
from orchestrator.web.api.routes import ApiContext, ApiRouter
from orchestrator.web.keys import BUSY_READER, DB, HTTP, SETTINGS, WORKDAYS

router = ApiRouter("availability")
SCHEDULING = {StaffRole.scheduler}
CASE_READERS = {StaffRole.scheduler, StaffRole.mediator}

PartyStatus = Literal["free", "yes", "if_need_be", "no", "busy", "unknown"]


def install(app: web.Application) -> None:
    """Give the app its calendar reader: one feed cache and parsed-busy cache per app."""
    app[BUSY_READER] = busy_reader.reader_for(app[SETTINGS])


# ---------------------------------------------------------------------------- schemas


class AvailabilityRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_minutes: int = Field(ge=30, le=8 * 60)
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    # The family agreed to hear the date with less notice than five working days.
    notice_working_days: int | None = Field(default=None, ge=0, le=20)


class PolledParty(BaseModel):
    party_id: uuid.UUID
    role: str


class NotPolledParty(BaseModel):
    party_id: uuid.UUID
    reason: poll_requests.NotPolledReason


class AvailabilityRequestPublic(BaseModel):
    poll_id: uuid.UUID
    duration_minutes: int
    window_start: datetime
    window_end: datetime
    timezone: str
    candidates: list[datetime]
    polled: list[PolledParty]
    not_polled: list[NotPolledParty]


class CalendarErrorPublic(BaseModel):
    who: Literal["party", "mediator"]
    party_id: uuid.UUID | None = None
    mediator_id: uuid.UUID | None = None
    message: str


class SlotPublic(BaseModel):
    start: datetime
    end: datetime
    score: float
    within_target: bool
    parties: dict[str, PartyStatus]
    explanation: str


class BlockerPublic(BaseModel):
    party_id: uuid.UUID
    role: str
    blocked: int = Field(description="candidate times before the target this party cannot make")


class SlotsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_minutes: int = Field(default=180, ge=15, le=8 * 60)
    limit: int = Field(default=10, ge=1, le=100)
    notice_working_days: int | None = Field(default=None, ge=0, le=20)


class SlotsPublic(BaseModel):
    slots: list[SlotPublic]
    within_target: bool
    target_end: datetime
    blockers: list[BlockerPublic]
    earliest_after_target: list[SlotPublic]
    explanation: str
    calendar_errors: list[CalendarErrorPublic]


class PartyAvailabilityPublic(BaseModel):
    party_id: uuid.UUID
    role: str
    name: str
    required: bool
    source: Literal["calendar", "poll", "none"]
    polled: bool
    answered: bool
    answered_at: datetime | None
    note: str | None
    answers: dict[str, PartyStatus] = Field(
        description="candidate start (ISO, UTC) -> answer or calendar status"
    )
    calendar_error: str | None
    call_me: bool = Field(
        default=False, description='answered "none of these work, please call me"'
    )
    entered_by: str | None = Field(
        default=None, description="the scheduler who entered the answers after a phone call"
    )


class PollPublic(BaseModel):
    id: uuid.UUID
    duration_minutes: int
    window_start: datetime
    window_end: datetime
    created_at: datetime
    closed_at: datetime | None


class AvailabilityPublic(BaseModel):
    poll: PollPublic | None
    timezone: str
    candidates: list[datetime]
    parties: list[PartyAvailabilityPublic]
    waiting_for: list[uuid.UUID]
    calendar_errors: list[CalendarErrorPublic]


def _errors(found: list[CalendarError]) -> list[CalendarErrorPublic]:
    return [
        CalendarErrorPublic(
            who=e.who, party_id=e.party_id, mediator_id=e.mediator_id, message=e.message
        )
        for e in found
    ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _slot(slot: Slot) -> SlotPublic:
    return SlotPublic(
        start=slot.start,
        end=slot.end,
        score=slot.score,
        within_target=slot.within_target,
        parties=dict(slot.parties),
        explanation=slot.explanation,
    )


# ---------------------------------------------------------------------------- routes


@router.post(
    "/cases/{case_id}/availability-requests",
    body=AvailabilityRequestCreate,
    response=AvailabilityRequestPublic,
    status=201,
    roles=SCHEDULING,
)
async def request_availability(
    ctx: ApiContext, body: AvailabilityRequestCreate
) -> AvailabilityRequestPublic:
    """Poll every party without a readable calendar, by email, with their own link."""
    # Calendars first, before this request's write transaction takes its first lock.
    read = await poll_requests.read_poll_calendars(
        ctx.app[DB],
        case_id=ctx.path_id("case_id"),
        now=ctx.now,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        reader=ctx.app[BUSY_READER],
        http=ctx.app[HTTP],
        window_start=body.window_start,
        window_end=body.window_end,
    )
    case = await load_case(ctx)
    result = await poll_requests.request_availability(
        ctx.session,
        case=case,
        duration_minutes=body.duration_minutes,
        now=ctx.now,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        calendars=read,
        window_start=body.window_start,
        window_end=body.window_end,
        notice_working_days=body.notice_working_days,
        actor=ctx.actor,
    )
    poll = result.poll
    return AvailabilityRequestPublic(
        poll_id=poll.id,
        duration_minutes=poll.duration_minutes,
        window_start=poll.window_start,
        window_end=poll.window_end,
        timezone=case.timezone,
        candidates=poll_times.poll_candidates(poll),
        polled=[PolledParty(party_id=p.id, role=p.role.value) for p in result.polled],
        not_polled=[NotPolledParty(party_id=k, reason=v) for k, v in result.not_polled.items()],
    )


@router.get("/cases/{case_id}/slots", query=SlotsQuery, response=SlotsPublic, roles=CASE_READERS)
async def list_slots(ctx: ApiContext, query: SlotsQuery) -> SlotsPublic:
    """Rank meeting times best first, with each party's status and whether within target."""
    case = await load_case(ctx)
    found = await slot_search.find_case_slots(
        ctx.session,
        case=case,
        duration=timedelta(minutes=query.duration_minutes),
        now=ctx.now,
        settings=ctx.settings,
        calendar=ctx.app[WORKDAYS],
        reader=ctx.app[BUSY_READER],
        http=ctx.app[HTTP],
        limit=query.limit,
        notice_working_days=query.notice_working_days,
    )
    return SlotsPublic(
        slots=[_slot(s) for s in found.slots],
        within_target=found.within_target,
        target_end=found.target_end,
        blockers=[
            BlockerPublic(party_id=b.party_id, role=b.role, blocked=b.blocked)
            for b in found.blockers
        ],
        earliest_after_target=[_slot(s) for s in found.earliest_after_target],
        explanation=found.explanation,
        calendar_errors=_errors(found.calendar_errors),
    )


@router.get("/cases/{case_id}/availability", response=AvailabilityPublic, roles=CASE_READERS)
async def show_availability(ctx: ApiContext) -> AvailabilityPublic:
    """Who has answered the newest poll, their answers and notes, and calendar errors."""
    case = await load_case(ctx)
    matrix = await availability_matrix.availability_matrix(
        ctx.session, case=case, reader=ctx.app[BUSY_READER], http=ctx.app[HTTP]
    )
    poll = matrix.poll
    return AvailabilityPublic(
        poll=(
            PollPublic(
                id=poll.id,
                duration_minutes=poll.duration_minutes,
                window_start=poll.window_start,
                window_end=poll.window_end,
                created_at=poll.created_at,
                closed_at=poll.closed_at,
            )
            if poll
            else None
        ),
        timezone=case.timezone,
        candidates=matrix.candidates,
        parties=[
            PartyAvailabilityPublic(
                party_id=row.party.id,
                role=row.party.role.value,
                name=row.party.name,
                required=row.party.required,
                source=row.source,
                polled=row.polled,
                answered=row.answered_at is not None,
                answered_at=row.answered_at,
                note=row.note,
                answers={_iso(start): status for start, status in row.cells.items()},
                calendar_error=row.calendar_error,
                call_me=row.call_me,
                entered_by=row.entered_by,
            )
            for row in matrix.rows
        ],
        waiting_for=[p.id for p in matrix.waiting_for],
        calendar_errors=_errors(matrix.calendar_errors),
    )
