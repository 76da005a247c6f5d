"""Busy time read from iCalendar feeds as Google, Outlook and Apple publish them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendars.busy import busy_from_freebusy, busy_from_ics
from calendars.errors import CalendarParseError, CalendarTooLarge
from calendars.intervals import Interval


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def feed(*events: str, header: str = "") -> str:
    """Wrap VEVENT bodies in a VCALENDAR with CRLF line endings."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//busy//EN"]
    if header:
        lines.append(header)
    for body in events:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20250101T000000Z", *body.strip().splitlines()]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def test_weekly_meeting_honours_exdate_and_moved_occurrence() -> None:
    data = feed(
        """
UID:standup@example.org
SUMMARY:Team meeting
DTSTART;TZID=Europe/London:20250107T100000
DTEND;TZID=Europe/London:20250107T110000
RRULE:FREQ=WEEKLY;BYDAY=TU
EXDATE;TZID=Europe/London:20250114T100000
""",
        """
UID:standup@example.org
SUMMARY:Team meeting (moved)
RECURRENCE-ID;TZID=Europe/London:20250121T100000
DTSTART;TZID=Europe/London:20250121T140000
DTEND;TZID=Europe/London:20250121T150000
""",
    )

    busy = busy_from_ics(data, utc(2025, 1, 6), utc(2025, 1, 29))

    assert busy == [
        Interval(utc(2025, 1, 7, 10), utc(2025, 1, 7, 11)),
        # 14 January was cancelled with EXDATE
        Interval(utc(2025, 1, 21, 14), utc(2025, 1, 21, 15)),
        Interval(utc(2025, 1, 28, 10), utc(2025, 1, 28, 11)),
    ]


@pytest.mark.parametrize(
    ("first_day", "before_change", "after_change"),
    [
        # Clocks go forward on Sunday 30 March 2025: 09:00 London is 09:00Z, then 08:00Z.
        (datetime(2025, 3, 27, tzinfo=UTC), 9, 8),
        # Clocks go back on Sunday 26 October 2025: 09:00 London is 08:00Z, then 09:00Z.
        (datetime(2025, 10, 23, tzinfo=UTC), 8, 9),
    ],
)
def test_daily_meeting_keeps_local_time_across_clock_change(
    first_day: datetime, before_change: int, after_change: int
) -> None:
    start_text = first_day.strftime("%Y%m%d")
    data = feed(
        f"""
UID:daily@example.org
DTSTART;TZID=Europe/London:{start_text}T090000
DTEND;TZID=Europe/London:{start_text}T093000
RRULE:FREQ=DAILY;COUNT=7
"""
    )

    busy = busy_from_ics(data, first_day, first_day + timedelta(days=7))

    assert [interval.start.hour for interval in busy] == [before_change] * 3 + [after_change] * 4
    assert all(interval.seconds == 30 * 60 for interval in busy)


def test_google_feed_with_x_wr_timezone_repeats_in_local_time() -> None:
    # Google writes UTC times and names the zone only in X-WR-TIMEZONE.
    data = feed(
        """
UID:google@example.org
DTSTART:20250327T090000Z
DTEND:20250327T100000Z
RRULE:FREQ=DAILY;COUNT=5
""",
        header="X-WR-TIMEZONE:Europe/London",
    )

    busy = busy_from_ics(data, utc(2025, 3, 27), utc(2025, 4, 1))

    assert [interval.start for interval in busy] == [
        utc(2025, 3, 27, 9),
        utc(2025, 3, 28, 9),
        utc(2025, 3, 29, 9),
        utc(2025, 3, 30, 8),  # still 09:00 on the wall clock, now BST
        utc(2025, 3, 31, 8),
    ]


def test_all_day_bank_holiday_is_busy_for_the_whole_local_day() -> None:
    data = feed(
        """
UID:bank-holiday@example.org
SUMMARY:Summer bank holiday
DTSTART;VALUE=DATE:20250825
DTEND;VALUE=DATE:20250826
"""
    )

    busy = busy_from_ics(data, utc(2025, 8, 18), utc(2025, 9, 1))

    # Midnight to midnight in London (BST, UTC+1).
    assert busy == [Interval(utc(2025, 8, 24, 23), utc(2025, 8, 25, 23))]


def test_all_day_event_without_end_lasts_one_day() -> None:
    data = feed("UID:day@example.org\nDTSTART;VALUE=DATE:20250106")

    busy = busy_from_ics(data, utc(2025, 1, 1), utc(2025, 1, 31))

    assert busy == [Interval(utc(2025, 1, 6), utc(2025, 1, 7))]


@pytest.mark.parametrize(("default_tz", "hour"), [("Europe/London", 9), ("UTC", 10)])
def test_floating_time_is_read_in_the_default_zone(default_tz: str, hour: int) -> None:
    data = feed("UID:floating@example.org\nDTSTART:20250715T100000\nDTEND:20250715T110000")

    busy = busy_from_ics(data, utc(2025, 7, 14), utc(2025, 7, 16), default_tz=default_tz)

    assert busy == [Interval(utc(2025, 7, 15, hour), utc(2025, 7, 15, hour + 1))]


