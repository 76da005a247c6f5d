"""Replies as Outlook desktop, outlook.com, Gmail and Apple send them, and what we refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from calendars.errors import CalendarError, CalendarParseError, CalendarTooLarge
from calendars.imip import extract_calendar_from_mime
from calendars.replies import ItipReply, parse_reply

SAMPLES = Path(__file__).parent / "samples"
UID = "26387e8e-7526-552a-be8e-61545b6e26f5@mediate.example"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            # Windows TZID "GMT Standard Time", ATTENDEE address in mixed case, X-MICROSOFT props.
            "outlook_desktop_accept.ics",
            ItipReply(
                UID,
                "bob.smith@council.example.gov.uk",
                "ACCEPTED",
                1,
                datetime(2026, 10, 20, 9, 32, 15, tzinfo=UTC),
            ),
        ),
        (
            # outlook.com: no ORGANIZER, no SEQUENCE, "MAILTO:" in capitals, a typed comment.
            "outlook_com_tentative.ics",
            ItipReply(
                UID,
                "carer.jones@outlook.com",
                "TENTATIVE",
                0,
                datetime(2026, 3, 20, 18, 11, 2, tzinfo=UTC),
                "Running late from the school run, may join at 10:15.",
            ),
        ),
        (
            # Gmail: UTC times, non-ASCII CN folded mid-name, X-RESPONSE-COMMENT on the attendee.
            "gmail_decline.ics",
            ItipReply(
                UID,
                "zoe.carter@gmail.com",
                "DECLINED",
                2,
                datetime(2026, 3, 21, 7, 45, 2, tzinfo=UTC),
                "Sorry, I can't make this one – could we try the week after?",
            ),
        ),
        (
            # Apple: LF line endings, EMAIL= parameter, "Mailto:" scheme, X-APPLE props.
            "apple_accept.ics",
            ItipReply(
                UID,
                "dan.oneill@icloud.com",
                "ACCEPTED",
                0,
                datetime(2026, 3, 19, 20, 15, 33, tzinfo=UTC),
            ),
        ),
    ],
)
def test_real_client_replies_are_read(name: str, expected: ItipReply) -> None:
    assert parse_reply(sample(name)) == expected


def test_a_reply_given_as_text_reads_the_same_as_bytes() -> None:
    data = sample("gmail_decline.ics")
    assert parse_reply(data.decode("utf-8")) == parse_reply(data)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not_a_reply_request.ics", "METHOD:REPLY"),
        ("reply_two_attendees.ics", "2 ATTENDEEs"),
        ("reply_no_attendee.ics", "no ATTENDEE"),
        ("reply_no_uid.ics", "no UID"),
    ],
)
def test_what_is_not_one_attendees_reply_is_refused(name: str, message: str) -> None:
    with pytest.raises(CalendarParseError, match=message):
        parse_reply(sample(name))


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n", "\u00ff\u0000garbage".encode()],
)
def test_garbage_raises_our_parse_error_not_a_library_error(data: bytes) -> None:
    with pytest.raises(CalendarParseError):
        parse_reply(data)


def test_a_huge_reply_is_refused_before_parsing() -> None:
    data = sample("apple_accept.ics")
    with pytest.raises(CalendarTooLarge):
        parse_reply(data, max_bytes=len(data) - 1)
    assert issubclass(CalendarTooLarge, CalendarError)


def test_a_bad_sequence_is_a_parse_error() -> None:
    data = sample("apple_accept.ics").replace(b"SEQUENCE:0", b"SEQUENCE:two")
    with pytest.raises(CalendarParseError, match="SEQUENCE"):
        parse_reply(data)


@pytest.mark.parametrize(
    ("name", "email", "partstat"),
    [
        ("outlook_desktop_reply.eml", "bob.smith@council.example.gov.uk", "ACCEPTED"),
        ("gmail_reply.eml", "zoe.carter@gmail.com", "DECLINED"),
        ("apple_reply.eml", "dan.oneill@icloud.com", "ACCEPTED"),
        ("webmail_ics_attachment.eml", "carer.jones@outlook.com", "TENTATIVE"),
    ],
)
def test_replies_are_found_inside_the_mail_each_client_sends(
    name: str, email: str, partstat: str
) -> None:
    calendar = extract_calendar_from_mime(sample(name))
    assert calendar is not None
    reply = parse_reply(calendar)
    assert (reply.uid, reply.attendee_email, reply.partstat) == (UID, email, partstat)


def test_a_mail_without_a_calendar_gives_none() -> None:
    assert extract_calendar_from_mime(sample("plain_no_calendar.eml")) is None
