"""Plan the whole open caseload at once, then book the accepted plan in one transaction.

For every open case with a mediator and no live meeting, the availability solver gives the
times every required person can make (rules, calendars, poll answers, the mediator's hours,
capacity and existing bookings). ``calendars.planner`` then picks one time per case so that
the most families are booked within their target without any mediator clashing with
themselves. The scheduler reviews the proposal and accepts it (or the part they want) in
one go: all of it is booked, or — if anything changed meanwhile — none of it. A case that
cannot be planned (no mediator yet; or, when asked about by id, closed or already booked)
comes back unplaced with the reason, never silently left out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.planner import Capacity, Demand, Option, Plan, first_come_greedy, plan
from calendars.slots import Slot
from calendars.workdays import WorkingDays
from orchestrator.core.errors import Conflict, NotFound, RulesBroken, ValidationFailed
from orchestrator.core.events import EventBus
from orchestrator.core.models import (
    Case,
    CaseStatus,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    in_words,
)
from orchestrator.core.settings import Settings
from orchestrator.scheduling import booking, busy_reader, slot_search

PLANNABLE = (CaseStatus.referred, CaseStatus.negotiating)
NO_MEDIATOR = "no mediator is assigned to the case yet; assign one to plan it"


@dataclass(frozen=True)
class ProposedBooking:
    case_id: uuid.UUID
    reference: str
    mediator_id: uuid.UUID
    start: datetime
    end: datetime
    within_target: bool


@dataclass(frozen=True)
class Unplaced:
    case_id: uuid.UUID
    reference: str
    reason: str


@dataclass(frozen=True)
class Proposal:
    bookings: list[ProposedBooking]
    unplaced: list[Unplaced]
    within_target: int
    first_come_within_target: int
    optimal: bool


async def caseload(
    session: AsyncSession, *, case_ids: Sequence[uuid.UUID] | None = None
) -> tuple[list[Case], list[Unplaced]]:
    """The open cases to plan, and those that cannot be planned, each with the reason.

    Without ``case_ids`` that is every open case with no live meeting; a case without a
    mediator comes back unplaced. Every case listed in ``case_ids`` comes back one way or
    the other (an unknown id is NotFound).
    """
    listed = list(dict.fromkeys(case_ids or ()))
    query = select(Case)
    if listed:
        query = query.where(col(Case.id).in_(listed))
    else:
        query = query.where(col(Case.status).in_(PLANNABLE))
    cases = list((await session.scalars(query.order_by(col(Case.created_at)))).all())
    missing = set(listed) - {c.id for c in cases}
    if missing:
        raise NotFound("case", sorted(missing, key=listed.index)[0])
    live = set(
        (
            await session.scalars(
                select(Meeting.case_id).where(
                    col(Meeting.case_id).in_([c.id for c in cases]),
                    col(Meeting.status) != MeetingStatus.cancelled,
                )
            )
        ).all()
    )
    plannable: list[Case] = []
    unplaced: list[Unplaced] = []
    for case in cases:
        if case.status not in PLANNABLE:
            unplaced.append(
                Unplaced(case.id, case.reference, f"the case is {in_words(case.status)}")
            )
        elif case.id in live:
            if listed:  # asked about by name: say why it is left out
                unplaced.append(Unplaced(case.id, case.reference, "the case already has a meeting"))
        elif case.mediator_id is None:
            unplaced.append(Unplaced(case.id, case.reference, NO_MEDIATOR))
        else:
            plannable.append(case)
    return plannable, unplaced


def _spread(slots: Sequence[Slot], *, keep: int, per_day: int = 2) -> list[Slot]:
    """The best few times of each day, so the planner can move a case to another day."""
    taken: dict[date, int] = defaultdict(int)
    chosen: list[Slot] = []
    for slot in slots:  # already best first
        day = slot.start.date()
        if taken[day] < per_day:
            taken[day] += 1
            chosen.append(slot)
        if len(chosen) >= keep:
            break
    return chosen


async def _capacities(
    session: AsyncSession, mediator_ids: set[uuid.UUID], *, since: datetime
) -> list[Capacity]:
    capacities = []
    for mediator_id in mediator_ids:
        mediator = await session.get(Mediator, mediator_id)
        if mediator is None:
            continue
        zone = ZoneInfo("Europe/London")
        meetings = (
            await session.scalars(
                select(Meeting).where(
                    col(Meeting.mediator_id) == mediator_id,
                    col(Meeting.status) != MeetingStatus.cancelled,
                    col(Meeting.end_at) > since,
                )
            )
        ).all()
        per_day: dict[date, int] = defaultdict(int)
        for meeting in meetings:
            per_day[meeting.start_at.astimezone(zone).date()] += 1
        capacities.append(
            Capacity(
                mediator_id=str(mediator_id),
                max_sessions_per_day=mediator.max_sessions_per_day,
                buffer=timedelta(minutes=mediator.buffer_minutes),
                booked_per_day=dict(per_day),
            )
        )
    return capacities


def _demand(case: Case, found: slot_search.CaseSlots, *, keep: int) -> Demand | Unplaced:
    """The case's best few times for the planner, each scored against its best; or why none."""
    slots = _spread(found.slots or found.earliest_after_target, keep=keep)
    if not slots:
        return Unplaced(case.id, case.reference, found.explanation)
    top = max((s.score for s in slots), default=1.0) or 1.0
    return Demand(
        case_id=str(case.id),
        target=found.target_end,
        received_at=case.created_at,
        options=tuple(
            Option(str(case.mediator_id), s.start, s.end, max(s.score, 0.0) / top) for s in slots
        ),
    )


