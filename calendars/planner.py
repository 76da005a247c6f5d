"""The caseload planner: book the most families within their target, not first come first served.

Each open case arrives with its feasible options (a mediator and a time that every rule of
the availability solver already allows). The planner chooses at most one option per case
so that no mediator is in two places at once (buffers included) or over their sessions
per day, maximising, in strict order:

1. the number of cases booked within their target,
2. the number of cases booked at all,
3. how much the people involved prefer the chosen times (the solver's score), earlier first.

It is solved exactly with OR-Tools CP-SAT (a proven optimum on realistic caseloads within
the time limit; otherwise the best plan found is returned and marked as not proven).
``first_come_greedy`` is the baseline a scheduler gets by booking requests in the order
they came in, each at its earliest remaining time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ortools.sat.python.cp_model import CpModel


@dataclass(frozen=True, slots=True)
class Option:
    """One bookable time for a case: which mediator, when, and how much it is liked (0–1)."""

    mediator_id: str
    start: datetime
    end: datetime
    preference: float = 0.0


@dataclass(frozen=True, slots=True)
class Demand:
    """An open case waiting for a meeting."""

    case_id: str
    target: datetime  # the meeting must end by this to count as within target
    received_at: datetime
    options: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class Capacity:
    """A mediator's limits; ``booked_per_day`` counts sessions already booked (local days)."""

    mediator_id: str
    max_sessions_per_day: int = 1
    buffer: timedelta = timedelta(minutes=30)
    timezone: str = "Europe/London"
    booked_per_day: dict[date, int] = field(default_factory=dict)


@dataclass
class Plan:
    assignments: dict[str, Option]
    within_target: int
    booked: int
    optimal: bool
    unbooked: list[str]


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _within(demand: Demand, option: Option) -> bool:
    return option.end <= demand.target


def conflicts(a: Option, b: Option, capacity: Capacity) -> bool:
    """True when one mediator cannot take both (overlap once buffers are added)."""
    if a.mediator_id != b.mediator_id:
        return False
    return a.start < b.end + capacity.buffer and b.start < a.end + capacity.buffer


def is_feasible(
    plan: dict[str, Option], capacities: dict[str, Capacity], demands: Iterable[Demand]
) -> bool:
    """Check a plan against every limit: options offered, no clashes, sessions per day."""
    offered = {d.case_id: set(d.options) for d in demands}
    chosen = list(plan.items())
    for case_id, option in chosen:
        if option not in offered.get(case_id, set()):
            return False
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    for _, option in chosen:
        cap = capacities[option.mediator_id]
        per_day[(option.mediator_id, _local_day(option.start, ZoneInfo(cap.timezone)))] += 1
    for (mediator_id, day), count in per_day.items():
        cap = capacities[mediator_id]
        if count + cap.booked_per_day.get(day, 0) > cap.max_sessions_per_day:
            return False
    options = [o for _, o in chosen]
    for i, a in enumerate(options):
        for b in options[i + 1 :]:
            if conflicts(a, b, capacities[a.mediator_id]):
                return False
    return True


def _summarise(demands: Sequence[Demand], chosen: dict[str, Option], optimal: bool) -> Plan:
    by_id = {d.case_id: d for d in demands}
    within = sum(1 for cid, o in chosen.items() if _within(by_id[cid], o))
    return Plan(
        assignments=chosen,
        within_target=within,
        booked=len(chosen),
        optimal=optimal,
        unbooked=sorted(d.case_id for d in demands if d.case_id not in chosen),
    )


# The planner's decision variables: (case index, option index) -> cp_model.IntVar.
_Choices = dict[tuple[int, int], Any]


def plan(
    demands: Sequence[Demand],
    capacities: Sequence[Capacity],
    *,
    time_limit_s: float = 20.0,
    workers: int = 2,
    seed: int = 0,
) -> Plan:
    """The best plan for the whole caseload (see the module docstring for the order)."""
    # Imported here: OR-Tools takes most of a second to load, and only planning needs it.
    from ortools.sat.python import cp_model

    caps = {c.mediator_id: c for c in capacities}
    model = cp_model.CpModel()
    choice, by_mediator = _choose_at_most_one(model, demands, caps)
    for mediator_id, entries in by_mediator.items():
        _keep_mediator_limits(model, choice, entries, caps[mediator_id])
    model.maximize(_objective(demands, choice))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    chosen: dict[str, Option] = {}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (ci, oi), var in choice.items():
            if solver.value(var):
                chosen[demands[ci].case_id] = demands[ci].options[oi]
    else:  # no solution in time (should not happen: booking nothing is always feasible)
        return first_come_greedy(demands, capacities)
    return _summarise(demands, chosen, optimal=status == cp_model.OPTIMAL)


