"""Time reading a realistic published feed (trim, parse, expand) against a bare icalendar parse.

Run: ``python -m bench.bench_feed_read [--repeat N] [--quick]``. The feed is what a
school's or a local authority officer's published calendar looks like after three years
of use: a few meetings a working day with descriptions, attendees and alarms, term-long
weekly and fortnightly series that ended long ago, monthly meetings, a handful of
open-ended series with moved and cancelled occurrences, and bookings a few months ahead.
The service reads it for a 33-day window.

Two versions of the same calendar: shared in full (descriptions, attendees, alarms) and
shared as free/busy only (times and "Busy"), where parsing is cheap and what is left to
trim and expand counts for more. For each, prints reading it (``busy_from_ics``, what the
service does with a fetched body) ÷ ``icalendar.Calendar.from_ical`` of the same bytes
(target <= 0.5).
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

import icalendar

from bench.bench_busy import best_of
from calendars.busy import busy_from_ics

WINDOW_START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday; the window spans the clock change
WINDOW_END = WINDOW_START + timedelta(days=33)
HISTORY_DAYS = 3 * 365
AHEAD_DAYS = 120
TARGET = 0.5

_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/London
X-LIC-LOCATION:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:BST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:GMT
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""".splitlines()

_WORDS = (
    "annual review EHCP draft plan provision tribunal mediation parents school SENCO "
    "officer placement transport speech therapy assessment report panel consultation "
    "meeting notes agenda minutes follow-up outcomes section F specialist"
).split()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _fold(line: str) -> list[str]:
    """Fold a content line at 75 octets the way publishers do (RFC 5545 3.1)."""
    parts = [line[:75]]
    rest = line[75:]
    while rest:
        parts.append(" " + rest[:74])
        rest = rest[74:]
    return parts


class _Writer:
    """Accumulate the feed's content lines with a seeded source of plausible details."""

    def __init__(self, seed: int, details: bool) -> None:
        self.rng = random.Random(seed)
        self.details = details
        self.lines = [
            "BEGIN:VCALENDAR",
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:SEN casework",
            "X-WR-TIMEZONE:Europe/London",
            *_VTIMEZONE,
        ]
        self.count = 0

    def text(self, words: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(words))

    def event(self, start: datetime, minutes: int, *timing: str, uid: str | None = None) -> str:
        """Write one VEVENT the way Google Calendar exports it; return its UID."""
        self.count += 1
        uid = uid or f"{self.rng.getrandbits(64):016x}{self.count}@google.com"
        end = start + timedelta(minutes=minutes)
        attendees = [
            f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
            f"CN=person{self.rng.randrange(500)}@council.example;X-NUM-GUESTS=0:"
            f"mailto:person{self.rng.randrange(500)}@council.example"
            for _ in range(self.rng.randrange(1, 5))
        ]
        timing = (
            f"DTSTART;TZID=Europe/London:{_stamp(start)}",
            f"DTEND;TZID=Europe/London:{_stamp(end)}",
            *timing,
            "DTSTAMP:20250301T080000Z",
        )
        if not self.details:  # what a calendar shared as "free/busy only" publishes
            body = ["BEGIN:VEVENT", *timing, f"UID:{uid}", "SUMMARY:Busy", "END:VEVENT"]
        else:
            body = [
                "BEGIN:VEVENT",
                *timing,
                "ORGANIZER;CN=casework@council.example:mailto:casework@council.example",
                f"UID:{uid}",
                *attendees,
                "CREATED:20220101T090000Z",
                f"DESCRIPTION:{self.text(self.rng.randrange(8, 60))}",
                "LAST-MODIFIED:20250101T090000Z",
                f"LOCATION:{self.text(3)}",
                "SEQUENCE:0",
                "STATUS:CONFIRMED",
                f"SUMMARY:{self.text(4)}",
                "TRANSP:OPAQUE",
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:This is an event reminder",
                "TRIGGER:-P0DT0H10M0S",
                "END:VALARM",
                "END:VEVENT",
            ]
        for line in body:
            self.lines.extend(_fold(line))
        return uid

    def text_bytes(self) -> bytes:
        return ("\r\n".join([*self.lines, "END:VCALENDAR"]) + "\r\n").encode()


