"""Shared helpers for the availability tests: cases, parties, a feed server, the poll emails."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlmodel import col, select

from orchestrator.core.models import Meeting, MeetingMode, OutboxKind, OutboxMessage
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.web.keys import DB
from tests.conftest import Staff

# The test clock says Monday 2 March 2026, 09:00 UTC; the target is 33 days on (4 April).
CASE = {
    "reference": "KIDS-2026-0100",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-03-02",
}
WEEKDAYS = {str(d): ["09:00", "17:00"] for d in range(1, 6)}
SECRET = "feed-secret-123"


async def make_case(staff: Staff, **overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = await staff.call(
        "POST", "/api/v1/cases", json={**CASE, **overrides}, expect=201
    )
    return case


async def make_mediator(staff: Staff, case_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Mo Mediator",
        "email": "mo@mediation.example",
        "working_hours": WEEKDAYS,
        "max_sessions_per_day": 1,
        **overrides,
    }
    mediator = await staff.call("POST", "/api/v1/mediators", json=body, expect=201)
    await staff.call(
        "POST",
        f"/api/v1/cases/{case_id}/mediator",
        json={"mediator_id": mediator["id"]},
        expect=200,
    )
    return dict(mediator)


async def add_party(staff: Staff, case_id: str, **fields: Any) -> dict[str, Any]:
    body = {"role": "parent", "name": "Pat Parent", "email": "pat@family.example", **fields}
    return dict(await staff.call("POST", f"/api/v1/cases/{case_id}/parties", json=body, expect=201))


async def request_poll(staff: Staff, case_id: str, **fields: Any) -> dict[str, Any]:
    body = {"duration_minutes": 180, **fields}
    return dict(
        await staff.call(
            "POST", f"/api/v1/cases/{case_id}/availability-requests", json=body, expect=201
        )
    )


async def poll_emails(staff: Staff) -> list[tuple[list[str], EmailMessage]]:
    """Every queued poll email: its recipients and the message."""
    async with staff.client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.email, col(OutboxMessage.topic) == "poll")
            .order_by(col(OutboxMessage.created_at), col(OutboxMessage.idempotency_key))
        )
        return [(list(r.payload["to"]), email_from_payload(r.payload)) for r in rows.all()]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link_path(message: EmailMessage) -> str:
    """The /p/... path of the poll link in an email."""
    found = re.search(r"http://testserver\.local(/p/[A-Za-z0-9._-]+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


async def poll_link_for(staff: Staff, email: str) -> str:
    for to, message in await poll_emails(staff):
        if to == [email]:
            return link_path(message)
    raise AssertionError(f"no poll email to {email}")


def field(start: str) -> str:
    """The poll form's field for a candidate start given as ISO UTC."""
    moment = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    return "slot-" + moment.strftime("%Y%m%dT%H%MZ")


async def add_meeting(
    staff: Staff, *, mediator_id: str, case_id: str, start: datetime, hours: float = 3
) -> None:
    """Book a meeting directly (as booking would) so the mediator is taken then."""
    async with staff.client.app[DB].write() as session:
        session.add(
            Meeting(
                case_id=uuid.UUID(case_id),
                mediator_id=uuid.UUID(mediator_id),
                start_at=start,
                end_at=start + timedelta(hours=hours),
                mode=MeetingMode.video,
                ical_uid=f"{uuid.uuid4()}@test",
            )
        )


# ---------------------------------------------------------------------------- feeds


def ics(
    busy: Sequence[tuple[datetime, datetime]],
    *,
    tentative: Sequence[tuple[datetime, datetime]] = (),
) -> bytes:
    """An ICS feed with one event per (start, end) in UTC; ``tentative`` ones marked so."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//feeds//EN"]
    events = [(span, False) for span in busy] + [(span, True) for span in tentative]
    for n, ((start, end), maybe) in enumerate(events):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{n}@feeds.test",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            "SUMMARY:Busy",
            *(["STATUS:TENTATIVE"] if maybe else []),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def whole_days(*days: datetime) -> list[tuple[datetime, datetime]]:
    """Busy from 06:00 to 20:00 UTC on each given day."""
    return [(d.replace(hour=6), d.replace(hour=20)) for d in days]


class FeedServer:
    """A loopback web server publishing ICS feeds; a path not given answers 500."""

    def __init__(self) -> None:
        self.feeds: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        app = web.Application()
        app.router.add_get("/{name}.ics", self.serve)
        self.server = TestServer(app, host="127.0.0.1")

    def url(self, name: str) -> str:
        return str(self.server.make_url(f"/{name}.ics").with_query(token=SECRET))

    async def serve(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] += 1
        body = self.feeds.get(name)
        if body is None:
            return web.Response(status=500, text="calendar backend exploded")
        return web.Response(body=body, content_type="text/calendar")


@pytest.fixture(name="feeds")
async def feeds_fixture() -> AsyncIterator[FeedServer]:
    """A running feed server (import ``feeds_fixture`` to use the ``feeds`` fixture)."""
    server = FeedServer()
    await server.server.start_server()
    yield server
    await server.server.close()
