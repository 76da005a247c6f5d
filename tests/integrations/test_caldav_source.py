"""Free/busy read back from a real Radicale CalDAV server on loopback."""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

import pytest

from calendars.intervals import Interval
from integrations.caldav_source import CalDavSource
from integrations.errors import CalendarSourceError
from tests.fakes.radicale import RadicaleServer

WINDOW = (datetime(2025, 3, 24, tzinfo=UTC), datetime(2025, 4, 14, tzinfo=UTC))


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def event(uid: str, *lines: str) -> str:
    body = "\r\n".join(lines)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//caldav//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\n{body}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


async def new_calendar(server: RadicaleServer) -> str:
    return await server.make_calendar(f"cal-{uuid.uuid4().hex[:8]}")


async def test_busy_time_is_read_back_including_a_recurring_series(
    radicale_server: RadicaleServer,
) -> None:
    url = await new_calendar(radicale_server)
    await radicale_server.put_event(
        url,
        "review",
        event(
            "review",
            "SUMMARY:Case review",
            "DTSTART;TZID=Europe/London:20250325T140000",
            "DTEND;TZID=Europe/London:20250325T153000",
        ),
    )
    # Weekly on Tuesdays at 09:00 London, across the clock change, one week skipped.
    await radicale_server.put_event(
        url,
        "weekly",
        event(
            "weekly",
            "SUMMARY:Supervision",
            "DTSTART:20250325T090000Z",
            "DTEND:20250325T100000Z",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE:20250401T090000Z",
        ),
    )
    source = CalDavSource(url, radicale_server.username, radicale_server.password)

    busy = await source.busy(*WINDOW)

    assert busy == [
        Interval(utc(3, 25, 9), utc(3, 25, 10)),
        Interval(utc(3, 25, 14), utc(3, 25, 15, 30)),
        Interval(utc(4, 8, 9), utc(4, 8, 10)),
    ]


async def test_empty_calendar_is_all_free(radicale_server: RadicaleServer) -> None:
    url = await new_calendar(radicale_server)
    source = CalDavSource(url, radicale_server.username, radicale_server.password)

    assert await source.busy(*WINDOW) == []


async def test_wrong_password_is_an_auth_error_not_worth_retrying(
    radicale_server: RadicaleServer,
) -> None:
    url = await new_calendar(radicale_server)
    source = CalDavSource(url, radicale_server.username, "not-the-password")

    with pytest.raises(CalendarSourceError) as caught:
        await source.busy(*WINDOW)

    assert str(caught.value) == "CalDAV server refused the username or password"
    assert caught.value.retryable is False
    assert "not-the-password" not in str(caught.value)


async def test_unreachable_server_is_unavailable_and_worth_retrying() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = CalDavSource(f"http://127.0.0.1:{port}/mediator/work/", "mediator", "pw", timeout_s=5)

    with pytest.raises(CalendarSourceError) as caught:
        await source.busy(*WINDOW)

    assert str(caught.value).startswith("CalDAV server could not be reached")
    assert caught.value.retryable is True
    assert str(port) not in str(caught.value)
