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


# Three years of history around FIRST..LAST (March 2025): series that ended, one that starts
# later, overrides moved in and out, and an open-ended series with overrides of its own.
HISTORY = (
    "UID:weekly-until\nDTSTART;TZID=Europe/London:20220905T100000\n"
    "DTEND;TZID=Europe/London:20220905T110000\nRRULE:FREQ=WEEKLY;UNTIL=20221216T235959Z\n"
    "EXDATE;TZID=Europe/London:20220912T100000",
    "UID:weekly-until\nRECURRENCE-ID;TZID=Europe/London:20220919T100000\n"
    "DTSTART;TZID=Europe/London:20220920T140000\nDTEND;TZID=Europe/London:20220920T150000",
    "UID:fortnightly-count\nDTSTART:20230109T090000Z\nDURATION:PT2H\n"
    "RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=8",
    "UID:monthly-byday\nDTSTART:20230103T140000Z\nDTEND:20230103T160000Z\n"
    "RRULE:FREQ=MONTHLY;BYDAY=1TU;COUNT=12",
    "UID:ended-but-moved-in\nDTSTART:20240102T090000Z\nDTEND:20240102T100000Z\n"
    "RRULE:FREQ=DAILY;COUNT=5",
    "UID:ended-but-moved-in\nRECURRENCE-ID:20240103T090000Z\n"
    "DTSTART:20250312T090000Z\nDTEND:20250312T100000Z",
    "UID:this-and-future\nDTSTART:20240101T090000Z\nDTEND:20240101T100000Z\n"
    "RRULE:FREQ=WEEKLY;COUNT=10",
    "UID:this-and-future\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240108T090000Z\n"
    "DTSTART:20240108T120000Z\nDTEND:20240108T130000Z",
    "UID:monthly-31st\nDTSTART:20241031T090000Z\nDTEND:20241031T100000Z\n"
    "RRULE:FREQ=MONTHLY;COUNT=4",  # 31 October, 31 December, 31 January, 31 March
    "UID:until-into-window\nDTSTART:20241007T080000Z\nDTEND:20241007T090000Z\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20250305T000000Z",
    "UID:long-ended-days\nDTSTART;VALUE=DATE:20250101\nDTEND;VALUE=DATE:20250226\n"
    "RRULE:FREQ=YEARLY;COUNT=1",
    "UID:by-date\nDTSTART:20230601T090000Z\nDTEND:20230601T100000Z\nRDATE:20250311T090000Z",
    "UID:later\nDTSTART:20250601T090000Z\nDTEND:20250601T100000Z\nRRULE:FREQ=DAILY",
    "UID:later\nRECURRENCE-ID:20250602T090000Z\nDTSTART:20250314T090000Z\nDTEND:20250314T100000Z",
    "UID:open-ended\nDTSTART;TZID=Europe/London:20220103T083000\n"
    "DTEND;TZID=Europe/London:20220103T084500\nRRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
    "UID:open-ended\nRECURRENCE-ID;TZID=Europe/London:20220104T083000\n"
    "DTSTART;TZID=Europe/London:20220104T120000\nDTEND;TZID=Europe/London:20220104T121500",
    "UID:open-ended\nRECURRENCE-ID;TZID=Europe/London:20250311T083000\n"
    "DTSTART;TZID=Europe/London:20250311T163000\nDTEND;TZID=Europe/London:20250311T164500",
    "UID:old-single\nDTSTART:20230301T090000Z\nDTEND:20230301T100000Z",
    "UID:single\nDTSTART:20250313T090000Z\nDTEND:20250313T100000Z",
)


def test_series_that_cannot_reach_the_window_go_with_their_overrides() -> None:
    uids = {line for line in trim(feed(*HISTORY)).splitlines() if line.startswith("UID:")}

    assert uids == {
        "UID:ended-but-moved-in",  # an override moves an occurrence into the window
        "UID:this-and-future",  # RANGE moves every later occurrence: left for the expansion
        "UID:monthly-byday",  # COUNT with BYxxx parts: how far it runs is not worked out
        "UID:monthly-31st",  # months without a 31st are skipped, not counted
        "UID:until-into-window",
        "UID:by-date",  # RDATE can add a day anywhere
        "UID:later",  # starts after the window, but an override is moved into it
        "UID:open-ended",
        "UID:single",
    }


@pytest.mark.parametrize("first", [date(2024, 1, 1), date(2025, 3, 1), date(2025, 3, 4)])
def test_history_and_series_give_the_same_busy_time_trimmed_or_not(
    first: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = feed(*HISTORY)
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = start + timedelta(days=33)

    trimmed = busy_from_ics(data, start, end)
    monkeypatch.setattr("calendars.busy.trim_for_busy", lambda data, **_: data)
    untrimmed = busy_from_ics(data, start, end)

    assert trimmed == untrimmed
    assert trimmed  # the windows are not empty: the comparison means something
