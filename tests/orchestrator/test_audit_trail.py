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
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from orchestrator.cases import intake
from orchestrator.closing import agreements, preparation
from orchestrator.core.models import AuditEvent, Meeting, Party, StaffRole
from orchestrator.staff.accounts import issue_token
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
        paper = await preparation.save_upload(
            session,
            party=parent,
            kind=preparation.CASE_SUMMARY,
            filename="summary.pdf",
            data=b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
            settings=staff.client.app[SETTINGS],
            now=staff.client.app[CLOCK](),
        )
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await agreements.send_for_confirmation(
            session,
            case=await intake.get_case(session, meeting.case_id),
            meeting=meeting,
            draft=agreements.AgreementDraft(agreed_text="The LA will assess"),
            settings=staff.client.app[SETTINGS],
            now=staff.client.app[CLOCK](),
            actor=None,
        )
    return World(
        {
            "case_id": case["id"],
            "meeting_id": str(meeting_id),
            "party_id": parties["parent"],
            "certificate_id": certificate["id"],
            "document_id": str(paper.id),
            "mediator_id": str(mediator_id),
            "user_id": str(staff.user_ids["scheduler"]),
            # Not of a case: any value reaches the check of the case (a refused one, 404).
            "room_id": str(uuid.uuid4()),
            "action": "admit",
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


# ---------------------------------------------------------------------------- refusals


async def other_mediator(client: TestClient[Any, Any], email: str) -> tuple[uuid.UUID, str]:
    """A mediator who runs none of the world's cases: their user id and an API token."""
    user_id = await make_user(client, email, StaffRole.mediator)
    async with client.app[DB].write() as session:
        token = await issue_token(session, user_id=user_id)
    return user_id, token


async def refusals(
    client: TestClient[Any, Any], actor_id: uuid.UUID, action: str, case_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The refusal rows this person has for ``action`` under the case."""
    async with client.app[DB].read() as session:
        rows = (
            await session.scalars(
                select(AuditEvent).where(
                    col(AuditEvent.actor_id) == actor_id,
                    col(AuditEvent.action) == action,
                    col(AuditEvent.case_id) == case_id,
                )
            )
        ).all()
    return [dict(r.details or {}) for r in rows if (r.details or {}).get("outcome") == "refused"]


def api_routes_of_a_case(client: TestClient[Any, Any]) -> Iterator[tuple[str, str]]:
    """Every route of the API table (any method) whose path names something of a case."""
    for route in client.app[API_ROUTES]:
        if set(PARAMETER.findall(route.path)) & CASE_SCOPED:
            yield route.method, route.path


async def test_every_refused_api_request_on_another_mediators_case_is_on_its_trail(
    staff: Staff, world: World
) -> None:
    client = staff.client
    outsider, token = await other_mediator(client, "outsider@staff.example")
    headers = {"Authorization": f"Bearer {token}"}
    routes = list(api_routes_of_a_case(client))
    assert ("GET", "/cases/{case_id}") in routes and (
        "POST",
        "/meetings/{meeting_id}/outcome",
    ) in routes
    refused_writes = 0

    for method, path in routes:
        response = await client.request(
            method, "/api/v1" + world.fill(path), headers=headers, json={}
        )
        if method != "GET" and response.status == 422:
            continue  # the body is checked before the case: nothing was read or written
        assert response.status in (403, 404), (method, path, response.status)
        refused_writes += method != "GET"
        rows = await refusals(client, outsider, f"{method} {path}", world.case_id)
        assert rows == [{"outcome": "refused", "status": response.status}], (method, path)
    assert refused_writes

    # A complete, valid write on another mediator's meeting: refused, recorded, not done.
    outcome = {"result": "agreement", "attendance": []}
    path = "/meetings/{meeting_id}/outcome"
    before = len(await refusals(client, outsider, f"POST {path}", world.case_id))
    response = await client.post("/api/v1" + world.fill(path), headers=headers, json=outcome)
    assert response.status == 404
    assert len(await refusals(client, outsider, f"POST {path}", world.case_id)) == before + 1
    # The trail an admin reads shows who tried.
    trail = await staff.call("GET", f"/api/v1/cases/{world.case_id}/audit", role="admin")
    tried = [e for e in trail["entries"] if e["actor_id"] == str(outsider)]
    assert tried and all(e["details"]["outcome"] == "refused" for e in tried)
    assert {e["target_type"] for e in tried} >= {"case", "meeting"}


async def test_every_refused_staff_page_on_another_mediators_case_is_on_its_trail(
    client: TestClient[Any, Any], world: World
) -> None:
    outsider, _ = await other_mediator(client, "outsider@staff.example")
    browser = Browser(client)
    assert (await browser.sign_in("outsider@staff.example")).status == 303
    pages = [
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.method in ("GET", "POST")
        and route.resource.canonical.startswith("/staff/")
        and set(PARAMETER.findall(route.resource.canonical)) & CASE_SCOPED
    ]
    assert ("GET", "/staff/cases/{case_id}") in pages
    assert ("POST", "/staff/meetings/{meeting_id}/outcome") in pages

    for method, page in pages:
        url = world.fill(page) + PAGE_QUERIES.get(page, "")
        if method == "GET":
            response = await client.get(url, allow_redirects=False)
        else:
            response = await browser.post(url, {})
        response.close()
        assert response.status in (403, 404), (method, page, response.status)
        rows = await refusals(client, outsider, f"{method} {page}", world.case_id)
        assert rows == [{"outcome": "refused", "status": response.status}], (method, page)

    # A form without its CSRF token is refused and recorded as well.
    page = "/staff/cases/{case_id}/mediator"
    response = await browser.post(world.fill(page), {}, csrf=False)
    assert response.status == 403
    assert len(await refusals(client, outsider, f"POST {page}", world.case_id)) == 2


# ---------------------------------------------------------------------------- list reads


async def newest_row(
    client: TestClient[web.Request, web.Application], actor_id: uuid.UUID
) -> AuditEvent:
    async with client.app[DB].read() as session:
        row = await session.scalar(
            select(AuditEvent)
            .where(col(AuditEvent.actor_id) == actor_id)
            .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
            .limit(1)
        )
    assert row is not None
    return row


async def test_every_list_read_records_the_cases_it_showed(
    client: TestClient[Any, Any], staff: Staff, world: World, clock: MutableClock
) -> None:
    """Any read not of one case whose answer shows a case names it on its audit row."""
    endpoint = await staff.call(
        "POST",
        "/api/v1/webhooks",
        json={"url": "https://cms.example/hooks", "events": ["case.created"]},
        role="admin",
        expect=201,
    )
    mediator_id = uuid.UUID(world.ids["mediator_id"])
    case, _ = await open_case(staff, clock, reference="KIDS-2026-0200", mediator_id=mediator_id)
    case_id = case["id"]  # still open, so on the board too; and its webhook is queued
    ids = {**world.ids, "endpoint_id": endpoint["id"]}
    reads = [f"/api/v1{path.format(**ids)}" for path in api_list_reads(client)]
    reads += list(list_pages(client))
    assert "/api/v1/cases" in reads and "/staff" in reads
    browser = Browser(client)
    admin = await make_user(client, "lister@staff.example", StaffRole.admin)
    assert (await browser.sign_in("lister@staff.example")).status == 303
    showed = []

    for path in reads:
        clock.advance(seconds=1)
        if path.startswith("/api/"):
            response = await client.get(path, headers=staff.headers("admin"))
            actor = staff.user_ids["admin"]
        else:
            response = await client.get(path, allow_redirects=False)
            actor = admin
        assert response.status == 200, (path, response.status)
        if case_id not in await response.text():
            continue
        showed.append(path)
        row = await newest_row(client, actor)
        assert case_id in (row.details or {}).get("case_ids", []), (
            f"{path} showed the case and did not say so on its audit row ({row.action})"
        )
    assert {"/api/v1/cases", "/staff", f"/api/v1/webhooks/{endpoint['id']}/deliveries"} <= set(
        showed
    )

    # A mediator's list shows, and names, only the cases they run.
    outsider, token = await other_mediator(client, "outsider@staff.example")
    response = await client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert (await response.json())["cases"] == []
    assert (await newest_row(client, outsider)).details == {"case_ids": []}
    mine = await client.get("/api/v1/cases", headers=staff.headers("mediator"))
    theirs = sorted(c["id"] for c in (await mine.json())["cases"])
    assert theirs == sorted([case_id, str(world.case_id)])
    row = await newest_row(client, staff.user_ids["mediator"])
    assert row.details is not None and sorted(row.details["case_ids"]) == theirs


def api_list_reads(client: TestClient[Any, Any]) -> Iterator[str]:
    """Every GET route of the API table that names nothing of a case (lists, reports)."""
    for route in client.app[API_ROUTES]:
        if route.method == "GET" and not set(PARAMETER.findall(route.path)) & CASE_SCOPED:
            yield route.path


def list_pages(client: TestClient[Any, Any]) -> Iterator[str]:
    """Every staff page without a parameter."""
    for page in staff_page_reads(client):
        if not PARAMETER.findall(page):
            yield page
