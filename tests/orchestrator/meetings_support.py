"""Helpers for the meeting tests: a case ready to book, booking calls, join-link helpers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.core.models import OutboxKind, OutboxMessage, ParticipantEvent, TimelineEntry
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB, DISPATCHER
from tests.conftest import Staff

# Tuesday 10 March 2026, 10:00 UTC: well after the test clock's default (2 March, 09:00).
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def jitsi_settings(**more: Any) -> dict[str, Any]:
    """The settings of a Jitsi deployment with room tokens, as the tests' fake expects."""
    from pydantic import SecretStr

    return {
        "jitsi_base_url": "https://meet.example.test",
        "jitsi_app_id": "mediation",
        "jitsi_app_secret": SecretStr("jitsi-app-secret-for-tests-0123456789"),
        **more,
    }


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class ReadyCase:
    case_id: str
    mediator_id: str
    parties: dict[str, str] = field(default_factory=dict)  # role -> party id


async def ready_case(
    staff: Staff,
    *,
    reference: str = "KIDS-2026-001",
    mediator_email: str = "mediator@staff.example",
    own_mediator: bool = True,
    max_sessions_per_day: int = 2,
    buffer_minutes: int = 30,
    parties: tuple[str, ...] = ("parent", "la_officer"),
    kind: str = "mediation",
) -> ReadyCase:
    """A case with a mediator (owned by the staff ``mediator`` user) and some parties."""
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference,
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
            "name": "Morgan Mediator",
            "email": mediator_email,
            "max_sessions_per_day": max_sessions_per_day,
            "buffer_minutes": buffer_minutes,
            **({"user_id": str(staff.user_ids["mediator"])} if own_mediator else {}),
        },
        expect=201,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/mediator",
        json={"mediator_id": mediator["id"]},
        expect=200,
    )
    ready = ReadyCase(case_id=case["id"], mediator_id=mediator["id"])
    details = {
        "parent": {"name": "Sam Parent", "email": "sam@family.example", "phone": "07700 900001"},
        "la_officer": {"name": "Lee Officer", "email": "lee@kent.example"},
        "school": {"name": "Pat Teacher", "email": "pat@school.example"},
        "young_person": {"name": "Alex Young", "phone": "07700 900002", "channel": "phone"},
    }
    for role in parties:
        party = await staff.call(
            "POST",
            f"/api/v1/cases/{case['id']}/parties",
            json={"role": role, **details[role]},
            expect=201,
        )
        ready.parties[role] = party["id"]
    return ready


async def book(
    staff: Staff,
    case_id: str,
    *,
    start: datetime = START,
    duration_minutes: int = 180,
    mode: str = "video",
    expect: int | None = 201,
    **extra: Any,
) -> Any:
    return await staff.call(
        "POST",
        f"/api/v1/cases/{case_id}/meetings",
        json={"start": iso(start), "duration_minutes": duration_minutes, "mode": mode, **extra},
        expect=expect,
    )


async def join_links(staff: Staff, meeting_id: str) -> dict[str, dict[str, Any]]:
    """The meeting's current links keyed by party id ("mediator" for the mediator's)."""
    body = await staff.call("GET", f"/api/v1/meetings/{meeting_id}/links", expect=200)
    return {link["party_id"] or "mediator": link for link in body["links"]}


async def booked_with_links(
    client: TestClient[Any, Any], staff: Staff
) -> tuple[ReadyCase, Any, dict[str, dict[str, Any]]]:
    """A case booked at START with its rooms made, and the meeting's join links."""
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    return ready, meeting, await join_links(staff, meeting["id"])


def path_of(url: str) -> str:
    """The path of one of our URLs (whatever the test's base URL)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path


async def deliver_outbox(client: TestClient[web.Request, web.Application]) -> int:
    return await client.app[DISPATCHER].run_once()


async def provider_calls(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.provider_call)
            .order_by(col(OutboxMessage.created_at))
        )
        return list(rows.all())


async def timeline_kinds(client: TestClient[Any, Any], meeting_id: str) -> list[str]:
    """The kinds of the meeting's timeline entries, oldest first."""
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(TimelineEntry.kind)
            .where(col(TimelineEntry.meeting_id) == uuid.UUID(meeting_id))
            .order_by(col(TimelineEntry.at))
        )
        return list(rows.all())


async def events(client: TestClient[Any, Any], meeting_id: str) -> list[ParticipantEvent]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(ParticipantEvent)
            .where(col(ParticipantEvent.meeting_id) == uuid.UUID(meeting_id))
            .order_by(col(ParticipantEvent.at))
        )
        return list(rows.all())


async def make_staff(client: TestClient[Any, Any]) -> Staff:
    """The conftest ``staff`` helper, for a client built with its own settings."""
    from orchestrator.core.models import StaffRole
    from orchestrator.staff.accounts import add_user, issue_token

    tokens: dict[str, str] = {}
    ids: dict[str, uuid.UUID] = {}
    async with client.app[DB].write() as session:
        for role in StaffRole:
            user = await add_user(session, email=f"{role.value}@staff.example", role=role)
            tokens[role.value] = await issue_token(session, user_id=user.id)
            ids[role.value] = user.id
    return Staff(client=client, tokens=tokens, user_ids=ids)


async def app_with(
    aiohttp_client: Any, settings: Settings, clock: Any, **changes: Any
) -> tuple[TestClient[Any, Any], Staff]:
    """The real app over the test database with some settings changed, and its staff."""
    from orchestrator.web.app import create_app

    changed = settings.model_copy(update=changes)
    client = await aiohttp_client(create_app(changed, clock=clock, migrate_on_start=False))
    return client, await make_staff(client)


async def get(client: TestClient[Any, Any], path: str) -> tuple[int, str, str | None]:
    """GET without following redirects: status, body text and Location."""
    async with client.get(path, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def live_app(
    aiohttp_client: Any, settings: Settings, clock: Any, **changes: Any
) -> tuple[TestClient[Any, Any], Staff]:
    """The real app on a known loopback port whose ``base_url`` is that port.

    Providers sign call-backs over the URL they call, and we check them over
    ``base_url`` + path, so fakes that call us over loopback need the two to agree.
    """
    from aiohttp.test_utils import TestServer

    from orchestrator.web.app import create_app

    port = free_port()
    changed = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}", **changes})
    app = create_app(changed, clock=clock, migrate_on_start=False)
    client = await aiohttp_client(TestServer(app, host="127.0.0.1", port=port))
    return client, await make_staff(client)


async def serve(aiohttp_server: Any, app: Any) -> str:
    """Serve a fake on loopback; return its base URL."""
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def let_in(
    client: TestClient[Any, Any],
    staff: Staff,
    meeting_id: str,
    links: dict[str, dict[str, Any]],
    *party_ids: str,
) -> None:
    """Let parties in through our lobby as the mediator does: each clicks "Join the meeting"
    and waits on our page, the session starts (if it has not), and the mediator admits them.
    Their clicks then go straight into their room. The clock must be in the join window."""
    for party_id in party_ids:
        status, _, location = await get(client, path_of(links[party_id]["url"]) + "/video")
        assert status == 303 and location is not None and location.endswith("/wait")
    await staff.call("POST", f"/api/v1/meetings/{meeting_id}/start", role="mediator")
    for party_id in party_ids:
        await staff.call(
            "POST",
            f"/api/v1/meetings/{meeting_id}/admit",
            role="mediator",
            json={"party_id": party_id},
            expect=200,
        )
