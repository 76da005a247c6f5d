"""What the slot search is given for a case: rules, bookings, answers and busy time.

Stored settings (a mediator's hours and capacity, a party's limits, the case's zone and
notice) become the pure solver's rules here, beside the queries for the mediator's
meetings, the parties' poll answers and the case's target day. The slot search and a
poll's candidates both start from ``search_inputs``, so a poll never offers a time the
slot search would not.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import rules as solver_rules
from calendars.intervals import Interval
from calendars.slots import Answer, PartyAvailability
from calendars.workdays import WorkingDays
from orchestrator.cases import deadlines, service_record
from orchestrator.core.models import (
    FAMILY_ROLES,
    Case,
    CaseKind,
    Mediator,
    Meeting,
    MeetingStatus,
    Party,
    PollAnswer,
)
from orchestrator.core.settings import Settings
from orchestrator.scheduling.busy_times import CalendarError, Calendars

GRID_MINUTES = 15
NOTICE_WORKING_DAYS = 5


def _clock_time(value: Any) -> time | None:
    if not value:
        return None
    hours, minutes = str(value).split(":")[:2]
    return time(int(hours), int(minutes))


def working_hours(raw: Mapping[str, Any] | None) -> solver_rules.WorkingHours:
    """A mediator's stored hours (ISO weekday 1-7 -> [start, end]) as the solver's rules."""
    if not raw:
        return solver_rules.WorkingHours()
    by_weekday: dict[int, tuple[time, time]] = {}
    for day, span in raw.items():
        start, end = _clock_time(span[0]), _clock_time(span[1])
        if start is not None and end is not None and 1 <= int(day) <= 7:
            by_weekday[int(day) - 1] = (start, end)
    return solver_rules.WorkingHours(by_weekday)


def party_rules(raw: Mapping[str, Any] | None) -> solver_rules.PartyRules:
    """A party's stored limits as the solver's rules; weekdays are ISO (1 = Monday)."""
    if not raw:
        return solver_rules.PartyRules()
    term_dates = raw.get("term_dates")
    return solver_rules.PartyRules(
        not_before=_clock_time(raw.get("not_before")),
        not_after=_clock_time(raw.get("not_after")),
        excluded_weekdays=frozenset(
            int(d) - 1 for d in raw.get("excluded_weekdays") or [] if 1 <= int(d) <= 7
        ),
        school_day=bool(raw.get("school_day_only")),
        term_dates=(
            [(date.fromisoformat(str(a)), date.fromisoformat(str(b))) for a, b in term_dates]
            if term_dates is not None
            else None
        ),
    )


def notice_for(case: Case) -> int:
    """The working days' notice of the date the family is owed: none for an information call,
    which they book themselves for a day and time that suits them."""
    return 0 if case.kind is CaseKind.mias else NOTICE_WORKING_DAYS


def taking_part(case: Case, parties: Sequence[Party]) -> list[Party]:
    """Who a meeting of the case is with: an information call is the adviser and the family."""
    if case.kind is CaseKind.mias:
        return [party for party in parties if party.role in FAMILY_ROLES]
    return list(parties)


def scheduling_rules(
    timezone: str, calendar: WorkingDays, *, notice_working_days: int | None = None
) -> solver_rules.SchedulingRules:
    """The case's zone, the 15-minute grid, the family's notice and the working-day calendar."""
    return solver_rules.SchedulingRules(
        tz=timezone,
        grid_minutes=GRID_MINUTES,
        min_notice_working_days=(
            NOTICE_WORKING_DAYS if notice_working_days is None else notice_working_days
        ),
        working_days=calendar,
        # A tentative entry in someone's calendar is "if need be", not a hard no.
        tentative_is_busy=False,
    )


def mediator_rules(
    mediator: Mediator | None,
    *,
    bookings: Sequence[Interval] = (),
    busy: Sequence[Interval] = (),
) -> solver_rules.MediatorRules:
    """The mediator's hours, capacity, buffers, existing sessions and calendar busy time."""
    if mediator is None:
        return solver_rules.MediatorRules(bookings=bookings, busy=busy)
    return solver_rules.MediatorRules(
        working_hours=working_hours(mediator.working_hours),
        max_sessions_per_day=mediator.max_sessions_per_day,
        buffer_minutes=mediator.buffer_minutes,
        bookings=bookings,
        busy=busy,
    )


