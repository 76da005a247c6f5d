"""Time busy_from_ics over seven 2,000-event feeds across a 33-day window.

Run: ``python -m bench.bench_busy [--repeat N]``. Prints the best time and its ratio to a
baseline measured in the same run (parsing the same feeds with icalendar alone).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import icalendar

from calendars.busy import busy_from_ics

WINDOW_START = datetime(2025, 3, 3, tzinfo=UTC)  # the window spans the March clock change
WINDOW_END = WINDOW_START + timedelta(days=33)
FEEDS = 7
EVENTS_PER_FEED = 2_000


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def generate_feed(n_events: int, seed: int) -> bytes:
    """Build a feed of ``n_events`` VEVENTs around the window: 70 % single, 30 % weekly series.

    Series start up to eight weeks before the window, run 10-30 weeks, and carry EXDATEs
    and moved occurrences (RECURRENCE-ID overrides). Times are in Europe/London.
    """
    rng = random.Random(seed)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//busy//EN"]
    local_start = WINDOW_START.replace(tzinfo=None)

    def add_event(uid: str, start: datetime, minutes: int, *extra: str) -> None:
        end = start + timedelta(minutes=minutes)
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:{uid}",
                "DTSTAMP:20250101T000000Z",
                f"SUMMARY:Event {uid}",
                f"DTSTART;TZID=Europe/London:{_stamp(start)}",
                f"DTEND;TZID=Europe/London:{_stamp(end)}",
                *extra,
                "END:VEVENT",
            ]
        )

    for number in range(n_events):
        uid = f"{seed}-{number}@bench.example"
        day = rng.randrange(-56, 33)
        start = local_start + timedelta(
            days=day, hours=rng.randrange(8, 18), minutes=15 * rng.randrange(4)
        )
        minutes = rng.choice([30, 45, 60, 90, 120])
        if rng.random() < 0.7:
            extra = ["STATUS:TENTATIVE"] if rng.random() < 0.1 else []
            add_event(uid, start, minutes, *extra)
            continue
        weeks = rng.randrange(10, 30)
        skipped = start + timedelta(weeks=rng.randrange(1, weeks))
        add_event(
            uid,
            start,
            minutes,
            f"RRULE:FREQ=WEEKLY;COUNT={weeks}",
            f"EXDATE;TZID=Europe/London:{_stamp(skipped)}",
        )
        if rng.random() < 0.5:
            moved = start + timedelta(weeks=rng.randrange(1, weeks))
            add_event(
                uid,
                moved + timedelta(hours=2),
                minutes,
                f"RECURRENCE-ID;TZID=Europe/London:{_stamp(moved)}",
            )
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """Return the fastest of ``repeat`` timed runs of ``work``, in seconds."""
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        timings.append(time.perf_counter() - began)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    feeds = [generate_feed(EVENTS_PER_FEED, seed) for seed in range(FEEDS)]
    busy_counts = [len(busy_from_ics(feed, WINDOW_START, WINDOW_END)) for feed in feeds]

    def parse_only() -> None:
        for feed in feeds:
            icalendar.Calendar.from_ical(feed)

    def busy_all() -> None:
        for feed in feeds:
            busy_from_ics(feed, WINDOW_START, WINDOW_END)

    baseline = best_of(args.repeat, parse_only)
    measured = best_of(args.repeat, busy_all)
    size_mb = sum(len(feed) for feed in feeds) / 1_000_000
    print(f"feeds: {FEEDS} x {EVENTS_PER_FEED} events ({size_mb:.1f} MB), 33-day window")
    print(f"merged busy intervals per feed: {min(busy_counts)}-{max(busy_counts)}")
    print(f"baseline (icalendar parse only): {baseline * 1000:.0f} ms")
    print(f"busy_from_ics over all feeds:    {measured * 1000:.0f} ms (best of {args.repeat})")
    print(f"ratio busy/parse: {measured / baseline:.2f}")


if __name__ == "__main__":
    main()
