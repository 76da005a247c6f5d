"""Teams attendance: Graph's report read into the case after the meeting, through the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.core import health
from orchestrator.core.models import OutboxMessage, OutboxStatus
from orchestrator.core.settings import Settings
from orchestrator.meeting.provider_queue import ATTENDANCE_REPORT_WAITS
from orchestrator.web.keys import DB, DISPATCHER, METRICS
from tests.conftest import MutableClock, Staff
from tests.fakes.graph import Attendee, FakeGraph
from tests.orchestrator.meetings_support import (
    START,
    ReadyCase,
    app_with,
    book,
    deliver_outbox,
    iso,
    provider_calls,
    ready_case,
    serve,
    timeline_kinds,
)

END = START + timedelta(hours=3)
FIRST_LOOK = ATTENDANCE_REPORT_WAITS[0]


async def teams_app(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, FakeGraph]:
    graph = FakeGraph()
    base = await serve(aiohttp_server, graph.app)
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        video_provider="teams",
        teams_tenant_id=graph.tenant_id,
        teams_client_id=graph.client_id,
        teams_client_secret=SecretStr(graph.client_secret),
        teams_organizer_user_id=graph.organizer_user_id,
        teams_login_base=base,
        teams_graph_base=base + "/v1.0",
    )
    return client, staff, graph


async def booked_teams_meeting(
    client: TestClient[Any, Any], staff: Staff, graph: FakeGraph
) -> tuple[ReadyCase, dict[str, Any], str]:
    """A case with a parent and an LA officer, its Teams meeting made; the Graph id."""
    ready = await ready_case(staff, parties=("parent", "la_officer"))
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    [graph_id] = graph.meetings
    return ready, meeting, graph_id


def at(minutes: float) -> str:
    return iso(START + timedelta(minutes=minutes))


def report_of_the_session(graph: FakeGraph, graph_id: str) -> None:
    """Teams' report: the parent (signed in with their own address), the officer, the
    mediator, and an anonymous guest nobody can be sure of."""
    graph.add_attendance_report(
        graph_id,
        start=at(0),
        end=at(120),
        attendees=[
            Attendee("Sam@Family.example", "Sam", "Attendee", [(at(1), at(60)), (at(65), at(120))]),
            Attendee("lee@kent.example", "Lee", "Presenter", [(at(2), at(120))]),
            Attendee("mediator@staff.example", "Morgan", "Organizer", [(at(0), at(120))]),
            Attendee("", "Someone", "Attendee", [(at(5), at(50))]),
        ],
    )


async def fetches(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    return [c for c in await provider_calls(client) if c.topic == "fetch_attendance"]


async def run_session(
    staff: Staff, clock: MutableClock, meeting_id: str, *, until: datetime
) -> None:
    """The mediator starts the session at its start and ends it at ``until``."""
    base = f"/api/v1/meetings/{meeting_id}"
    clock.set(START)
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    clock.set(until)
    await staff.call("POST", base + "/end", role="mediator", expect=200)


def teams_events(report: dict[str, Any], party_id: str) -> list[tuple[str, datetime]]:
    party = next(p for p in report["parties"] if p["party_id"] == party_id)
    return [
        (e["kind"], datetime.fromisoformat(e["at"]))
        for e in party["events"]
        if e["source"] == "teams"
    ]


async def test_the_mediator_runs_the_teams_meeting_and_the_parties_wait_for_them(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, graph = await teams_app(aiohttp_client, aiohttp_server, settings, clock)
    _, _, graph_id = await booked_teams_meeting(client, staff, graph)

    sent = graph.created[0]
    assert sent["participants"]["attendees"] == [
        {"upn": "mediator@staff.example", "role": "coorganizer"}
    ]
    url = graph.meetings[graph_id]["joinWebUrl"]
    parent = graph.join(url, name="Sam")  # a party joins as an anonymous guest
    assert parent.state == "lobby"
    mediator = graph.join(url, name="Morgan", upn="mediator@staff.example")
    assert (mediator.state, mediator.role) == ("in_meeting", "coorganizer")
    graph.admit(graph_id, "Sam")
    assert parent.state == "in_meeting"


async def test_the_report_is_read_after_the_session_ends_once_teams_has_written_it(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, graph = await teams_app(aiohttp_client, aiohttp_server, settings, clock)
    ready, meeting, graph_id = await booked_teams_meeting(client, staff, graph)
    base = f"/api/v1/meetings/{meeting['id']}"
    await run_session(staff, clock, meeting["id"], until=START + timedelta(hours=2))
    await deliver_outbox(client)
    assert graph.report_requests == []  # Teams writes its report some minutes after

    clock.advance(minutes=FIRST_LOOK.total_seconds() / 60)
    await deliver_outbox(client)  # not there yet: looked for again later, nothing failed
    assert {c.status for c in await fetches(client)} == {OutboxStatus.sent, OutboxStatus.pending}
    report_of_the_session(graph, graph_id)
    clock.advance(minutes=ATTENDANCE_REPORT_WAITS[1].total_seconds() / 60)
    await deliver_outbox(client)

    report = await staff.call("GET", base + "/attendance", expect=200)
    assert teams_events(report, ready.parties["parent"]) == [
        ("joined", START + timedelta(minutes=1)),
        ("left", START + timedelta(minutes=60)),
        ("joined", START + timedelta(minutes=65)),
        ("left", START + timedelta(minutes=120)),
    ]
    assert teams_events(report, ready.parties["la_officer"]) == [
        ("joined", START + timedelta(minutes=2)),
        ("left", START + timedelta(minutes=120)),
    ]
    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    assert parent["attended"] and parent["channel"] == "video"
    assert parent["seconds_present"] == (59 + 55) * 60
    assert report["unidentified_events"] == 2  # the anonymous guest's join and leave
    assert "meeting.attendance_read" in await timeline_kinds(client, meeting["id"])

    # Read again (a repeated delivery, and the read queued for the scheduled end): the
    # same facts, counted once.
    read = next(c for c in await fetches(client) if c.payload["look"] == 1)
    await client.app[DISPATCHER].attempt(read)
    clock.set(END + FIRST_LOOK)
    await deliver_outbox(client)
    assert await staff.call("GET", base + "/attendance", expect=200) == report
    assert (await timeline_kinds(client, meeting["id"])).count("meeting.attendance_read") == 1


async def test_a_meeting_nobody_ends_here_is_read_after_its_scheduled_end(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, graph = await teams_app(aiohttp_client, aiohttp_server, settings, clock)
    ready, meeting, graph_id = await booked_teams_meeting(client, staff, graph)
    report_of_the_session(graph, graph_id)  # held in Teams; nobody pressed start or end here

    clock.set(END + FIRST_LOOK)
    # Queued days ago, due only now: no staff banner says it has been waiting all along.
    assert health.banner(await health.check(client.app[DB], now=clock()), settings) is None
    await deliver_outbox(client)

    report = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}/attendance", expect=200)
    officer = teams_events(report, ready.parties["la_officer"])
    assert [kind for kind, _ in officer] == ["joined", "left"]


async def test_a_report_that_never_comes_is_recorded_on_the_timeline(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, graph = await teams_app(aiohttp_client, aiohttp_server, settings, clock)
    _, meeting, _ = await booked_teams_meeting(client, staff, graph)
    await run_session(staff, clock, meeting["id"], until=END)
    for wait in ATTENDANCE_REPORT_WAITS:
        clock.advance(minutes=wait.total_seconds() / 60)
        await deliver_outbox(client)
        stale = health.banner(await health.check(client.app[DB], now=clock()), settings)
        assert stale is None  # waiting for Graph's report is not an outage

    rows = await fetches(client)
    assert {c.status for c in rows} == {OutboxStatus.sent}
    assert len([c for c in rows if c.payload["after"] == "session_end"]) == len(
        ATTENDANCE_REPORT_WAITS
    )
    kinds = await timeline_kinds(client, meeting["id"])
    assert kinds.count("meeting.attendance_missing") == 1
    clock.advance(days=1)
    assert await deliver_outbox(client) == 0  # and nothing more is looked for


async def test_graph_refusing_our_credentials_stops_and_alerts(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, graph = await teams_app(aiohttp_client, aiohttp_server, settings, clock)
    _, meeting, _ = await booked_teams_meeting(client, staff, graph)
    await run_session(staff, clock, meeting["id"], until=END)
    graph.client_secret = "rotated-in-entra"  # ours no longer works
    graph.valid_tokens.clear()

    clock.advance(minutes=FIRST_LOOK.total_seconds() / 60)
    await deliver_outbox(client)
    clock.advance(hours=6)
    await deliver_outbox(client)

    [read] = [c for c in await fetches(client) if c.payload["after"] == "session_end"]
    assert read.status is OutboxStatus.failed and read.attempts == 1  # no pointless retries
    assert "meeting.attendance_failed" in await timeline_kinds(client, meeting["id"])
    gauge = client.app[METRICS].registry.get_sample_value(
        "orchestrator_dependency_up", {"dependency": "video:teams"}
    )
    assert gauge == 0
