"""Time the slot solver on seven calendars over a 33-day window, a dense case and an ordinary one.

Run: ``.venv/bin/python -m bench.bench_solver [--runs N] [--quick]``. Two cases:

- dense: 7 calendars x 2,000 short busy blocks, which leave no free 3-hour slot (the
  solver searches everything and finds nothing);
- ordinary: 7 parties with a few meetings a working day, which leave at least
  ``ORDINARY_MIN_SLOTS`` feasible 3-hour slots (checked: the benchmark stops if not).

For each, prints the solver's best-of-N time and, as a same-run baseline, the time
icalendar takes to parse the same busy time written as ICS (target: solver <= 0.10 x parse).
"""

from __future__ import annotations

import argparse
import random
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import icalendar

from calendars.intervals import Interval
from calendars.rules import MediatorRules, SchedulingRules
from calendars.slots import PartyAvailability, candidate_starts, find_slots

CALENDARS = 7
EVENTS_PER_CALENDAR = 2_000
ORDINARY_MIN_SLOTS = 20
TARGET = 0.10
WINDOW_DAYS = 33
MEETING = timedelta(hours=3)
NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
WINDOW = Interval(NOW, NOW + timedelta(days=WINDOW_DAYS))


def busy_calendar(rng: random.Random) -> list[Interval]:
    """Draw short busy blocks scattered over the window, mostly in the working day."""
    out = []
    for _ in range(EVENTS_PER_CALENDAR):
        day = NOW + timedelta(days=rng.randrange(WINDOW_DAYS))
        start = day.replace(hour=7) + timedelta(minutes=15 * rng.randrange(48))
        out.append(Interval(start, start + timedelta(minutes=rng.choice((5, 10, 15, 30)))))
    return out


def ordinary_calendar(rng: random.Random) -> list[Interval]:
    """Draw up to three meetings of one or two hours a working day, between 08:00 and 17:00."""
    out = []
    for offset in range(WINDOW_DAYS):
        day = NOW + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for _ in range(rng.randrange(4)):
            start = day.replace(hour=8) + timedelta(minutes=30 * rng.randrange(18))
            out.append(Interval(start, start + timedelta(hours=rng.choice((1, 1, 2)))))
    return out


def to_ics(busy: list[Interval]) -> bytes:
    """Write busy time as an ICS calendar, the way a party's feed would arrive."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//bench//EN")
    cal.add("version", "2.0")
    for n, item in enumerate(busy):
        event = icalendar.Event()
        event.add("uid", f"{n}@bench")
        event.add("dtstamp", NOW)
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        event.add("summary", "Busy")
        cal.add_component(event)
    ics: bytes = cal.to_ical()  # icalendar leaves to_ical unannotated
    return ics


def parse_ics(feeds: list[bytes]) -> list[list[Interval]]:
    """Parse feeds to intervals with icalendar (baseline)."""
    out = []
    for feed in feeds:
        cal = icalendar.Calendar.from_ical(feed)
        out.append([Interval(e.decoded("dtstart"), e.decoded("dtend")) for e in cal.walk("VEVENT")])
    return out


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Return the fastest of ``runs`` timings of ``func`` in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = clock.perf_counter()
        func()
        best = min(best, clock.perf_counter() - started)
    return best


def measure(name: str, calendars: list[list[Interval]], runs: int) -> int:
    """Time the solver on ``calendars`` against parsing them as ICS; return the slots found."""
    parties = [
        PartyAvailability(party_id=f"party-{n}", required=n < 5, busy=busy)
        for n, busy in enumerate(calendars)
    ]
    rules = SchedulingRules(grid_minutes=15, min_notice_working_days=0)
    mediator = MediatorRules()
    target = NOW + timedelta(days=WINDOW_DAYS)

    def solve() -> None:
        find_slots(
            window=WINDOW, duration=MEETING, parties=parties, mediator=mediator,
            rules=rules, target=target, now=NOW, limit=10,
        )  # fmt: skip

    solve()  # warm the bank-holiday cache as a long-running service would
    feeds = [to_ics(busy) for busy in calendars]
    solver_s = best_of(runs, solve)
    parse_s = best_of(max(1, runs // 2), lambda: parse_ics(feeds))
    result = find_slots(
        window=WINDOW, duration=MEETING, parties=parties, mediator=mediator,
        rules=rules, target=target, now=NOW, limit=None,
    )  # fmt: skip
    grid = candidate_starts(WINDOW, MEETING, rules, mediator, NOW)
    events = sum(map(len, calendars))
    days = len({slot.start.date() for slot in result.slots})
    print(f"{name} case")
    print(f"  calendars, busy events     : {len(calendars)}, {events}")
    print(f"  candidate starts x parties : {len(grid)} x {len(parties)}")
    print(f"  feasible slots found       : {len(result.slots)} on {days} days", end="")
    print(f" (blockers: {result.blockers[:3]})" if not result.slots else "")
    print(f"  solver best of {runs:<3}        : {solver_s * 1000:8.2f} ms")
    print(f"  icalendar parse (baseline) : {parse_s * 1000:8.2f} ms")
    print(f"  solver / parse             : {solver_s / parse_s:8.4f}  (target <= {TARGET})")
    return len(result.slots)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for CI")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    rng = random.Random(20250901)
    measure("dense", [busy_calendar(rng) for _ in range(CALENDARS)], runs)
    ordinary = [ordinary_calendar(rng) for _ in range(CALENDARS)]
    found = measure("ordinary", ordinary, runs)
    if found < ORDINARY_MIN_SLOTS:  # a sanity check of the benchmark itself, not a timing
        raise SystemExit(f"the ordinary case found {found} slots, fewer than {ORDINARY_MIN_SLOTS}")


if __name__ == "__main__":
    main()
