"""A feed cut down to what busy time needs: timings kept, private details and old events gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from calendars.busy import busy_from_ics
from calendars.errors import CalendarParseError, CalendarTooLarge
from calendars.feed_trim import trim_for_busy

FIRST, LAST = date(2025, 3, 1), date(2025, 3, 31)


def feed(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "X-WR-TIMEZONE:Europe/London"]
    for body in events:
        lines += ["BEGIN:VEVENT", *body.strip().splitlines(), "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def trim(data: bytes | str, max_components: int = 100) -> str:
    return trim_for_busy(
        data, first_day=FIRST, last_day=LAST, max_components=max_components
    ).decode()


def test_only_timing_is_kept_of_an_event() -> None:
    data = feed(
        "UID:a@example.org\nSUMMARY:Tribunal for Ottoline\nDESCRIPTION:Private\n"
        " folded onto a second line\nATTENDEE;CN=Ottoline:mailto:o@family.example\n"
        "DTSTART;TZID=Europe/London:20250310T090000\nDTEND;TZID=Europe/London:20250310T100000\n"
        "TRANSP:OPAQUE\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM"
    )

    kept = trim(data)

    assert kept.splitlines() == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "X-WR-TIMEZONE:Europe/London",
        "BEGIN:VEVENT",
        "UID:a@example.org",
        "DTSTART;TZID=Europe/London:20250310T090000",
        "DTEND;TZID=Europe/London:20250310T100000",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


def test_single_events_far_from_the_window_go_and_series_stay() -> None:
    data = feed(
        "UID:old\nDTSTART:20240101T090000Z\nDTEND:20240101T100000Z",
        "UID:later\nDTSTART;VALUE=DATE:20250402",
        "UID:spans\nDTSTART:20250101T090000Z\nDTEND:20250305T100000Z",
        "UID:series\nDTSTART:20200101T090000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY",
        "UID:series\nRECURRENCE-ID:20200108T090000Z\nDTSTART:20200108T110000Z",
        "UID:lasting\nDTSTART:20240101T090000Z\nDURATION:P1Y",
        "UID:odd\nDTSTART:not-a-date",
    )

    kept = trim(data)

    uids = [line for line in kept.splitlines() if line.startswith("UID:")]
    assert uids == [
        "UID:spans",
        "UID:series",
        "UID:series",
        "UID:lasting",
        "UID:odd",  # unreadable dates are left for the parser to refuse
    ]


def test_time_zones_are_kept_whole_and_other_components_dropped() -> None:
    data = (
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/London\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\nBEGIN:VTODO\r\nSUMMARY:Write the report\r\nEND:VTODO\r\n"
        "END:VCALENDAR\r\n"
    )

    kept = trim(data)

    assert "TZOFFSETTO:+0000" in kept and "BEGIN:STANDARD" in kept
    assert "VTODO" not in kept and "Write the report" not in kept


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00",
        "<!DOCTYPE html><html><body>Sign in</body></html>",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20250310T090000Z\r\n",
        b"END:VCALENDAR\r\n",
    ],
    ids=["binary", "html", "unterminated", "end-first"],
)
def test_what_is_not_a_calendar_is_refused_before_parsing(data: bytes | str) -> None:
    with pytest.raises(CalendarParseError):
        trim(data)


def test_a_byte_order_mark_and_blank_lines_before_the_calendar_are_fine() -> None:
    assert trim(b"\xef\xbb\xbf\r\n" + feed()).startswith("BEGIN:VCALENDAR")


def test_only_events_kept_count_towards_the_limit() -> None:
    old = [f"UID:{n}\nDTSTART:20240101T090000Z\nDTEND:20240101T100000Z" for n in range(50)]
    near = [f"UID:n{n}\nDTSTART:20250310T090000Z\nDTEND:20250310T100000Z" for n in range(5)]

    assert trim(feed(*old, *near), max_components=6).count("BEGIN:VEVENT") == 5
    with pytest.raises(CalendarTooLarge, match="more than 5 components"):
        trim(feed(*old, *near), max_components=5)


def test_past_events_given_by_duration_go_like_those_given_by_dtend() -> None:
    data = feed(
        "UID:hour\nDTSTART:20250227T090000Z\nDURATION:PT1H",
        "UID:into-window\nDTSTART:20250227T090000Z\nDURATION:P2DT1H",
        "UID:week\nDTSTART;VALUE=DATE:20250222\nDURATION:P1W",
        "UID:short-week\nDTSTART;VALUE=DATE:20250220\nDURATION:P1W",
        "UID:late-night\nDTSTART;TZID=Europe/London:20250228T230000\nDURATION:PT2H",
        "UID:negative\nDTSTART:20250101T090000Z\nDURATION:-PT1H",
        "UID:unreadable\nDTSTART:20250101T090000Z\nDURATION:soon",
    )

    uids = [line for line in trim(data).splitlines() if line.startswith("UID:")]

    assert uids == [
        "UID:into-window",
        "UID:week",
        "UID:late-night",
        "UID:negative",  # not a length we can trust: left for the parser
        "UID:unreadable",
    ]


@pytest.mark.parametrize("timing", ["DURATION:PT1H", "DTEND:{day}T100000Z"])
def test_a_feed_of_years_of_past_hour_long_events_reads_fine(timing: str) -> None:
    past = [
        f"UID:p{n}\nDTSTART:{day}T090000Z\n" + timing.format(day=day)
        for n, day in enumerate(
            (date(2020, 1, 1) + timedelta(days=n // 10)).strftime("%Y%m%d") for n in range(10_500)
        )
    ]
    near = "UID:near\nDTSTART:20250310T090000Z\n" + timing.format(day="20250310")

    busy = busy_from_ics(
        feed(*past, near),
        datetime(2025, 3, 10, tzinfo=UTC),
        datetime(2025, 3, 11, tzinfo=UTC),
    )

    assert [(b.start, b.end) for b in busy] == [
        (datetime(2025, 3, 10, 9, tzinfo=UTC), datetime(2025, 3, 10, 10, tzinfo=UTC))
    ]
