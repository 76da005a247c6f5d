"""The availability solver: rank meeting times everyone required can make, before the target.

Candidates are a local-time grid on the mediator's working days and hours (bank holidays,
capacity, buffers, bookings and notice applied); each required party must not be busy or have
said "no". Busy time is merged once per party and looked up by bisection, so the cost is
O(E log E + C * P * log E) for E busy intervals, C candidates and P parties.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from calendars.allowed import day_breaks, working_span
from calendars.intervals import Interval
from calendars.rules import MediatorRules, PartyRules, SchedulingRules

Answer = Literal["yes", "if_need_be", "no"]
PartyStatus = Literal["free", "yes", "if_need_be", "no", "busy", "unknown"]

AVAILABLE: frozenset[str] = frozenset({"free", "yes"})
BLOCKING: frozenset[str] = frozenset({"busy", "no"})

# Score weights: each term outweighs every term after it at its cap, so ordering by score is
# the documented lexicographic order (see ``_score``).
_BASE = 1_000_000.0
# A time people answered comes before one nobody was asked about, whatever they answered.
_W_UNKNOWN, _W_IF_NEED_BE, _W_WITHIN_TARGET = 100_000.0, 10_000.0, 5_000.0
_W_DAY, _W_PREFERENCE, _W_OPTIONAL = 40.0, 3.0, 0.2
_CAP_COUNT, _CAP_DAY, _CAP_PREFERENCE, _CAP_OPTIONAL = 9, 99, 13, 14


@dataclass(frozen=True)
class PartyAvailability:
    """What the solver knows about one party: calendar busy time, poll answers and rules.

    ``busy`` is None when the party has no calendar; ``answers`` maps a polled start (aware
    datetime) to the party's answer and applies to that exact start only. ``name`` is how
    explanations name the party (never by id).
    """

    party_id: str
    required: bool = True
    busy: Sequence[Interval] | None = None
    answers: Mapping[datetime, Answer] | None = None
    rules: PartyRules = field(default_factory=PartyRules)
    calendar_error: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Slot:
    """One meeting time offered, with every party's status and why it ranks where it does."""

    start: datetime
    end: datetime
    score: float
    within_target: bool
    parties: Mapping[str, PartyStatus]
    explanation: str


@dataclass(frozen=True)
class SlotSearch:
    """The ranked slots, and when nothing fits before the target, who blocks and what comes next."""

    slots: list[Slot]
    blockers: list[str] = field(default_factory=list)
    blocked_counts: dict[str, int] = field(default_factory=dict)
    earliest_after_target: list[Slot] = field(default_factory=list)
    explanation: str = ""


class _BusyIndex:
    """Disjoint, sorted busy spans in POSIX seconds, answering overlap queries by bisection."""

    __slots__ = ("ends", "starts")

    def __init__(self, spans: Iterable[tuple[float, float]]) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        for start, end in sorted(spans):
            if end <= start:
                continue
            if self.ends and start <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], end)
            else:
                self.starts.append(start)
                self.ends.append(end)

    @classmethod
    def of(cls, intervals: Iterable[Interval], pad_seconds: float = 0.0) -> _BusyIndex:
        """Index intervals, each widened by ``pad_seconds`` on both sides."""
        return cls(
            (i.start.timestamp() - pad_seconds, i.end.timestamp() + pad_seconds) for i in intervals
        )

    def overlaps(self, start: float, end: float) -> bool:
        """Say whether [start, end) meets any busy span."""
        first_ending_after = bisect_right(self.ends, start)
        return first_ending_after < len(self.starts) and self.starts[first_ending_after] < end


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: datetime
    end: datetime
    start_ts: float
    end_ts: float
    local_start: datetime
    local_end: datetime


class _PartyView:
    """A party's busy time indexed once, answering a status per candidate."""

    def __init__(self, party: PartyAvailability, tentative_is_busy: bool) -> None:
        self.party = party
        self.hard: _BusyIndex | None = None
        self.soft: _BusyIndex | None = None
        if party.busy is not None:
            self.hard = _BusyIndex.of(i for i in party.busy if tentative_is_busy or not i.tentative)
            if not tentative_is_busy:
                self.soft = _BusyIndex.of(i for i in party.busy if i.tentative)
        self.answers: Mapping[datetime, Answer] = party.answers or {}

    def status(self, candidate: _Candidate) -> PartyStatus:
        """Say what the party makes of a candidate; calendar busy outranks a poll answer."""
        if not self.party.rules.allows(candidate.local_start, candidate.local_end):
            return "busy"
        if self.hard is not None and self.hard.overlaps(candidate.start_ts, candidate.end_ts):
            return "busy"
        answer = self.answers.get(candidate.start)
        if answer is not None:
            return answer
        if self.soft is not None and self.soft.overlaps(candidate.start_ts, candidate.end_ts):
            return "if_need_be"
        return "free" if self.hard is not None else "unknown"


