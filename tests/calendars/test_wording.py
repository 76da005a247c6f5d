"""How dates and times read: GOV.UK style in British English, in the case's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from calendars import wording

LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        (utc(2026, 3, 10, 9, 30), "9:30am"),  # winter: London is UTC
        (utc(2026, 6, 9, 8, 30), "9:30am"),  # summer: London is UTC+1
        (utc(2026, 3, 10, 10, 0), "10am"),
        (utc(2026, 3, 10, 12, 0), "midday"),
        (utc(2026, 3, 10, 0, 0), "midnight"),
        (utc(2026, 3, 10, 12, 30), "12:30pm"),
        (utc(2026, 3, 10, 0, 5), "12:05am"),
        (utc(2026, 3, 10, 13, 0), "1pm"),
        (utc(2026, 3, 10, 16, 45), "4:45pm"),
        (utc(2026, 3, 10, 9, 5), "9:05am"),
    ],
)
def test_clock(moment: datetime, said: str) -> None:
    assert wording.clock(moment, zone=LONDON) == said


def test_clock_of_a_time_of_day() -> None:
    assert [wording.clock(t) for t in (time(9, 30), time(12), time(17), time(0))] == [
        "9:30am",
        "midday",
        "5pm",
        "midnight",
    ]


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        (utc(2026, 3, 10, 9, 30), "Tuesday 10 March 2026"),
        (utc(2026, 3, 9, 23, 30), "Monday 9 March 2026"),
        (utc(2026, 6, 9, 23, 30), "Wednesday 10 June 2026"),  # already the 10th in London
        (date(2026, 12, 25), "Friday 25 December 2026"),
    ],
)
def test_day(moment: date | datetime, said: str) -> None:
    assert wording.day(moment, zone=LONDON) == said


def test_the_other_forms_of_a_day() -> None:
    moment = utc(2026, 3, 2, 9)
    assert wording.short_day(date(2026, 3, 2)) == "Mon 2 Mar 2026"
    assert wording.date_only(date(2026, 3, 2)) == "2 March 2026"
    assert wording.month(date(2026, 3, 2)) == "March 2026"
    assert wording.weekday(date(2026, 3, 2)) == "Monday"
    assert wording.day_and_month(moment, zone=LONDON) == "Monday 2 March"
    assert wording.clock_on_day(moment, zone=LONDON) == "9am on Monday 2 March 2026"
    assert wording.stamp(moment, zone=LONDON) == "Monday 2 March 2026, 9am GMT"
    assert wording.stamp(utc(2026, 6, 1, 8), zone=LONDON) == "Monday 1 June 2026, 9am BST"


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        (
            utc(2026, 3, 10, 9, 30),
            utc(2026, 3, 10, 10, 30),
            "Tuesday 10 March 2026, 9:30am to 10:30am (UK time)",
        ),
        (
            utc(2026, 3, 10, 10),
            utc(2026, 3, 10, 12),
            "Tuesday 10 March 2026, 10am to midday (UK time)",
        ),
        (  # the clocks went forward that morning: still 10am London time
            utc(2026, 3, 29, 9),
            utc(2026, 3, 29, 11),
            "Sunday 29 March 2026, 10am to midday (UK time)",
        ),
        (
            utc(2026, 6, 9, 22),
            utc(2026, 6, 10, 0, 30),
            "Tuesday 9 June 2026, 11pm to Wednesday 10 June 2026, 1:30am (UK time)",
        ),
    ],
)
def test_when(start: datetime, end: datetime, said: str) -> None:
    assert wording.when(start, end, zone=LONDON) == said


def test_another_zone_is_named() -> None:
    start = datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("America/New_York"))
    end = datetime(2026, 3, 10, 10, tzinfo=ZoneInfo("America/New_York"))
    assert wording.when(start, end, zone="America/New_York") == (
        "Tuesday 10 March 2026, 9am to 10am (America/New York)"
    )


def test_the_time_before_a_meeting_says_on_the_day_or_names_it() -> None:
    start = utc(2026, 3, 10, 10)
    assert wording.clock_on(utc(2026, 3, 10, 9, 30), meeting_start=start, zone=LONDON) == (
        "9:30am on the day"
    )
    assert wording.clock_on(
        utc(2026, 3, 9, 23, 40), meeting_start=utc(2026, 3, 10, 0, 10), zone=LONDON
    ) == ("11:40pm on Monday 9 March 2026")


def test_another_locale_gets_its_own_forms() -> None:
    start, end = utc(2026, 3, 10, 9, 30), utc(2026, 3, 10, 12)
    assert wording.day(start, zone=LONDON, locale="cy_GB") == "Dydd Mawrth, 10 Mawrth 2026"
    assert wording.clock(start, zone=LONDON, locale="pl") == "09:30"
    welsh = wording.when(start, end, zone=LONDON, locale="cy_GB")
    assert welsh.startswith("Dydd Mawrth, 10 Mawrth 2026, 09:30") and "12:00" in welsh
    assert "am" not in wording.clock_range(start, end, zone=LONDON, locale="pl")


def test_when_a_room_opens_reads_on_the_day_or_the_day_before() -> None:
    start = utc(2026, 3, 10, 10)
    on_the_day = wording.clock_before(utc(2026, 3, 10, 9, 30), meeting_start=start, zone=LONDON)
    assert on_the_day == "9:30am on the day"
    # A room that opens a day ahead (1440 minutes) says so in words, not in minutes.
    day_before = wording.clock_before(utc(2026, 3, 9, 10), meeting_start=start, zone=LONDON)
    assert day_before == "10am the day before"
    earlier = wording.clock_before(utc(2026, 3, 7, 9, 30), meeting_start=start, zone=LONDON)
    assert earlier == "9:30am on Saturday 7 March 2026"
    assert "09:30" not in on_the_day + day_before + earlier


def test_a_page_says_today_or_tomorrow_and_how_soon() -> None:
    now = utc(2026, 3, 10, 9, 5)
    assert wording.clock_from_today(utc(2026, 3, 10, 9, 30), now=now, zone=LONDON) == (
        "9:30am today"
    )
    assert wording.clock_from_today(utc(2026, 3, 11, 9, 30), now=now, zone=LONDON) == (
        "9:30am tomorrow"
    )
    assert wording.clock_from_today(utc(2026, 3, 13, 12), now=now, zone=LONDON) == (
        "midday on Friday 13 March 2026"
    )
    assert wording.from_now(utc(2026, 3, 10, 9, 30), now=now) == "in 25 minutes"
    assert wording.from_now(utc(2026, 3, 10, 11, 5), now=now) == "in 2 hours"
    assert wording.from_now(utc(2026, 3, 10, 9), now=now) == "5 minutes ago"
    assert wording.from_now(now, now=now) == "now"