def _working_days(first: datetime, last: datetime) -> list[datetime]:
    days = []
    day = first
    while day < last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate_feed(seed: int = 0, *, details: bool = True, meetings_per_day: int = 3) -> bytes:
    """A published calendar: three years of history, a 33-day window, four months ahead.

    With ``details`` each event carries what a shared calendar shows in full (description,
    attendees, an alarm); without, only its times and "Busy", as free/busy sharing does.
    """
    out = _Writer(seed, details)
    rng = out.rng
    local_now = WINDOW_START.replace(tzinfo=None)
    first = local_now - timedelta(days=HISTORY_DAYS)
    for day in _working_days(first, local_now + timedelta(days=AHEAD_DAYS)):
        if day > local_now + timedelta(days=40) and rng.random() < 0.6:
            continue  # the further ahead, the emptier
        for _ in range(rng.randrange(meetings_per_day + 1)):
            start = day + timedelta(hours=rng.randrange(8, 17), minutes=30 * rng.randrange(2))
            out.event(start, rng.choice([30, 60, 60, 90, 120]))
    _write_series(out, first, local_now)
    return out.text_bytes()


def _write_series(out: _Writer, first: datetime, local_now: datetime) -> None:
    """Term-long series that ended, monthly meetings, and open-ended series with exceptions."""
    rng = out.rng
    term = first
    while term < local_now + timedelta(days=60):
        for _ in range(6):  # each term's weekly and fortnightly meetings, ended by UNTIL or COUNT
            start = term + timedelta(days=rng.randrange(14), hours=rng.randrange(9, 16))
            interval = rng.choice([1, 1, 2])
            if rng.random() < 0.5:
                until = start + timedelta(weeks=rng.randrange(6, 13))
                rule = f"RRULE:FREQ=WEEKLY;INTERVAL={interval};UNTIL={_stamp(until)}Z"
            else:
                rule = f"RRULE:FREQ=WEEKLY;INTERVAL={interval};COUNT={rng.randrange(4, 12)}"
            skipped = start + timedelta(weeks=interval * rng.randrange(1, 4))
            uid = out.event(start, 60, rule, f"EXDATE;TZID=Europe/London:{_stamp(skipped)}")
            if rng.random() < 0.3:
                moved = start + timedelta(weeks=interval)
                out.event(
                    moved + timedelta(hours=1),
                    60,
                    f"RECURRENCE-ID;TZID=Europe/London:{_stamp(moved)}",
                    uid=uid,
                )
        term += timedelta(days=122)
    for n in range(4):  # monthly panels and reviews, each a year or so long
        start = first + timedelta(days=270 * n + rng.randrange(30), hours=14)
        out.event(start, 120, "RRULE:FREQ=MONTHLY;BYDAY=1TU;COUNT=12")
    opening = [  # the open-ended ones: a daily check-in, a team meeting, a fortnightly clinic
        (timedelta(hours=8, minutes=45), 15, "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"),
        (timedelta(hours=rng.randrange(9, 16)), 60, "RRULE:FREQ=WEEKLY"),
        (timedelta(hours=rng.randrange(9, 16)), 60, "RRULE:FREQ=WEEKLY;INTERVAL=2"),
    ]
    for at, minutes, rule in opening:
        start = first + timedelta(days=rng.randrange(300)) + at
        uid = out.event(start, minutes, rule)
        for week in range(2, HISTORY_DAYS // 7, 10):  # moved now and then
            moved = start + timedelta(weeks=week)
            out.event(
                moved + timedelta(hours=2),
                minutes,
                f"RECURRENCE-ID;TZID=Europe/London:{_stamp(moved)}",
                uid=uid,
            )


def measure(name: str, feed: bytes, repeat: int) -> None:
    """Print one feed's read time against its bare parse."""
    events = feed.count(b"BEGIN:VEVENT")
    series = feed.count(b"RRULE:") - 2  # the two in the VTIMEZONE are not events
    busy = busy_from_ics(feed, WINDOW_START, WINDOW_END)

    def parse() -> None:
        icalendar.Calendar.from_ical(feed)

    def read() -> None:
        busy_from_ics(feed, WINDOW_START, WINDOW_END)

    parse_s = best_of(repeat, parse)
    read_s = best_of(repeat, read)
    print(f"{name}: {events} events ({series} series), {len(feed) / 1e6:.1f} MB")
    print(f"  busy intervals in the 33-day window: {len(busy)}")
    print(f"  icalendar parse (baseline)    : {parse_s * 1000:8.1f} ms (best of {repeat})")
    print(f"  read (trim + parse + expand)  : {read_s * 1000:8.1f} ms (best of {repeat})")
    print(f"  ratio read / parse            : {read_s / parse_s:8.3f}  (target <= {TARGET})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for CI")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    print("a published calendar, three years of history, read for a 33-day window")
    measure("shared in full", generate_feed(details=True), repeat)
    measure("shared as free/busy only", generate_feed(details=False), repeat)


if __name__ == "__main__":
    main()
