"""Caseload planner vs first-come greedy booking on a generated tight-capacity caseload.

300 open cases, 25 sessional mediators who each work two set days a week, one 3-hour
session a day (morning 09:30 or afternoon 13:00, London time). Cases arrived over the last
three weeks, so their 33-day targets are spread across the coming weeks; each case can use only
the sessions where its family, school and LA officer are all free (a random ~35% of the
sessions of its region's mediators from five working days' notice onwards), and the family
likes some of those more than others.

Prints: cases booked within target by each method, their ratio (target ≥ 1.15), the
number of cases that could each be booked within target on their own, the proven maximum
that can be booked within target together, and the planner's share of it (target ≥ 95%).

    python -m bench.bench_planner [--cases 300] [--mediators 25] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from calendars.planner import Capacity, Demand, Option, first_come_greedy, plan
from calendars.workdays import WorkingDays

LONDON = ZoneInfo("Europe/London")


def generate_caseload(
    n_cases: int = 300, n_mediators: int = 25, seed: int = 7, today: date = date(2026, 3, 2)
) -> tuple[list[Demand], list[Capacity]]:
    rng = random.Random(seed)
    workdays = WorkingDays()
    regions = 5
    mediators = []
    for m in range(n_mediators):
        days = sorted(rng.sample(range(5), 2))  # two set weekdays
        mediators.append((f"m{m:02d}", m % regions, days))
    capacities = [Capacity(mid, max_sessions_per_day=1) for mid, _, _ in mediators]

    horizon = [today + timedelta(days=i) for i in range(0, 50)]
    sessions: dict[str, list[Option]] = {}
    for mid, _, days in mediators:
        own = []
        for day in horizon:
            if day.weekday() not in days or not workdays.is_working_day(day):
                continue
            for hour, minute in ((9, 30), (13, 0)):
                start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
                own.append(
                    Option(mid, start.astimezone(UTC), (start + timedelta(hours=3)).astimezone(UTC))
                )
        sessions[mid] = own

    demands = []
    for c in range(n_cases):
        received = today - timedelta(days=rng.randint(0, 21))
        target_day = received + timedelta(days=33)
        target = datetime(target_day.year, target_day.month, target_day.day, 23, 59, tzinfo=LONDON)
        earliest = workdays.add_working_days(today, 5)
        region = rng.randrange(regions)
        pool = [mid for mid, r, _ in mediators if r == region]
        options = []
        for mid in pool:
            for option in sessions[mid]:
                if option.start.date() < earliest:
                    continue
                if rng.random() < 0.35:
                    options.append(
                        Option(option.mediator_id, option.start, option.end, round(rng.random(), 3))
                    )
        demands.append(
            Demand(
                case_id=f"case-{c:03d}",
                target=target.astimezone(UTC),
                received_at=datetime(received.year, received.month, received.day, 12, tzinfo=UTC)
                + timedelta(minutes=c),
                options=tuple(options),
            )
        )
    return demands, capacities


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--mediators", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args()

    demands, capacities = generate_caseload(args.cases, args.mediators, args.seed)
    started = time.perf_counter()
    greedy = first_come_greedy(demands, capacities)
    greedy_s = time.perf_counter() - started

    individually = sum(1 for d in demands if any(o.end <= d.target for o in d.options))
    # The most cases that can be booked within target together: the same model with only
    # in-target options (its optimum is exactly that maximum when proven optimal).
    in_target_only = [
        Demand(d.case_id, d.target, d.received_at, tuple(o for o in d.options if o.end <= d.target))
        for d in demands
    ]
    bound = plan(in_target_only, capacities, time_limit_s=args.time_limit)

    started = time.perf_counter()
    best = plan(demands, capacities, time_limit_s=args.time_limit)
    plan_s = time.perf_counter() - started

    ratio = best.within_target / max(greedy.within_target, 1)
    share = best.within_target / max(bound.within_target, 1)
    print(f"caseload: {len(demands)} cases, {len(capacities)} mediators, seed {args.seed}")
    print(
        f"first-come greedy: {greedy.within_target} within target, {greedy.booked} booked ({greedy_s * 1000:.0f} ms)"
    )
    print(
        f"planner (CP-SAT):  {best.within_target} within target, {best.booked} booked ({plan_s:.1f} s, optimal={best.optimal})"
    )
    print(f"cases bookable within target on their own: {individually}")
    print(f"most bookable within target together: {bound.within_target} (proven={bound.optimal})")
    print(f"ratio planner / greedy (within target): {ratio:.3f}   [target >= 1.15]")
    print(f"planner share of the bookable maximum: {share:.1%}   [target >= 95%]")


if __name__ == "__main__":
    main()
