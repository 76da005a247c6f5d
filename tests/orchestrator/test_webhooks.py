"""Write-back webhooks through the real app to a case system on loopback.

The receiver checks every delivery with the verification snippet published in
``docs/webhooks.md`` (run as written), de-duplicates on the event id, and can be made to
fail, refuse or be switched off.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from orchestrator.web.keys import DISPATCHER, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator import availability_support as availability
from tests.orchestrator import invites_support as invites
from tests.orchestrator.outcomes_support import (
    LA_OFFICER,
    PARENT,
    SCHOOL,
    held_meeting,
    mediator_for,
    open_case,
    record,
    utc,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
ALL_EVENTS = [
    "case.created",
    "meeting.booked",
    "meeting.rescheduled",
    "meeting.cancelled",
    "party.replied",
    "attendance.final",
    "outcome.recorded",
    "certificate.issued",
]


def documented_verifier() -> Callable[..., dict[str, Any]]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- snippet: verify -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/webhooks.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)
    verify: Callable[..., dict[str, Any]] = namespace["verify_webhook"]
    return verify


@dataclass
class CaseSystem:
    """A receiving case system, as docs/webhooks.md tells integrators to build one."""

    clock: MutableClock
    secret: str = ""
    answer: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    verify: Callable[..., dict[str, Any]] = field(default_factory=documented_verifier)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        if self.answer >= 300:
            return web.Response(status=self.answer)
        try:
            event = self.verify(self.secret, request.headers, body, now=self.clock().timestamp())
        except ValueError as exc:
            self.refused.append(str(exc))
            return web.Response(status=401)
        self.events.setdefault(event["id"], event)  # de-duplicate on the signed id
        return web.Response(status=204)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["type"] == event_type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_receiver(system: CaseSystem, port: int | None = None) -> TestServer:
    app = web.Application()
    app.router.add_post("/events", system.handle)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return server


@pytest.fixture
async def case_system(clock: MutableClock) -> AsyncIterator[tuple[CaseSystem, str]]:
    system = CaseSystem(clock=clock)
    server = await start_receiver(system)
    try:
        yield system, str(server.make_url("/events"))
    finally:
        await server.close()


async def register(
    staff: Staff, system: CaseSystem, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    endpoint: dict[str, Any] = await staff.call(
        "POST",
        "/api/v1/webhooks",
        role="admin",
        json={"url": url, "events": events or ALL_EVENTS, "description": "Kent case system"},
        expect=201,
    )
    system.secret = endpoint["secret"]
    return endpoint


async def deliver(staff: Staff) -> int:
    return int(await staff.client.app[DISPATCHER].run_once())


async def log_of(staff: Staff, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await staff.call(
        "GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", role="admin", expect=200
    )
    deliveries: list[dict[str, Any]] = answer["deliveries"]
    return deliveries


async def test_the_case_story_arrives_signed_and_without_personal_data(
    staff: Staff, clock: MutableClock, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    endpoint = await register(staff, system, url)
    mediator_id = await mediator_for(staff)
    case, party = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 20, 10), attended={party["parent"]: (0, 90)}
    )
    clock.set(utc(2026, 3, 20, 14))
    await record(staff, meeting_id, result="no_agreement")
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )

    await deliver(staff)

    assert system.refused == []
    types = sorted(e["type"] for e in system.events.values())
    assert types == sorted(
        ["case.created", "attendance.final", "outcome.recorded", "certificate.issued"]
    )
    for event in system.events.values():
        assert event["data"]["case"] == {"id": case["id"], "reference": "KIDS-2026-0100"} | (
            {"kind": "mediation", "local_authority": "Kent"}
            if event["type"] == "case.created"
            else {}
        )
    (outcome,) = system.of_type("outcome.recorded")
    assert outcome["data"]["outcome"]["result"] == "no_agreement"
    assert outcome["data"]["meeting"]["id"] == str(meeting_id)
    assert outcome["data"]["meeting"]["sequence"] == 1
    (attendance,) = system.of_type("attendance.final")
    attended = {row["party_id"]: row["attended"] for row in attendance["data"]["attendance"]}
    assert attended[party["parent"]] is True and attended[party["la_officer"]] is False
    (certificate,) = system.of_type("certificate.issued")
    assert certificate["data"]["certificate"]["number"] == "CERT-2026-00001"
    assert certificate["data"]["certificate"]["due_date"] == "2026-03-25"

    raw = b" ".join(body for _, body in system.requests).decode()
    for person in (PARENT, LA_OFFICER, SCHOOL):
        for key in ("name", "email", "phone", "organisation", "needs"):
            if key in person:
                assert person[key] not in raw

    listed = await staff.call("GET", "/api/v1/webhooks", role="admin", expect=200)
    assert [e["id"] for e in listed["endpoints"]] == [endpoint["id"]]
    assert "secret" not in listed["endpoints"][0]
    log = await log_of(staff, endpoint)
    assert len(log) == 4
    assert {d["status"] for d in log} == {"sent"}
    assert all(len(d["log"]) == 1 and d["log"][0]["status_code"] == 204 for d in log)


async def test_receiver_down_is_retried_and_delivered_once_it_is_back(
    staff: Staff, clock: MutableClock
) -> None:
    system = CaseSystem(clock=clock)
    port = free_port()
    endpoint = await register(
        staff, system, f"http://127.0.0.1:{port}/events", events=["case.created"]
    )
    await open_case(staff, clock, parties=())

    await deliver(staff)  # nothing is listening: connection refused
    (first,) = await log_of(staff, endpoint)
    assert first["status"] == "pending"
    assert "unreachable" in first["log"][0]["error"]

    server = await start_receiver(system, port=port)
    try:
        system.answer = 503  # up, but overloaded
        clock.advance(hours=2)
        await deliver(staff)
        system.answer = 204
        clock.advance(hours=2)
        await deliver(staff)
    finally:
        await server.close()

    (done,) = await log_of(staff, endpoint)
    assert done["status"] == "sent"
    assert [a["status_code"] for a in done["log"]] == [None, 503, 204]
    assert [a["delivered"] for a in done["log"]] == [False, False, True]
    assert system.refused == []  # the late retry was signed afresh, so it is not stale
    (event,) = system.events.values()
    assert event["id"] == done["event_id"]


async def test_a_4xx_stops_is_shown_and_can_be_redelivered_by_hand(
    staff: Staff, clock: MutableClock, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    endpoint = await register(staff, system, url, events=["case.created"])
    await open_case(staff, clock, parties=())
    system.answer = 410
    await deliver(staff)
    clock.advance(days=1)
    assert await deliver(staff) == 0  # refused for good: no retry

    (failed,) = await log_of(staff, endpoint)
    assert failed["status"] == "failed"
    assert failed["last_status_code"] == 410
    assert "410" in failed["last_error"]
    assert len(failed["log"]) == 1

    system.answer = 204
    await staff.call(
        "POST", f"/api/v1/webhooks/deliveries/{failed['message_id']}/redeliver", expect=403
    )
    again = await staff.call(
        "POST",
        f"/api/v1/webhooks/deliveries/{failed['message_id']}/redeliver",
        role="admin",
        expect=200,
    )
    assert again["status"] == "pending"
    await deliver(staff)
    (sent,) = await log_of(staff, endpoint)
    assert sent["status"] == "sent"
    assert [a["status_code"] for a in sent["log"]] == [410, 204]
    # The same event id and body both times.
    assert len({body for _, body in system.requests}) == 1
    assert list(system.events) == [failed["event_id"]]


async def test_a_replayed_delivery_is_refused_by_the_documented_check(
    staff: Staff, clock: MutableClock, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    await register(staff, system, url, events=["case.created"])
    await open_case(staff, clock, parties=())
    await deliver(staff)
    headers, body = system.requests[0]
    assert len(system.events) == 1

    # Someone captured the request and sends it again ten minutes later.
    clock.advance(minutes=10)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url,
            data=body,
            headers={k: v for k, v in headers.items() if k.lower().startswith("x-orch")}
            | {"Content-Type": "application/json"},
        ) as response:
            assert response.status == 401
    assert system.refused == ["stale timestamp"]

    # A tampered body fails the signature even when fresh.
    clock.advance(minutes=-10)
    forged = json.loads(body)
    forged["data"]["case"]["reference"] = "SOMEONE-ELSE"
    with pytest.raises(ValueError, match="bad signature"):
        system.verify(
            system.secret,
            headers,
            json.dumps(forged, separators=(",", ":")).encode(),
            now=clock().timestamp(),
        )


async def test_only_admins_manage_endpoints_and_switched_off_ones_get_nothing(
    staff: Staff, clock: MutableClock, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    await staff.call(
        "POST", "/api/v1/webhooks", json={"url": url, "events": ALL_EVENTS}, expect=403
    )
    bad = await staff.call(
        "POST", "/api/v1/webhooks", role="admin", json={"url": url, "events": ["x"]}, expect=422
    )
    assert bad["error"]["details"][0]["loc"] == ["events"]
    await staff.call(
        "POST",
        "/api/v1/webhooks",
        role="admin",
        json={"url": "ftp://example.org/x", "events": ALL_EVENTS},
        expect=422,
    )
    endpoint = await register(staff, system, url, events=["case.created"])
    off = await staff.call(
        "PATCH", f"/api/v1/webhooks/{endpoint['id']}", role="admin", json={"active": False}
    )
    assert off["active"] is False
    await open_case(staff, clock, parties=())
    await deliver(staff)
    assert system.requests == []
    assert await log_of(staff, endpoint) == []


async def test_a_poll_answer_is_written_back_as_party_replied(
    staff: Staff, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    await register(staff, system, url, events=["party.replied"])
    case = await availability.make_case(staff)
    await availability.make_mediator(staff, case["id"])
    parent = await availability.add_party(staff, case["id"])
    poll = await availability.request_poll(staff, case["id"])
    link = await availability.poll_link_for(staff, "pat@family.example")
    first, second = poll["candidates"][:2]

    answered = await staff.client.post(
        link,
        data={availability.field(first): "yes", availability.field(second): "no"},
        allow_redirects=False,
    )
    assert answered.status == 303
    await deliver(staff)

    (replied,) = system.of_type("party.replied")
    assert replied["data"]["party"] == {"id": parent["id"], "role": "parent"}
    assert replied["data"]["answer"] == "availability_given"
    assert replied["data"]["poll"] == {"id": poll["poll_id"], "yes": 1, "if_need_be": 0, "no": 1}
    assert "pat@family.example" not in json.dumps(replied) and "Pat" not in json.dumps(replied)


async def test_a_cancellation_after_a_move_is_not_stale_news_by_its_sequence(
    staff: Staff, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    await register(staff, system, url, events=["meeting.rescheduled", "meeting.cancelled"])
    booked = await invites.book(staff, await invites.make_case(staff), utc(2026, 3, 10, 10))
    meeting_url = f"/api/v1/meetings/{booked.meeting_id}"
    await staff.call(
        "POST",
        f"{meeting_url}/reschedule",
        json={"start": "2026-03-11T10:00:00Z", "duration_minutes": 120},
        expect=200,
    )
    await staff.call("POST", f"{meeting_url}/cancel", json={"reason": "x"}, expect=200)
    await deliver(staff)

    # A receiver following the docs keeps the news with the highest sequence per meeting.
    newest: dict[str, dict[str, Any]] = {}
    for event in sorted(system.events.values(), key=lambda e: e["data"]["meeting"]["sequence"]):
        meeting = event["data"]["meeting"]
        if meeting["id"] not in newest or meeting["sequence"] > newest[meeting["id"]]["sequence"]:
            newest[meeting["id"]] = {"sequence": meeting["sequence"], "type": event["type"]}
    assert newest[booked.meeting_id]["type"] == "meeting.cancelled"
    (cancelled,) = system.of_type("meeting.cancelled")
    assert cancelled["data"]["meeting"]["status"] == "cancelled"
    assert (
        cancelled["data"]["meeting"]["sequence"]
        == (await staff.call("GET", meeting_url))["sequence"]
    )


async def test_a_no_to_disagreement_resolution_writes_back_the_cancelled_meeting(
    staff: Staff, case_system: tuple[CaseSystem, str]
) -> None:
    system, url = case_system
    await register(staff, system, url, events=["meeting.cancelled", "party.replied"])
    school = {**SCHOOL, "email": "head@oakfield.example"}
    booked = await invites.make_case(staff, people=[PARENT, school], kind="disagreement_resolution")
    await invites.book(staff, booked, utc(2026, 3, 12, 10))
    await invites.deliver_mail(staff.client)
    settings = staff.client.app[SETTINGS]
    asks = [
        m
        for m in invites.mail_to(invites.read_folder(settings.mail_dir), school["email"])
        if "Will you take part" in str(m["Subject"])
    ]
    found = re.search(r"http://testserver\.local(/c/\S+)", invites.text_of(asks[0]))
    assert found is not None
    answered = await staff.client.post(found.group(1), data={"answer": "no"}, allow_redirects=False)
    assert answered.status == 303
    await deliver(staff)

    (cancelled,) = system.of_type("meeting.cancelled")
    assert cancelled["data"]["meeting"]["id"] == booked.meeting_id
    assert cancelled["data"]["meeting"]["status"] == "cancelled"
    (replied,) = system.of_type("party.replied")
    assert replied["data"]["answer"] == "will_not_take_part"