OUTLOOK_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE"""


@pytest.mark.parametrize("header", ["", OUTLOOK_VTIMEZONE], ids=["bare-tzid", "with-vtimezone"])
def test_windows_time_zone_name_is_understood(header: str) -> None:
    data = feed(
        """
UID:outlook@example.org
DTSTART;TZID=GMT Standard Time:20250701T100000
DTEND;TZID=GMT Standard Time:20250701T113000
""",
        header=header.replace("\n", "\r\n"),
    )

    busy = busy_from_ics(data, utc(2025, 6, 30), utc(2025, 7, 2))

    assert busy == [Interval(utc(2025, 7, 1, 9), utc(2025, 7, 1, 10, 30))]


def test_free_and_cancelled_time_is_not_busy() -> None:
    data = feed(
        "UID:transparent@example.org\nDTSTART:20250303T090000Z\nDTEND:20250303T100000Z\n"
        "TRANSP:TRANSPARENT",
        "UID:cancelled@example.org\nDTSTART:20250303T110000Z\nDTEND:20250303T120000Z\n"
        "STATUS:CANCELLED",
        "UID:outlook-free@example.org\nDTSTART:20250303T130000Z\nDTEND:20250303T140000Z\n"
        "X-MICROSOFT-CDO-BUSYSTATUS:FREE",
        "UID:real@example.org\nDTSTART:20250303T150000Z\nDTEND:20250303T160000Z",
    )

    busy = busy_from_ics(data, utc(2025, 3, 3), utc(2025, 3, 4))

    assert busy == [Interval(utc(2025, 3, 3, 15), utc(2025, 3, 3, 16))]


def test_one_cancelled_occurrence_of_a_series_frees_that_day_only() -> None:
    data = feed(
        "UID:series@example.org\nDTSTART:20250303T090000Z\nDTEND:20250303T100000Z\n"
        "RRULE:FREQ=DAILY;COUNT=3",
        "UID:series@example.org\nRECURRENCE-ID:20250304T090000Z\n"
        "DTSTART:20250304T090000Z\nDTEND:20250304T100000Z\nSTATUS:CANCELLED",
    )

    busy = busy_from_ics(data, utc(2025, 3, 3), utc(2025, 3, 6))

    assert [interval.start.day for interval in busy] == [3, 5]


def test_tentative_time_is_flagged_and_can_be_ignored() -> None:
    data = feed(
        "UID:maybe@example.org\nDTSTART:20250303T090000Z\nDTEND:20250303T100000Z\nSTATUS:TENTATIVE",
        "UID:sure@example.org\nDTSTART:20250303T120000Z\nDTEND:20250303T130000Z",
    )

    counted = busy_from_ics(data, utc(2025, 3, 3), utc(2025, 3, 4))
    ignored = busy_from_ics(data, utc(2025, 3, 3), utc(2025, 3, 4), tentative_is_busy=False)

    assert counted == [
        Interval(utc(2025, 3, 3, 9), utc(2025, 3, 3, 10), tentative=True),
        Interval(utc(2025, 3, 3, 12), utc(2025, 3, 3, 13)),
    ]
    assert ignored == [Interval(utc(2025, 3, 3, 12), utc(2025, 3, 3, 13))]


def test_only_events_overlapping_the_window_are_returned() -> None:
    data = feed(
        "UID:before@example.org\nDTSTART:20250302T090000Z\nDTEND:20250302T100000Z",
        "UID:straddles@example.org\nDTSTART:20250302T230000Z\nDTEND:20250303T010000Z",
        "UID:after@example.org\nDTSTART:20250304T000000Z\nDTEND:20250304T010000Z",
    )

    busy = busy_from_ics(data, utc(2025, 3, 3), utc(2025, 3, 4))

    assert busy == [Interval(utc(2025, 3, 2, 23), utc(2025, 3, 3, 1))]


@pytest.mark.parametrize(
    "data",
    [
        "this is not a calendar",
        "<!DOCTYPE html><html><body>Sign in</body></html>",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
        feed("UID:broken@example.org\nSUMMARY:Private appointment\nDTSTART:not-a-date"),
        feed(
            "UID:badrule@example.org\nSUMMARY:Private appointment\nDTSTART:20250303T090000Z\n"
            "RRULE:BYDAY=MO"
        ),
    ],
    ids=["text", "html", "unbalanced", "bad-dtstart", "rule-without-freq"],
)
def test_malformed_data_is_reported_without_quoting_it(data: str | bytes) -> None:
    with pytest.raises(CalendarParseError) as caught:
        busy_from_ics(data, utc(2025, 3, 1), utc(2025, 3, 31))

    assert "Private appointment" not in str(caught.value)
    assert "calendar" in str(caught.value)


def test_runaway_rule_from_long_ago_is_refused_instead_of_hanging() -> None:
    data = feed("UID:runaway@example.org\nDTSTART:20150101T000000Z\nRRULE:FREQ=SECONDLY")

    with pytest.raises(CalendarTooLarge, match="more than 50000"):
        busy_from_ics(data, utc(2025, 3, 1), utc(2025, 4, 3))


def test_rule_dense_inside_the_window_is_refused() -> None:
    data = feed(
        "UID:every-minute@example.org\nDTSTART:20250301T000000Z\nDURATION:PT1M\nRRULE:FREQ=MINUTELY"
    )

    with pytest.raises(CalendarTooLarge):
        busy_from_ics(data, utc(2025, 3, 1), utc(2025, 4, 15))  # 46 days of minutes


def test_many_rules_from_long_ago_are_refused_together() -> None:
    daily = "DTSTART:19900101T090000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY"
    rules = [f"UID:r{n}@example.org\n{daily}" for n in range(20)]  # ~13,000 steps each

    with pytest.raises(CalendarTooLarge, match="rules take more than 200000 steps"):
        busy_from_ics(feed(*rules), utc(2025, 3, 1), utc(2025, 4, 1))
    assert busy_from_ics(feed(*rules[:5]), utc(2025, 3, 3), utc(2025, 3, 4)) == [
        Interval(utc(2025, 3, 3, 9), utc(2025, 3, 3, 10))
    ]


def test_a_count_that_filters_never_reach_is_not_trusted() -> None:
    data = feed(
        "UID:never@example.org\nDTSTART:20150101T000000Z\nDURATION:PT1M\n"
        "RRULE:FREQ=MINUTELY;COUNT=5;BYMONTH=2;BYMONTHDAY=30"
    )

    with pytest.raises(CalendarTooLarge):
        busy_from_ics(data, utc(2025, 3, 1), utc(2025, 4, 1))


@pytest.mark.parametrize("interval", ["0", "-1"])
def test_a_rule_that_never_moves_on_is_refused(interval: str) -> None:
    data = feed(
        "UID:stuck@example.org\nDTSTART:20250303T090000Z\nDURATION:PT1H\n"
        f"RRULE:FREQ=DAILY;INTERVAL={interval}"
    )

    with pytest.raises(CalendarParseError, match="never moves on"):
        busy_from_ics(data, utc(2025, 3, 1), utc(2025, 4, 1))


def test_years_of_history_are_read_for_the_few_events_near_the_window() -> None:
    history = [
        f"UID:h{n}@example.org\nSUMMARY:Old\nDTSTART:2020{1 + n % 12:02d}01T090000Z\n"
        f"DTEND:2020{1 + n % 12:02d}01T100000Z"
        for n in range(20_000)
    ]
    near = "UID:near@example.org\nDTSTART:20250303T090000Z\nDTEND:20250303T100000Z"

    busy = busy_from_ics(feed(*history, near), utc(2025, 3, 1), utc(2025, 4, 1), max_events=10)

    assert busy == [Interval(utc(2025, 3, 3, 9), utc(2025, 3, 3, 10))]


def test_too_many_single_events_in_the_window_are_refused() -> None:
    events = [
        f"UID:e{day}@example.org\nDTSTART:202503{day:02d}T090000Z\nDTEND:202503{day:02d}T100000Z"
        for day in range(1, 21)
    ]

    with pytest.raises(CalendarTooLarge):
        busy_from_ics(feed(*events), utc(2025, 3, 1), utc(2025, 4, 1), max_events=10)
    assert len(busy_from_ics(feed(*events), utc(2025, 3, 1), utc(2025, 4, 1))) == 20


def test_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        busy_from_ics(feed(), datetime(2025, 3, 1), datetime(2025, 3, 2))


def test_free_busy_periods_are_read_with_their_types() -> None:
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//fb//EN\r\nBEGIN:VFREEBUSY\r\n"
        "DTSTART:20250303T000000Z\r\nDTEND:20250304T000000Z\r\n"
        "FREEBUSY:20250303T090000Z/20250303T100000Z,20250303T110000Z/PT30M\r\n"
        "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20250303T130000Z/20250303T140000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20250303T170000Z/20250303T180000Z\r\n"
        "FREEBUSY;FBTYPE=FREE:20250303T150000Z/20250303T160000Z\r\n"
        "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )

    assert busy_from_freebusy(data) == [
        Interval(utc(2025, 3, 3, 9), utc(2025, 3, 3, 10)),
        Interval(utc(2025, 3, 3, 11), utc(2025, 3, 3, 11, 30)),
        Interval(utc(2025, 3, 3, 13), utc(2025, 3, 3, 14), tentative=True),
        Interval(utc(2025, 3, 3, 17), utc(2025, 3, 3, 18)),
    ]
    assert utc(2025, 3, 3, 13) not in [
        interval.start for interval in busy_from_freebusy(data, tentative_is_busy=False)
    ]


def test_malformed_free_busy_is_a_parse_error() -> None:
    with pytest.raises(CalendarParseError):
        busy_from_freebusy("BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nEND:VCALENDAR\r\n")