def _local_starts(
    day: date,
    hours: tuple[time, time],
    duration: timedelta,
    step: timedelta,
    fixed_starts: Sequence[time] | None,
    zone: tzinfo,
) -> list[datetime]:
    """List local starts on ``day`` from the start of hours, or the fixed times within hours."""
    if fixed_starts is not None:
        return [
            datetime.combine(day, t, tzinfo=zone) for t in sorted(fixed_starts) if t >= hours[0]
        ]
    day_end = datetime.combine(day, hours[1], tzinfo=zone)
    # Wall-clock steps: an aware datetime plus a timedelta keeps local time, so 10:00 stays
    # 10:00 local across a DST change; the real end is checked in UTC by the caller.
    starts = []
    local = datetime.combine(day, hours[0], tzinfo=zone)
    while local + duration <= day_end:
        starts.append(local)
        local += step
    return starts


def _mediator_grid(
    window: Interval,
    duration: timedelta,
    rules: SchedulingRules,
    mediator: MediatorRules,
    now: datetime,
    step_minutes: int,
    fixed_starts: Sequence[time] | None,
) -> Iterator[_Candidate]:
    """Yield the candidates the calendar and the mediator allow, earliest first."""
    zone = rules.zone
    booked = _BusyIndex.of(mediator.bookings, pad_seconds=mediator.buffer_minutes * 60)
    mediator_busy = _BusyIndex.of(
        i for i in mediator.busy if rules.tentative_is_busy or not i.tentative
    )
    sessions_on = Counter(b.start.astimezone(zone).date() for b in mediator.bookings)
    today = now.astimezone(zone).date()
    earliest = max(window.start, now)
    step = timedelta(minutes=step_minutes)
    day = earliest.astimezone(zone).date()
    while day <= window.end.astimezone(zone).date():
        hours = mediator.working_hours.hours_on(day.weekday())
        usable = (
            hours is not None
            and sessions_on[day] < mediator.max_sessions_per_day
            and not day_breaks(day, rules=rules, hours=mediator.working_hours, today=today)
        )
        if hours is not None and usable:
            day_end = working_span(day, hours, zone)[1]
            for local_start in _local_starts(day, hours, duration, step, fixed_starts, zone):
                start = local_start.astimezone(UTC)
                end = start + duration
                if end > day_end or start < earliest or end > window.end:
                    continue
                start_ts, end_ts = start.timestamp(), end.timestamp()
                if booked.overlaps(start_ts, end_ts) or mediator_busy.overlaps(start_ts, end_ts):
                    continue
                yield _Candidate(start, end, start_ts, end_ts, local_start, end.astimezone(zone))
        day += timedelta(days=1)


def candidate_starts(
    window: Interval,
    duration: timedelta,
    rules: SchedulingRules,
    mediator: MediatorRules,
    now: datetime,
    *,
    step_minutes: int | None = None,
    fixed_starts: Sequence[time] | None = None,
) -> list[datetime]:
    """List UTC starts the mediator and the calendar allow, e.g. to offer in a poll.

    The grid is ``rules.grid_minutes`` from the start of working hours unless ``step_minutes``
    (e.g. 60 for polls) or ``fixed_starts`` (local times such as 09:30 and 13:00) say otherwise.
    """
    step = step_minutes if step_minutes is not None else rules.grid_minutes
    if step <= 0:
        raise ValueError("step_minutes must be positive")
    grid = _mediator_grid(window, duration, rules, mediator, now, step, fixed_starts)
    return [candidate.start for candidate in grid]


def _name(party: PartyAvailability) -> str:
    """How an explanation names a party: by name, never by id."""
    return party.name or "a party"


def _score(
    candidate: _Candidate,
    statuses: Mapping[str, PartyStatus],
    views: Sequence[_PartyView],
    within_target: bool,
    first_day: date,
) -> tuple[float, str]:
    """Score a feasible candidate and say why.

    Order, most important first: fewer required parties not asked (unknown); fewer "if need
    be" from required parties; inside the target; earlier day; more parties' preferred times
    met; more optional parties available. Within a day, preferences come before the exact
    time; equal scores go earliest.
    """
    required = [v.party for v in views if v.party.required]
    optional = [v.party for v in views if not v.party.required]
    if_need_be = [p for p in required if statuses[p.party_id] == "if_need_be"]
    unknown = [p for p in required if statuses[p.party_id] == "unknown"]
    preferred = [
        _name(v.party)
        for v in views
        if v.party.rules.preferred_windows
        and statuses[v.party.party_id] not in BLOCKING
        and v.party.rules.prefers(candidate.local_start, candidate.local_end)
    ]
    optional_available = [p.party_id for p in optional if statuses[p.party_id] in AVAILABLE]
    day_index = max(0, (candidate.local_start.date() - first_day).days)
    score = (
        _BASE
        - _W_UNKNOWN * min(len(unknown), _CAP_COUNT)
        - _W_IF_NEED_BE * min(len(if_need_be), _CAP_COUNT)
        + _W_WITHIN_TARGET * within_target
        - _W_DAY * min(day_index, _CAP_DAY)
        + _W_PREFERENCE * min(len(preferred), _CAP_PREFERENCE)
        + _W_OPTIONAL * min(len(optional_available), _CAP_OPTIONAL)
    )
    reasons = []
    if not if_need_be and not unknown:
        reasons.append("all required parties free or yes")
    reasons.extend(f"{_name(p)}: if need be" for p in if_need_be)
    reasons.extend(
        f"{_name(p)}: no answer yet" + (" (calendar unavailable)" if p.calendar_error else "")
        for p in unknown
    )
    reasons.append("within target" if within_target else "after target")
    if preferred:
        reasons.append("preferred by " + ", ".join(preferred))
    unavailable_optional = [_name(p) for p in optional if statuses[p.party_id] in BLOCKING]
    if unavailable_optional:
        reasons.append("optional unavailable: " + ", ".join(unavailable_optional))
    return round(score, 3), "; ".join(reasons)


