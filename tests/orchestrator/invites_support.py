"""Shared helpers for the invitation, reply and reminder tests: book through the real API,
deliver the outbox, and read back what each person received."""

from __future__ import annotations

import email
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.core.models import Link, LinkScope, OutboxKind, OutboxMessage, OutboxStatus
from orchestrator.messaging.outbox import Dispatcher, mail_handler
from orchestrator.web.keys import CLOCK, DB, MAIL
from tests.conftest import Staff

ALWAYS = {str(day): ["07:00", "21:00"] for day in range(1, 8)}

PEOPLE: list[dict[str, Any]] = [
    {"role": "parent", "name": "Zoë Carter", "email": "zoe.carter@family.example"},
    {"role": "la_officer", "name": "Bob Smith", "email": "bob.smith@council.example.gov.uk"},
    {
        "role": "school",
        "name": "Ms Patel",
        "email": "head@school.example",
        "organisation": "Oak School",
    },
    {"role": "sendiass", "name": "Sam Adviser", "email": "sam@sendiass.example"},
]


@dataclass
class Booked:
    """A case with a mediator, parties and (once booked) a meeting, by id."""

    case_id: str
    mediator_id: str
    party_ids: dict[str, str] = field(default_factory=dict)  # email -> party id
    meeting_id: str = ""


async def make_case(
    staff: Staff,
    *,
    people: list[dict[str, Any]] | None = None,
    kind: str = "mediation",
    reference: str | None = None,
    mediator_email: str = "mediator@service.example",
) -> Booked:
    """Open a case, assign a mediator (free every day) and add the people."""
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference or f"T-{uuid.uuid4().hex[:8]}",
            "kind": kind,
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": "Maya Mediator",
            "email": mediator_email,
            "working_hours": ALWAYS,
            "max_sessions_per_day": 4,
            "buffer_minutes": 0,
        },
        expect=201,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/mediator",
        json={"mediator_id": mediator["id"]},
        expect=200,
    )
    booked = Booked(case_id=case["id"], mediator_id=mediator["id"])
    for person in people if people is not None else PEOPLE:
        party = await staff.call(
            "POST", f"/api/v1/cases/{case['id']}/parties", json=person, expect=201
        )
        booked.party_ids[person.get("email") or person["name"]] = party["id"]
    return booked


async def book(
    staff: Staff,
    booked: Booked,
    start: datetime,
    *,
    minutes: int = 120,
    mode: str = "video",
    venue: dict[str, Any] | None = None,
    waiver: str | None = None,
) -> Booked:
    body: dict[str, Any] = {"start": start.isoformat(), "duration_minutes": minutes, "mode": mode}
    if venue is not None:
        body["venue"] = venue
    if waiver is not None:  # a time outside the scheduling rules, booked on purpose
        body.update(waive_rules=True, waiver_reason=waiver)
    meeting = await staff.call(
        "POST", f"/api/v1/cases/{booked.case_id}/meetings", json=body, expect=201
    )
    booked.meeting_id = meeting["id"]
    return booked


async def deliver_mail(client: TestClient[Any, Any]) -> int:
    """Deliver every due email row of the outbox through the app's mail backend."""
    app = client.app
    dispatcher = Dispatcher(app[DB], {OutboxKind.email: mail_handler(app[MAIL])}, clock=app[CLOCK])
    return await dispatcher.run_once()


def read_folder(folder: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def mail_to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if address.lower() in str(m["To"]).lower()]


def calendar_part(message: EmailMessage) -> tuple[str, bytes] | None:
    """The MIME ``method=`` and the bytes of the text/calendar part, if there is one."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return str(part.get_param("method")), payload
    return None


def with_method(messages: list[EmailMessage], method: str) -> list[EmailMessage]:
    """The messages carrying a calendar part of this METHOD."""
    return [m for m in messages if (calendar_part(m) or ("", b""))[0] == method]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


async def outbox_rows(client: TestClient[Any, Any], topic_prefix: str = "") -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.email)
        )
        return [r for r in rows.all() if r.topic.startswith(topic_prefix)]


async def pending_mail(client: TestClient[Any, Any]) -> int:
    return len([r for r in await outbox_rows(client) if r.status is OutboxStatus.pending])


async def links_of(client: TestClient[Any, Any], party_id: str, scope: LinkScope) -> list[Link]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(Link).where(col(Link.party_id) == uuid.UUID(party_id), col(Link.scope) == scope)
        )
        return list(rows.all())
