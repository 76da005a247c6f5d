"""What the orchestrator really sends, end to end: a real SMTP server receives it, three
parsers read the calendar part, Radicale stores it, and the clocks agree across DST."""

from __future__ import annotations

import email
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import ics
import pytest
import vobject
from icalendar import Calendar

from orchestrator.core.models import OutboxStatus, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.staff.accounts import add_user, issue_token
from orchestrator.web.app import create_app
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.fakes.radicale import RadicaleServer
from tests.integrations.test_mail_smtp import EphemeralController, RecordingHandler
from tests.orchestrator.invites_support import book, deliver_mail, make_case, outbox_rows

LONDON = ZoneInfo("Europe/London")
REQUIRED = {
    "REQUEST": ("ORGANIZER", "ATTENDEE", "DTSTAMP", "DTSTART", "SUMMARY", "UID", "SEQUENCE"),
    "CANCEL": ("UID", "DTSTAMP", "ORGANIZER", "SEQUENCE", "STATUS"),
}


@pytest.fixture
def smtp() -> Any:
    handler = RecordingHandler()
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
async def smtp_staff(
    aiohttp_client: Any, settings: Settings, clock: MutableClock, smtp: Any
) -> AsyncIterator[Staff]:
    controller, _ = smtp
    smtp_settings = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_port": controller.port,
            "mail_from": "mediation@mediate.example",
        }
    )
    client = await aiohttp_client(create_app(smtp_settings, clock=clock, migrate_on_start=False))
    tokens, ids = {}, {}
    async with client.app[DB].write() as session:
        for role in StaffRole:
            user = await add_user(session, email=f"{role.value}@staff.example", role=role)
            tokens[role.value] = await issue_token(session, user_id=user.id)
            ids[role.value] = user.id
    yield Staff(client=client, tokens=tokens, user_ids=ids)


def received(handler: RecordingHandler) -> list[tuple[list[str], EmailMessage]]:
    out = []
    for _sender, recipients, raw, _peer in handler.received:
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        out.append((recipients, message))
    return out


def calendar_of(message: EmailMessage) -> tuple[str, bytes]:
    parts = list(message.walk())
    assert parts[0].get_content_type() == "multipart/alternative"
    leaves = [p.get_content_type() for p in parts[1:]]
    assert leaves == ["text/plain", "text/html", "text/calendar"]  # the calendar part last
    calendar_part = parts[-1]
    assert calendar_part.get("Content-Disposition") is None
    payload = calendar_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(calendar_part.get_param("method")), payload


def check_three_parsers(data: bytes, method: str) -> Any:
    """INTEROP.md's per-method rules, read by icalendar, vobject and ics."""
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == method
    (event,) = calendar.walk("VEVENT")
    for name in REQUIRED[method]:
        assert name in event, f"{method} lacks {name}"
    if method == "CANCEL":
        assert str(event["STATUS"]) == "CANCELLED" and not event.walk("VALARM")
    else:
        assert "DTEND" in event and str(event["STATUS"]) == "CONFIRMED"
    tzids = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert str(event["DTSTART"].params["TZID"]) in tzids
    parsed_v = vobject.readOne(data.decode())
    assert parsed_v.method.value == method
    assert parsed_v.vevent.uid.value == str(event["UID"])
    (ics_event,) = ics.Calendar(data.decode()).events
    assert ics_event.uid == str(event["UID"])
    # vobject builds the zone from our VTIMEZONE: it must agree with zoneinfo.
    assert parsed_v.vevent.dtstart.value.astimezone(UTC) == event.decoded("DTSTART").astimezone(UTC)
    assert ics_event.begin.to("utc").datetime == event.decoded("DTSTART").astimezone(UTC)
    return event


