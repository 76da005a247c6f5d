"""iMIP packaging: the MIME shape Outlook and Gmail need, and headers nobody can inject into."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from typing import Any

import pytest
from icalendar import Calendar

from calendars.imip import build_invite_message, build_plain_message, message_id_for
from calendars.invites import build_cancel, build_request
from tests.calendars.test_invites import make_spec

SENT_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def invite(method: str = "REQUEST", **overrides: object) -> Message:
    spec = make_spec(summary="Mediation – Zoë")
    ics = build_request(spec) if method == "REQUEST" else build_cancel(spec)
    fields: dict[str, Any] = {
        "method": method,
        "ics": ics,
        "subject": "Invitation: SEND mediation meeting",
        "from_name": "Mediation Service",
        "from_addr": "mediation@mediate.example",
        "to_name": "Zoë Carter",
        "to_addr": "zoe@example.com",
        "text_body": "You are invited – Sunday 29 March 2026, 10:00 to 12:00 BST.",
        "html_body": "<p>You are invited – Sunday 29 March 2026, 10:00 to 12:00 BST.</p>",
        "message_id_key": "outbox-17-invite",
        "domain": "mediate.example",
        "date": SENT_AT,
    }
    fields.update(overrides)
    return build_invite_message(**fields)


def on_the_wire(message: Message) -> EmailMessage:
    """Serialise and parse back, as the receiving mail client sees the message."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_alternative_with_text_html_then_calendar_last(method: str) -> None:
    received = on_the_wire(invite(method))
    assert received.get_content_type() == "multipart/alternative"
    parts = list(received.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html", "text/calendar"]
    calendar_part = parts[-1]
    assert calendar_part.get_param("method") == method
    assert calendar_part.get_content_charset() == "utf-8"
    assert calendar_part["Content-Disposition"] is None
    ics = calendar_part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    inside = Calendar.from_ical(ics)
    assert str(inside["METHOD"]) == method  # MIME method= equals METHOD
    assert "Zoë" in str(inside.walk("VEVENT")[0]["SUMMARY"])


def test_non_ascii_is_transfer_encoded_and_lines_are_crlf() -> None:
    raw = invite().as_bytes()
    assert raw.isascii(), "8-bit bytes would be mangled by 7-bit relays"
    assert b"\n" not in raw.replace(b"\r\n", b"")
    received = on_the_wire(invite())
    plain, _html, calendar_part = received.iter_parts()
    assert plain["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert plain.get_content().startswith("You are invited – Sunday")
    assert calendar_part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")


def test_optional_ics_attachment_follows_the_alternative() -> None:
    received = on_the_wire(invite(attach_ics=True))
    assert received.get_content_type() == "multipart/mixed"
    alternative, attachment = received.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert list(alternative.iter_parts())[-1].get_content_type() == "text/calendar"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert b"METHOD:REQUEST" in attachment.get_payload(decode=True)


def test_mime_method_must_equal_the_calendar_method() -> None:
    with pytest.raises(ValueError, match="METHOD:REQUEST"):
        invite("CANCEL", ics=build_request(make_spec()))
    with pytest.raises(ValueError):
        invite("PUBLISH")


def test_message_id_is_stable_for_the_same_outbox_row() -> None:
    first, again = on_the_wire(invite()), on_the_wire(invite())
    assert first["Message-ID"] == again["Message-ID"] == "<outbox-17-invite@mediate.example>"
    other = on_the_wire(invite(message_id_key="outbox-18-invite"))
    assert other["Message-ID"] != first["Message-ID"]
    odd = message_id_for("outbox:17 invite\r\n", "mediate.example")
    assert odd == message_id_for("outbox:17 invite\r\n", "mediate.example")
    assert odd.startswith("<") and odd.endswith("@mediate.example>") and " " not in odd


@pytest.mark.parametrize(
    "hostile",
    [
        "Bob\r\nBcc: victim@example.com",
        "Bob\nBcc: victim@example.com",
        "Bob\rBcc: victim@example.com",
        'Bob "the builder" <evil@example.com>, other@example.com',
    ],
)
def test_header_injection_through_names_and_subject_is_neutralised(hostile: str) -> None:
    message = invite(subject=hostile, from_name=hostile, to_name=hostile)
    raw = message.as_bytes()
    received = on_the_wire(message)
    assert received["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw.split(b"\r\n"))
    assert [a.addr_spec for a in received["To"].addresses] == ["zoe@example.com"]
    assert [a.addr_spec for a in received["From"].addresses] == ["mediation@mediate.example"]
    assert "\n" not in str(received["Subject"]) and "\r" not in str(received["Subject"])


@pytest.mark.parametrize(
    "address", ["zoe@example.com\r\nBcc: victim@example.com", "a@b.com, c@d.com", "Zoë <z@x.com>"]
)
def test_addresses_that_are_not_one_bare_address_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        invite(to_addr=address)
    with pytest.raises(ValueError):
        invite(reply_to=address)


def test_plain_message_is_text_with_html_alternative_and_safe_headers() -> None:
    message = build_plain_message(
        subject="Your availability\r\nBcc: victim@example.com",
        from_name="Mediation Service",
        from_addr="mediation@mediate.example",
        to_name="Zoë",
        to_addr="zoe@example.com",
        text_body="Please choose times – thank you.",
        html_body="<p>Please choose times – thank you.</p>",
        message_id_key="outbox-20-poll",
        domain="mediate.example",
        reply_to="caseworker@mediate.example",
        date=SENT_AT,
    )
    received = on_the_wire(message)
    assert received.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in received.iter_parts()] == ["text/plain", "text/html"]
    assert received["Bcc"] is None
    assert received["Reply-To"].addresses[0].addr_spec == "caseworker@mediate.example"
    assert received["Message-ID"] == "<outbox-20-poll@mediate.example>"
    assert received["To"].addresses[0].display_name == "Zoë"
    text_only = build_plain_message(
        subject="Reminder",
        from_name="S",
        from_addr="s@mediate.example",
        to_name="Z",
        to_addr="z@example.com",
        text_body="Tomorrow at 10:00.",
        html_body=None,
        message_id_key="k1",
        domain="mediate.example",
        date=SENT_AT,
    )
    assert on_the_wire(text_only).get_content_type() == "text/plain"
