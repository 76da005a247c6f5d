"""Every staff read of a case's data is on that case's audit trail, by every door.

The routes are taken from the running app, not from a list kept here: a new API route or
staff page that reads a case without leaving an audit row under that case fails this test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from orchestrator import documents
from orchestrator.models import AuditEvent, Party, StaffRole
from orchestrator.web import audit
from orchestrator.web.keys import API_ROUTES, CLOCK, DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import held_meeting, mediator_for, open_case, record, utc
from tests.orchestrator.web_support import Browser, make_user

# Path parameters that name something of a case, as the audit filing knows them ...
CASE_SCOPED = {"case_id", *audit.CASE_PARTS}
# ... and those that do not. A parameter in neither set fails the test until it is placed.
NOT_CASE_SCOPED = {"mediator_id", "endpoint_id", "message_id", "user_id", "action", "room_id"}
# Query strings some pages need to show anything at all.
PAGE_QUERIES = {"/staff/cases/{case_id}/book": "?start=2026-04-20T10:00&duration=180"}
PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass
class World:
    """One case with everything a staff read can reach: people, a meeting, papers."""

    ids: dict[str, str]

    @property
    def case_id(self) -> uuid.UUID:
        return uuid.UUID(self.ids["case_id"])

    def fill(self, path: str) -> str:
        names = PARAMETER.findall(path)
        unplaced = set(names) - CASE_SCOPED - NOT_CASE_SCOPED
        assert not unplaced, f"{path}: does {unplaced} name something of a case?"
        return path.format(**{name: self.ids[name] for name in names})


@pytest.fixture
async def world(staff: Staff, clock: MutableClock) -> World:
    mediator_id = await mediator_for(staff)
    case, parties = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 4, 2, 9), mediator_id=mediator_id
    )
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="agreement")
    certificate = await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    async with staff.client.app[DB].write() as session:
        parent = await session.get(Party, uuid.UUID(parties["parent"]))
        assert parent is not None
        paper = await documents.save_upload(
            session,
            party=parent,
            kind=documents.CASE_SUMMARY,
            filename="summary.pdf",
            data=b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
            settings=staff.client.app[SETTINGS],
            now=staff.client.app[CLOCK](),
        )
    return World(
        {
            "case_id": case["id"],
            "meeting_id": str(meeting_id),
            "party_id": parties["parent"],
            "certificate_id": certificate["id"],
            "document_id": str(paper.id),
            "mediator_id": str(mediator_id),
        }
    )


async def audit_rows(client: TestClient[Any, Any], actor_id: uuid.UUID, **where: Any) -> int:
    """How many audit rows this person has, filtered by column values."""
    conditions = [col(AuditEvent.actor_id) == actor_id]
    conditions += [getattr(AuditEvent, name) == value for name, value in where.items()]
    async with client.app[DB].read() as session:
        return int(await session.scalar(select(func.count()).where(*conditions)) or 0)


def api_reads(client: TestClient[Any, Any]) -> Iterator[str]:
    """Every GET route of the API table whose path names something of a case."""
    for route in client.app[API_ROUTES]:
        if route.method == "GET" and set(PARAMETER.findall(route.path)) & CASE_SCOPED:
            yield route.path


def staff_page_reads(client: TestClient[Any, Any]) -> Iterator[str]:
    """Every staff page (GET under /staff) of the running app."""
    for route in client.app.router.routes():
        page = route.resource.canonical if route.resource else ""
        if route.method == "GET" and (page == "/staff" or page.startswith("/staff/")):
            yield page


async def test_every_api_read_of_a_case_is_audited_under_that_case(
    staff: Staff, world: World
) -> None:
    reads = list(api_reads(staff.client))
    assert "/meetings/{meeting_id}/attendance" in reads  # the table is the one in use
    admin = staff.user_ids["admin"]

    for path in reads:
        response = await staff.client.get(
            "/api/v1" + world.fill(path), headers=staff.headers("admin")
        )
        assert response.status == 200, (path, await response.text())
        action = f"GET {path}"
        assert await audit_rows(staff.client, admin, action=action, case_id=world.case_id), (
            f"{action} left no audit row under its case"
        )


async def test_every_staff_page_view_is_audited_under_its_case(
    client: TestClient[Any, Any], staff: Staff, world: World
) -> None:
    browser = Browser(client)
    admin = await make_user(client, "auditor@staff.example", StaffRole.admin)
    assert (await browser.sign_in("auditor@staff.example")).status == 303
    pages = list(staff_page_reads(client))
    assert "/staff/meetings/{meeting_id}/console" in pages

    for page in pages:
        scoped = set(PARAMETER.findall(page)) & CASE_SCOPED
        where = {"case_id": world.case_id} if scoped else {}
        before = await audit_rows(client, admin, **where)
        response = await client.get(
            world.fill(page) + PAGE_QUERIES.get(page, ""), allow_redirects=False
        )
        assert response.status == 200, (page, response.status)
        if response.content_type == "text/event-stream":
            assert (await response.content.readline()).startswith(b"retry:")
        response.close()
        assert await audit_rows(client, admin, **where) > before, (
            f"viewing {page} left no audit row" + (" under its case" if scoped else "")
        )


async def test_admins_read_a_cases_audit_trail_and_no_one_else_does(
    staff: Staff, world: World, clock: MutableClock
) -> None:
    path = f"/api/v1/cases/{world.case_id}/audit"
    clock.advance(minutes=1)
    await staff.call(
        "GET", f"/api/v1/meetings/{world.ids['meeting_id']}/links", role="scheduler", expect=200
    )
    clock.advance(minutes=1)
    await staff.call("GET", f"/api/v1/cases/{world.case_id}", role="mediator", expect=200)
    clock.advance(minutes=1)

    trail = await staff.call("GET", path, role="admin", expect=200)

    newest = [(e["actor_role"], e["action"]) for e in trail["entries"][:2]]
    assert newest == [
        ("mediator", "GET /cases/{case_id}"),
        ("scheduler", "GET /meetings/{meeting_id}/links"),
    ]
    assert trail["entries"][1]["actor_id"] == str(staff.user_ids["scheduler"])
    assert trail["entries"][1]["target_type"] == "meeting"
    assert "POST /cases" in {e["action"] for e in trail["entries"]}  # the case was opened
    # Only admins read the trail, that read is on it too, and each case has its own.
    await staff.call("GET", path, role="scheduler", expect=403)
    await staff.call("GET", path, role="mediator", expect=403)
    clock.advance(minutes=1)
    again = await staff.call("GET", path, role="admin", expect=200)
    assert again["entries"][0]["action"] == "GET /cases/{case_id}/audit"
    other = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "OTHER-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-03-02",
        },
        expect=201,
    )
    theirs = await staff.call("GET", f"/api/v1/cases/{other['id']}/audit", role="admin")
    assert [e["action"] for e in theirs["entries"]] == ["POST /cases"]