async def test_invites_arrive_over_smtp_one_per_person(smtp_staff: Staff, smtp: Any) -> None:
    _, handler = smtp
    booked = await book(
        smtp_staff, await make_case(smtp_staff), datetime(2026, 3, 10, 10, tzinfo=UTC)
    )
    await deliver_mail(smtp_staff.client)
    invites = [
        (to, m)
        for to, m in received(handler)
        if m.get_content_type() == "multipart/alternative" and "Invitation" in str(m["Subject"])
    ]
    assert len(invites) == 5
    seen_links = set()
    for recipients, message in invites:
        # The envelope goes to the person the message is for, and nobody else.
        assert len(recipients) == 1 and recipients[0] in str(message["To"])
        method, data = calendar_of(message)
        assert method == "REQUEST"
        event = check_three_parsers(data, "REQUEST")
        attendees = event.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        assert recipients[0].lower() in [str(a).lower().removeprefix("mailto:") for a in attendees]
        seen_links.add(str(event["URL"]))
    assert len(seen_links) == 5
    assert booked.meeting_id


async def test_smtp_down_then_back_delivers_each_message_once(
    smtp_staff: Staff, smtp: Any, clock: MutableClock
) -> None:
    _, handler = smtp
    handler.data_reply = "421 4.3.0 try again later"
    await book(smtp_staff, await make_case(smtp_staff), datetime(2026, 3, 10, 10, tzinfo=UTC))
    client = smtp_staff.client
    await deliver_mail(client)
    rows = await outbox_rows(client)
    assert rows and all(r.status is OutboxStatus.pending and r.attempts == 1 for r in rows)
    assert handler.received == []
    handler.data_reply = "250 OK"
    clock.advance(hours=2)
    await deliver_mail(client)
    clock.advance(hours=2)
    await deliver_mail(client)  # nothing is due any more: nothing goes twice
    rows = await outbox_rows(client)
    assert all(r.status is OutboxStatus.sent for r in rows)
    ids = [m["Message-ID"] for _, m in received(handler)]
    assert len(ids) == len(rows) == len(set(ids))


@pytest.mark.parametrize(
    ("local_start", "zone_name"),
    [
        (datetime(2026, 3, 29, 10, 0), "BST"),  # the Sunday the clocks go forward
        (datetime(2026, 10, 25, 10, 0), "GMT"),  # the Sunday the clocks go back
    ],
)
async def test_what_is_sent_is_read_alike_stored_and_on_time_across_dst(
    smtp_staff: Staff,
    smtp: Any,
    radicale_server: RadicaleServer,
    local_start: datetime,
    zone_name: str,
) -> None:
    _, handler = smtp
    start = local_start.replace(tzinfo=LONDON)
    sunday = "The family asked for a Sunday"  # outside the working week, so waived
    booked = await book(smtp_staff, await make_case(smtp_staff), start, waiver=sunday)
    await deliver_mail(smtp_staff.client)
    moved = start + timedelta(days=7)
    await smtp_staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={
            "start": moved.isoformat(),
            "duration_minutes": 120,
            "waive_rules": True,
            "waiver_reason": sunday,
        },
        expect=200,
    )
    await deliver_mail(smtp_staff.client)
    await smtp_staff.call(
        "POST", f"/api/v1/meetings/{booked.meeting_id}/cancel", json={"reason": "x"}, expect=200
    )
    await deliver_mail(smtp_staff.client)
    calendar_url = await radicale_server.make_calendar(f"sent-{uuid.uuid4().hex[:8]}")
    zoe = [m for to, m in received(handler) if to == ["zoe.carter@family.example"]]
    seen = []
    for message in zoe:
        if not any(p.get_content_type() == "text/calendar" for p in message.walk()):
            continue  # the mediator's introduction: no calendar
        method, data = calendar_of(message)
        event = check_three_parsers(data, method)
        seen.append((method, int(event["SEQUENCE"])))
        if method == "REQUEST":
            when = event.decoded("DTSTART")
            local = when.astimezone(LONDON)
            assert local.strftime("%H:%M") == "10:00" and local.tzname() == zone_name
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            day = f"{local:%A} {local.day} {local:%B %Y}, 10am to midday (UK time)"
            assert day in str(body.get_content())
            assert when.astimezone(UTC) in (start.astimezone(UTC), moved.astimezone(UTC))
        stored = Calendar.from_ical(data)
        del stored["METHOD"]  # as a client files an iTIP message into a calendar
        await radicale_server.put_event(
            calendar_url, str(event["UID"]), stored.to_ical().decode("utf-8")
        )
    assert seen == [("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]