def _choose_at_most_one(
    model: CpModel, demands: Sequence[Demand], caps: dict[str, Capacity]
) -> tuple[_Choices, dict[str, list[tuple[int, int, Option]]]]:
    """One yes/no variable per option of a known mediator, at most one yes per case.

    Also returns each mediator's options, with the indices of their variables.
    """
    choice: _Choices = {}
    by_mediator: dict[str, list[tuple[int, int, Option]]] = defaultdict(list)
    for ci, demand in enumerate(demands):
        for oi, option in enumerate(demand.options):
            if option.mediator_id not in caps:
                continue
            var = model.new_bool_var(f"c{ci}o{oi}")
            choice[(ci, oi)] = var
            by_mediator[option.mediator_id].append((ci, oi, option))
        model.add_at_most_one(
            choice[(ci, oi)] for oi in range(len(demand.options)) if (ci, oi) in choice
        )
    return choice, by_mediator


def _keep_mediator_limits(
    model: CpModel,
    choice: _Choices,
    entries: list[tuple[int, int, Option]],
    cap: Capacity,
) -> None:
    """No two of one mediator's sessions at once (buffers included), none over a day's limit."""
    zone = ZoneInfo(cap.timezone)
    # Clashes: at every option's start, at most one option may be running (with buffers).
    starts = sorted({o.start for _, _, o in entries})
    for moment in starts:
        running = [
            choice[(ci, oi)]
            for ci, oi, o in entries
            if o.start - cap.buffer <= moment < o.end + cap.buffer
        ]
        if len(running) > 1:
            model.add_at_most_one(running)
    # Sessions per local day, counting what is already booked.
    per_day: dict[date, list[Any]] = defaultdict(list)  # cp_model.IntVar
    for ci, oi, o in entries:
        per_day[_local_day(o.start, zone)].append(choice[(ci, oi)])
    for day, variables in per_day.items():
        room = max(cap.max_sessions_per_day - cap.booked_per_day.get(day, 0), 0)
        if len(variables) > room:
            model.add(sum(variables) <= room)


def _objective(demands: Sequence[Demand], choice: _Choices) -> Any:
    """The sum to maximise, weighted so that within target ≫ booked ≫ preference and earliness."""
    horizon = max((o.start for d in demands for o in d.options), default=datetime(2000, 1, 1))
    earliest = min((o.start for d in demands for o in d.options), default=horizon)
    span = max((horizon - earliest).total_seconds(), 1.0)
    fine_scale = 100
    booked_weight = fine_scale * 2 * (len(demands) + 1)
    within_weight = booked_weight * (len(demands) + 1)
    terms = []
    for (ci, oi), var in choice.items():
        demand = demands[ci]
        option = demand.options[oi]
        earliness = 1.0 - (option.start - earliest).total_seconds() / span
        liked = max(0.0, min(1.0, option.preference))
        fine = round(fine_scale * (0.7 * liked + 0.3 * earliness))
        weight = booked_weight + fine + (within_weight if _within(demand, option) else 0)
        terms.append(weight * var)
    return sum(terms)


def first_come_greedy(demands: Sequence[Demand], capacities: Sequence[Capacity]) -> Plan:
    """Book requests in arrival order, each at its earliest time still free.

    This is what a careful scheduler does by hand: take the next request and give it the
    soonest time everybody can make (which is also its best chance of being in target).
    """
    caps = {c.mediator_id: c for c in capacities}
    taken: dict[str, list[Option]] = defaultdict(list)
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    chosen: dict[str, Option] = {}
    for demand in sorted(demands, key=lambda d: (d.received_at, d.case_id)):
        ranked = sorted(demand.options, key=lambda o: (o.start, -o.preference))
        for option in ranked:
            cap = caps.get(option.mediator_id)
            if cap is None:
                continue
            day = _local_day(option.start, ZoneInfo(cap.timezone))
            used = per_day[(option.mediator_id, day)] + cap.booked_per_day.get(day, 0)
            if used >= cap.max_sessions_per_day:
                continue
            if any(conflicts(option, other, cap) for other in taken[option.mediator_id]):
                continue
            chosen[demand.case_id] = option
            taken[option.mediator_id].append(option)
            per_day[(option.mediator_id, day)] += 1
            break
    return _summarise(demands, chosen, optimal=False)