def _live_meetings_of(
    mediator_id: Any, window: Interval, exclude_case_id: uuid.UUID | None
) -> list[Any]:
    """Conditions for the mediator's live meetings around ``window`` (a day either side)."""
    conditions = [
        col(Meeting.mediator_id) == mediator_id,
        col(Meeting.status) != MeetingStatus.cancelled,
        col(Meeting.end_at) > window.start - timedelta(days=1),
        col(Meeting.start_at) < window.end + timedelta(days=1),
    ]
    if exclude_case_id is not None:
        conditions.append(col(Meeting.case_id) != exclude_case_id)
    return conditions


async def mediator_and_bookings(
    session: AsyncSession,
    *,
    mediator_id: uuid.UUID | None,
    window: Interval,
    exclude_case_id: uuid.UUID | None = None,
) -> tuple[Mediator | None, list[Interval]]:
    """The mediator and their live meetings around ``window``, in one query."""
    if mediator_id is None:
        return None, []
    query = (
        select(Mediator, Meeting.start_at, Meeting.end_at)
        .outerjoin(Meeting, and_(*_live_meetings_of(col(Mediator.id), window, exclude_case_id)))
        .where(col(Mediator.id) == mediator_id)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return None, []
    bookings = sorted(Interval(start, end) for _, start, end in rows if start is not None)
    return rows[0][0], bookings


async def target_end(
    session: AsyncSession, *, case: Case, settings: Settings, calendar: WorkingDays
) -> datetime:
    """The end of the case's target day, in its own zone, as a UTC instant."""
    service = None if case.target_days else await service_record.default_service(session)
    days = deadlines.effective_target_days(case, service, settings.target_days)
    # The target day does not depend on any certificate.
    target = deadlines.deadlines_for(
        case, target_days=days, calendar=calendar, certificate_issued_on=None
    ).target
    zone = ZoneInfo(case.timezone)
    return datetime.combine(target + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


async def parties_and_answers(
    session: AsyncSession, *, case_id: uuid.UUID
) -> tuple[list[Party], dict[uuid.UUID, dict[datetime, Answer]]]:
    """The case's current parties and each one's newest answer per polled start, in one query."""
    query = (
        select(Party, PollAnswer)
        .outerjoin(PollAnswer, col(PollAnswer.party_id) == col(Party.id))
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at), col(Party.id), col(PollAnswer.updated_at))
    )
    parties: dict[uuid.UUID, Party] = {}
    answers: dict[uuid.UUID, dict[datetime, Answer]] = defaultdict(dict)
    for party, answer in (await session.execute(query)).all():
        parties.setdefault(party.id, party)
        if answer is not None:
            answers[party.id][answer.candidate_start] = answer.answer.value
    return list(parties.values()), answers


def party_availability(
    party: Party,
    *,
    busy: Sequence[Interval] | None = None,
    answers: Mapping[datetime, Answer] | None = None,
    calendar_error: str | None = None,
) -> PartyAvailability:
    """One party as the solver and the booking rules see them, named as staff know them."""
    return PartyAvailability(
        party_id=str(party.id),
        required=party.required,
        busy=busy,
        answers=answers,
        rules=party_rules(party.rules),
        calendar_error=calendar_error,
        name=party.name,
    )


@dataclass(frozen=True)
class SearchInputs:
    """What the solver needs for one case over one window, and the calendars that failed."""

    parties: list[Party]
    people: list[PartyAvailability]
    mediator: solver_rules.MediatorRules
    rules: solver_rules.SchedulingRules
    calendar_errors: list[CalendarError]


async def search_inputs(
    session: AsyncSession,
    *,
    case: Case,
    window: Interval,
    calendar: WorkingDays,
    calendars: Calendars,
    notice_working_days: int | None = None,
) -> SearchInputs:
    """Everyone's rules, answers and calendar busy time, the mediator's too, over ``window``.

    The slot search and the poll's candidates both start from this, so a poll never offers
    a time the slot search would not.
    """
    parties, answers = await parties_and_answers(session, case_id=case.id)
    parties = taking_part(case, parties)
    mediator, bookings = await mediator_and_bookings(
        session, mediator_id=case.mediator_id, window=window, exclude_case_id=case.id
    )
    busy = await calendars.busy(
        parties=parties, mediator=mediator, window=window, default_tz=case.timezone
    )
    people = [
        party_availability(
            party,
            busy=busy.parties.get(party.id),
            answers=answers.get(party.id),
            calendar_error=busy.error_for(party.id),
        )
        for party in parties
    ]
    return SearchInputs(
        parties=parties,
        people=people,
        mediator=mediator_rules(mediator, bookings=bookings, busy=busy.mediator),
        rules=scheduling_rules(
            case.timezone,
            calendar,
            notice_working_days=notice_for(case)
            if notice_working_days is None
            else notice_working_days,
        ),
        calendar_errors=busy.errors,
    )