def _proposed(
    best: Plan, demands: Sequence[Demand], references: dict[uuid.UUID, str]
) -> tuple[list[ProposedBooking], list[Unplaced]]:
    """The plan's bookings, soonest first, and the cases it had to leave out."""
    targets = {d.case_id: d.target for d in demands}
    bookings = [
        ProposedBooking(
            case_id=uuid.UUID(case_id),
            reference=references[uuid.UUID(case_id)],
            mediator_id=uuid.UUID(option.mediator_id),
            start=option.start,
            end=option.end,
            within_target=option.end <= targets[case_id],
        )
        for case_id, option in sorted(best.assignments.items(), key=lambda kv: kv[1].start)
    ]
    unbooked = [
        Unplaced(
            uuid.UUID(case_id),
            references[uuid.UUID(case_id)],
            "every time this case can use is needed by cases closer to their target",
        )
        for case_id in best.unbooked
    ]
    return bookings, unbooked


async def propose(
    session: AsyncSession,
    *,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: busy_reader.BusyReader,
    http: aiohttp.ClientSession,
    duration: timedelta,
    case_ids: Sequence[uuid.UUID] | None = None,
    options_per_case: int = 20,
    time_limit_s: float = 10.0,
) -> Proposal:
    """The plan that books the most open cases within target (nothing is booked yet)."""
    cases, unplaced = await caseload(session, case_ids=case_ids)
    demands: list[Demand] = []
    for case in cases:
        found = await slot_search.find_case_slots(
            session,
            case=case,
            duration=duration,
            now=now,
            settings=settings,
            calendar=calendar,
            reader=reader,
            http=http,
            limit=options_per_case * 10,
        )
        demand = _demand(case, found, keep=options_per_case)
        if isinstance(demand, Unplaced):
            unplaced.append(demand)
        else:
            demands.append(demand)
    capacities = await _capacities(
        session, {c.mediator_id for c in cases if c.mediator_id}, since=now
    )
    # CP-SAT is CPU-bound: keep the event loop answering other requests meanwhile.
    best = await asyncio.to_thread(plan, demands, capacities, time_limit_s=time_limit_s)
    baseline = first_come_greedy(demands, capacities)
    bookings, unbooked = _proposed(best, demands, {c.id: c.reference for c in cases})
    return Proposal(
        bookings=bookings,
        unplaced=unplaced + unbooked,
        within_target=best.within_target,
        first_come_within_target=baseline.within_target,
        optimal=best.optimal,
    )


@dataclass(frozen=True)
class Accepted:
    case_id: uuid.UUID
    start: datetime
    duration_minutes: int


async def accept(
    session: AsyncSession,
    *,
    chosen: Sequence[Accepted],
    mode: MeetingMode,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    workdays: WorkingDays,
    actor: str | None,
) -> list[Meeting]:
    """Book every accepted time in the caller's one transaction; any clash books none."""
    if len({c.case_id for c in chosen}) != len(chosen):
        raise ValidationFailed("each case may appear once in a plan")
    meetings = []
    for item in chosen:
        case = await session.get(Case, item.case_id)
        if case is None:
            raise NotFound("case", item.case_id)
        try:
            meeting = await booking.book(
                session,
                case=case,
                start=item.start,
                duration_minutes=item.duration_minutes,
                mode=mode,
                now=now,
                bus=bus,
                settings=settings,
                workdays=workdays,
                actor=actor,
            )
        except Conflict as exc:
            raise Conflict(
                f"case {case.reference} can no longer be booked then; nothing was booked",
                details={"case_id": str(case.id), "reason": exc.details},
            ) from exc
        except RulesBroken as exc:
            raise RulesBroken(
                f"case {case.reference}: {exc.message}; nothing was booked",
                details={"case_id": str(case.id), "reason": exc.details},
            ) from exc
        meetings.append(meeting)
    return meetings
