"""The caseload planner books more families within target than first come, first served."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.planner import Capacity, Demand, Option, first_come_greedy, is_feasible, plan

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def session(day: int, afternoon: bool = False, mediator: str = "m1", pref: float = 0.5) -> Option:
    start = MONDAY + timedelta(days=day, hours=3.5 if afternoon else 0)
    return Option(mediator, start, start + timedelta(hours=3), pref)


def demand(case_id: str, received_day: int, target_day: int, *options: Option) -> Demand:
    return Demand(
        case_id=case_id,
        target=MONDAY + timedelta(days=target_day, hours=12),
        received_at=MONDAY - timedelta(days=30 - received_day),
        options=tuple(options),
    )


def test_planner_yields_a_slot_that_only_one_family_can_use() -> None:
    # The Ahmeds asked first and like Monday best but could do Tuesday; the Browns can only
    # do Monday. First come, first served books the Ahmeds on Monday and leaves the Browns.
    ahmed = demand("ahmed", 0, 10, session(0, pref=0.9), session(1, pref=0.4))
    brown = demand("brown", 1, 10, session(0, pref=0.8))
    caps = [Capacity("m1", max_sessions_per_day=1)]
    greedy = first_come_greedy([ahmed, brown], caps)
    assert greedy.within_target == 1 and greedy.unbooked == ["brown"]
    best = plan([ahmed, brown], caps)
    assert best.within_target == 2 and best.optimal
    assert best.assignments["brown"] == session(0, pref=0.8)
    assert best.assignments["ahmed"] == session(1, pref=0.4)


def test_within_target_beats_booking_someone_late() -> None:
    # One Wednesday slot inside Carys's target, Dan's target has passed by then anyway.
    carys = demand("carys", 0, 3, session(2))
    dan = demand("dan", 0, 1, session(2, pref=1.0))
    result = plan([carys, dan], [Capacity("m1")])
    assert result.assignments == {"carys": session(2)}
    assert result.within_target == 1


def test_buffers_and_sessions_per_day_are_respected() -> None:
    morning = session(0)
    afternoon = session(0, afternoon=True)  # 13:00, half an hour after the morning ends
    a = demand("a", 0, 5, morning)
    b = demand("b", 0, 5, afternoon)
    one_a_day = plan([a, b], [Capacity("m1", max_sessions_per_day=1)])
    assert one_a_day.booked == 1
    two_a_day = plan([a, b], [Capacity("m1", max_sessions_per_day=2, buffer=timedelta(minutes=30))])
    assert two_a_day.booked == 2
    long_buffer = plan([a, b], [Capacity("m1", max_sessions_per_day=2, buffer=timedelta(hours=1))])
    assert long_buffer.booked == 1
    already_busy = Capacity("m1", max_sessions_per_day=2, booked_per_day={morning.start.date(): 2})
    assert plan([a, b], [already_busy]).booked == 0


def brute_force_within_target(demands: list[Demand], caps: list[Capacity]) -> int:
    by_id = {c.mediator_id: c for c in caps}
    best = 0
    choices = [[None, *d.options] for d in demands]
    for combo in itertools.product(*choices):
        chosen = {d.case_id: o for d, o in zip(demands, combo, strict=True) if o is not None}
        if is_feasible(chosen, by_id, demands):
            within = sum(1 for d, o in zip(demands, combo, strict=True) if o and o.end <= d.target)
            best = max(best, within)
    return best


option_strategy = st.builds(
    session,
    day=st.integers(0, 3),
    afternoon=st.booleans(),
    mediator=st.sampled_from(["m1", "m2"]),
    pref=st.floats(0, 1),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 4),
            st.lists(option_strategy, min_size=1, max_size=3, unique=True),
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 2),
)
def test_planner_is_feasible_optimal_and_never_worse_than_greedy(
    cases: list[tuple[int, int, list[Option]]], per_day: int
) -> None:
    demands = [demand(f"c{i}", r, t, *opts) for i, (r, t, opts) in enumerate(cases)]
    caps = [Capacity("m1", max_sessions_per_day=per_day), Capacity("m2", max_sessions_per_day=1)]
    result = plan(demands, caps, time_limit_s=5)
    by_id = {c.mediator_id: c for c in caps}
    assert is_feasible(result.assignments, by_id, demands)
    assert result.optimal
    assert result.within_target == brute_force_within_target(demands, caps)
    assert result.within_target >= first_come_greedy(demands, caps).within_target