def _statuses_at(
    candidate: _Candidate, views: Sequence[_PartyView]
) -> tuple[dict[str, PartyStatus], list[str]]:
    """Each party's status at a candidate, and the required parties who block it."""
    statuses: dict[str, PartyStatus] = {}
    blocking: list[str] = []
    for view in views:
        status = view.status(candidate)
        statuses[view.party.party_id] = status
        if view.party.required and status in BLOCKING:
            blocking.append(view.party.party_id)
    return statuses, blocking


@dataclass
class _BlockTally:
    """The candidate times before the target, and how often each required party blocks one."""

    candidates: int = 0
    sole_blocks: Counter[str] = field(default_factory=Counter)
    all_blocks: Counter[str] = field(default_factory=Counter)

    def count(self, blocking: list[str]) -> None:
        """Count one candidate before the target and the parties who block it."""
        self.candidates += 1
        if blocking:
            self.all_blocks.update(blocking)
            if len(blocking) == 1:
                self.sole_blocks[blocking[0]] += 1

    def blockers(self) -> list[str]:
        """Those who alone block the most times first, then those who block the most."""
        return sorted(self.all_blocks, key=lambda p: (-self.sole_blocks[p], -self.all_blocks[p], p))


def find_slots(
    *,
    window: Interval,
    duration: timedelta,
    parties: Sequence[PartyAvailability],
    mediator: MediatorRules,
    rules: SchedulingRules,
    target: datetime,
    now: datetime,
    limit: int | None = 10,
    fixed_starts: Sequence[time] | None = None,
) -> SlotSearch:
    """Rank the meeting times every required party can make, best first.

    A slot is within target when it ends at or before ``target``. When no slot fits before the
    target, ``blockers`` lists the required parties blocking most candidate times before it
    (first those that alone block a time, then all they block) and ``earliest_after_target``
    offers the first times after it. ``limit=None`` returns every feasible slot;
    ``fixed_starts`` (local times, as a poll offers) replace the grid.
    """
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    views = [_PartyView(p, rules.tentative_is_busy) for p in parties]
    grid = _mediator_grid(window, duration, rules, mediator, now, rules.grid_minutes, fixed_starts)
    first_day = now.astimezone(rules.zone).date()
    feasible: list[Slot] = []
    before_target = _BlockTally()
    for candidate in grid:
        statuses, blocking = _statuses_at(candidate, views)
        within_target = candidate.end <= target
        if within_target:
            before_target.count(blocking)
        if blocking:
            continue
        score, explanation = _score(candidate, statuses, views, within_target, first_day)
        feasible.append(
            Slot(candidate.start, candidate.end, score, within_target, statuses, explanation)
        )
    feasible.sort(key=lambda s: (-s.score, s.start))
    best = feasible if limit is None else feasible[:limit]
    if any(s.within_target for s in feasible):
        return SlotSearch(slots=best, explanation=f"{len(feasible)} feasible times found")
    blockers = before_target.blockers()
    after = sorted(feasible, key=lambda s: s.start)
    return SlotSearch(
        slots=best,
        blockers=blockers,
        blocked_counts={p: before_target.all_blocks[p] for p in blockers},
        earliest_after_target=after if limit is None else after[:limit],
        explanation=_nothing_fits(
            before_target.candidates,
            blockers,
            before_target.all_blocks,
            {p.party_id: _name(p) for p in parties},
        ),
    )


def _nothing_fits(
    candidates: int, blockers: list[str], blocked: Counter[str], names: Mapping[str, str]
) -> str:
    if candidates == 0:
        return "no time before the target meets the mediator's hours, working days and notice"
    most = ", ".join(
        f"{names.get(p, 'a party')} blocks {blocked[p]} of {candidates}" for p in blockers[:3]
    )
    return f"nothing fits before the target; {most}"
