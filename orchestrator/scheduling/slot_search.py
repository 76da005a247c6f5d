"""The ranked times for a case, inside its target if possible, and who blocks the target.

The solver itself (``calendars.slots.find_slots``) is pure; this gathers its inputs for one
case (``search_inputs``), reads the calendars as it goes unless they were read beforehand,
and keeps the costly blocker counts on the app's ``BusyReader`` between identical searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import rules as solver_rules
from calendars.intervals import Interval
from calendars.slots import PartyAvailability, Slot, SlotSearch, find_slots
from calendars.workdays import WorkingDays
from orchestrator.core.models import Case, Party
from orchestrator.core.settings import Settings
from orchestrator.scheduling.busy_reader import BusyReader
from orchestrator.scheduling.busy_times import CalendarError, CalendarReading, LiveCalendars
from orchestrator.scheduling.search_inputs import SearchInputs, search_inputs, target_end

# After the target, how far the search looks for the earliest times when nothing fits before it.
SEARCH_AFTER_TARGET = timedelta(days=28)


@dataclass(frozen=True)
class Blocker:
    party_id: uuid.UUID
    role: str
    blocked: int


@dataclass(frozen=True)
class CaseSlots:
    """The ranked times for a case, who blocks the target, and calendars that failed."""

    slots: list[Slot]
    within_target: bool
    target_end: datetime
    blockers: list[Blocker]
    earliest_after_target: list[Slot]
    explanation: str
    calendar_errors: list[CalendarError]


def slots_window(target: datetime, *, now: datetime) -> Interval:
    """Where ``find_case_slots`` looks: from now to four weeks past the target."""
    return Interval(now, max(target, now) + SEARCH_AFTER_TARGET)


async def find_case_slots(
    session: AsyncSession,
    *,
    case: Case,
    duration: timedelta,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: BusyReader,
    http: aiohttp.ClientSession,
    limit: int | None = 10,
    notice_working_days: int | None = None,
    read: CalendarReading | None = None,
) -> CaseSlots:
    """Rank the times everyone required can make, best first, inside the target if possible.

    When nothing fits before the target, say who blocks most and offer the earliest times
    after it (up to four weeks on); ``limit=None`` gives every time found. Calendars are
    read as the search goes unless ``read`` holds them (see ``slots_window``), as a write
    transaction needs.
    """
    target = await target_end(session, case=case, settings=settings, calendar=calendar)
    window = slots_window(target, now=now)
    inputs = await search_inputs(
        session,
        case=case,
        window=window,
        calendar=calendar,
        calendars=read or LiveCalendars(reader, http),
        notice_working_days=notice_working_days,
    )
    search = _CaseSearch(inputs, duration=duration, target=target, now=now, limit=limit)
    result = _search_with_blockers(search, window, reader)
    return CaseSlots(
        slots=result.slots,
        within_target=any(s.within_target for s in result.slots),
        target_end=target,
        blockers=_blockers(result, inputs.parties),
        earliest_after_target=result.earliest_after_target,
        explanation=result.explanation,
        calendar_errors=inputs.calendar_errors,
    )


@dataclass(frozen=True)
class _CaseSearch:
    """One case's call of the solver, over whichever window is asked."""

    inputs: SearchInputs
    duration: timedelta
    target: datetime
    now: datetime
    limit: int | None

    @property
    def people(self) -> list[PartyAvailability]:
        return self.inputs.people

    @property
    def mediator(self) -> solver_rules.MediatorRules:
        return self.inputs.mediator

    @property
    def rules(self) -> solver_rules.SchedulingRules:
        return self.inputs.rules

    @cached_property
    def required(self) -> list[PartyAvailability]:
        return [party for party in self.people if party.required]

    @cached_property
    def pruned_mediator(self) -> solver_rules.MediatorRules:
        """The mediator's view with every required party's firm busy time added to it.

        A time overlapping a required party's firm busy time can never be offered, so the
        mediator's grid may skip it at once; only the blockers (who rules out how many
        times) need the full count, and that is asked for only when nothing fits before
        the target.
        """
        firm = [
            interval
            for party in self.required
            if party.busy is not None
            for interval in party.busy
            if self.rules.tentative_is_busy or not interval.tentative
        ]
        return replace(self.mediator, busy=[*self.mediator.busy, *firm])

    def run(self, window: Interval, *, count_blockers: bool = False) -> SlotSearch:
        return find_slots(
            window=window,
            duration=self.duration,
            # Only required parties block a time; the others change nothing in the count.
            parties=self.required if count_blockers else self.people,
            mediator=self.mediator if count_blockers else self.pruned_mediator,
            rules=self.rules,
            target=self.target,
            now=self.now,
            limit=self.limit,
        )


def _search_with_blockers(search: _CaseSearch, window: Interval, reader: BusyReader) -> SlotSearch:
    """The times before the target; when none fit, who blocks it and the times after it.

    Counting blockers walks every time with every required party, so a count is kept for
    as long as nothing it depends on changes (the same minute, the same inputs). Only
    searches where nothing fitted before the target are counted, so a kept count also
    says there is no need to look before the target again.
    """
    start, target = window.start, search.target
    before_target = Interval(start, max(start, target))
    key = _blocker_key(
        search.required, search.mediator, search.rules, search.duration, target, search.now
    )
    counted = reader.blocker_counts.get(key)
    result = counted or search.run(before_target)
    if any(s.within_target for s in result.slots):
        return result
    # Nothing fits before the target: say who blocks, and offer the four weeks after it.
    if counted is None:
        counted = search.run(before_target, count_blockers=True)
        reader.remember_blockers(key, counted)
    after = search.run(Interval(max(start, target), window.end))
    return replace(counted, slots=after.slots, earliest_after_target=after.earliest_after_target)


def _blockers(result: SlotSearch, parties: Sequence[Party]) -> list[Blocker]:
    """The parties the solver named as blocking the target, with their roles and counts."""
    roles = {str(p.id): p.role.value for p in parties}
    return [
        Blocker(
            party_id=uuid.UUID(pid), role=roles.get(pid, ""), blocked=result.blocked_counts[pid]
        )
        for pid in result.blockers
    ]


def _blocker_key(
    parties: Sequence[PartyAvailability],
    mediator: solver_rules.MediatorRules,
    rules: solver_rules.SchedulingRules,
    duration: timedelta,
    target: datetime,
    now: datetime,
) -> Hashable:
    """Everything a blocker count depends on, with ``now`` to the next whole minute.

    Offered starts fall on whole minutes, so two searches made within the same minute (and
    the same local day, for the notice rule) walk exactly the same times.
    """
    minute = now.replace(second=0, microsecond=0)
    if minute < now:
        minute += timedelta(minutes=1)
    return (
        minute,
        now.astimezone(rules.zone).date(),
        duration,
        target,
        rules.tz,
        rules.grid_minutes,
        rules.min_notice_working_days,
        rules.tentative_is_busy,
        repr(mediator.working_hours),
        mediator.max_sessions_per_day,
        mediator.buffer_minutes,
        tuple(mediator.bookings),
        tuple(mediator.busy),
        tuple(
            (
                p.party_id,
                p.name,
                None if p.busy is None else tuple(p.busy),
                None if p.answers is None else frozenset(p.answers.items()),
                repr(p.rules),
            )
            for p in parties
        ),
    )
