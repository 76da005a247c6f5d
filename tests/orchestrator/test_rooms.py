"""Rooms: made by the outbox (with a fallback provider), run by the mediator, state machines."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.core.models import (
    MeetingTransition,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
)
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB, METRICS
from tests.conftest import MutableClock, Staff
from tests.fakes.bbb import API_PATH, BbbFake
from tests.orchestrator.meetings_support import (
    START,
    app_with,
    book,
    deliver_outbox,
    get,
    join_links,
    let_in,
    path_of,
    ready_case,
    serve,
    timeline_kinds,
)


async def room_calls(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.provider_call)
        )
        return list(rows.all())


async def test_fallback_provider_after_the_deadline_and_links_keep_working(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    bbb = BbbFake("bbb-secret")
    bbb.fail_status = 503
    url = await serve(aiohttp_server, bbb.app())
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        video_provider="bbb",
        fallback_video_provider="jitsi",
        provider_fallback_after_minutes=30,
        bbb_base_url=url + API_PATH,
        bbb_shared_secret=SecretStr("bbb-secret"),
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    link = (await join_links(staff, meeting["id"]))[ready.parties["parent"]]
    await deliver_outbox(client)
    [call] = await room_calls(client)
    assert call.status is OutboxStatus.pending and call.attempts == 1  # retried later
    clock.set(START - timedelta(minutes=10))  # the join window is open; still no room
    status, text, _ = await get(client, path_of(link["url"]) + "/video")
    assert status == 503 and "being prepared" in text

    clock.set(call.created_at + timedelta(minutes=31))
    await deliver_outbox(client)
    [call] = await room_calls(client)
    assert call.status is OutboxStatus.sent
    assert "meeting.room_fallback" in await timeline_kinds(client, meeting["id"])
    shown = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}", expect=200)
    assert shown["provider"] == "jitsi" and shown["room_ready"]
    # The same link, sent days ago, now leads to the fallback room.
    clock.set(START - timedelta(minutes=10))
    found = await join_links(staff, meeting["id"])
    assert found[ready.parties["parent"]]["url"] == link["url"]
    await let_in(client, staff, meeting["id"], found, ready.parties["parent"])
    status, _, location = await get(client, path_of(link["url"]) + "/video")
    assert status == 303 and location is not None
    assert urlsplit(location).netloc == "meet.jit.si"


async def test_refused_credentials_stop_and_alert(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    bbb = BbbFake("the-real-secret")
    url = await serve(aiohttp_server, bbb.app())
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        video_provider="bbb",
        bbb_base_url=url + API_PATH,
        bbb_shared_secret=SecretStr("a-wrong-secret"),
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    clock.advance(hours=2)
    await deliver_outbox(client)
    [call] = await room_calls(client)
    assert call.status is OutboxStatus.failed and call.attempts == 1  # no pointless retries
    assert "meeting.room_failed" in await timeline_kinds(client, meeting["id"])
    gauge = client.app[METRICS].registry.get_sample_value(
        "orchestrator_dependency_up", {"dependency": "video:bbb"}
    )
    assert gauge == 0


async def test_session_state_machine_and_who_may_run_the_room(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    base = f"/api/v1/meetings/{meeting['id']}"
    await staff.call("POST", base + "/start", role="scheduler", expect=403)
    await staff.call("POST", base + "/end", role="mediator", expect=409)  # not started
    clock.set(START)
    started = await staff.call("POST", base + "/start", role="mediator", expect=200)
    assert started["status"] == "in_session"
    await staff.call("POST", base + "/start", role="mediator", expect=409)
    await staff.call("POST", base + "/pause", role="mediator", expect=200)
    await staff.call("POST", base + "/start", role="admin", expect=200)  # resumed by an admin
    refused = await staff.call("POST", base + "/cancel", json={"reason": "x"}, expect=409)
    assert refused["error"]["code"] == "invalid_state"
    ended = await staff.call("POST", base + "/end", role="mediator", expect=200)
    assert ended["status"] == "closed"
    await staff.call("POST", base + "/start", role="mediator", expect=409)
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(MeetingTransition)
            .where(col(MeetingTransition.meeting_id) == uuid.UUID(meeting["id"]))
            .order_by(col(MeetingTransition.at))
        )
        steps = [(r.from_status, r.to_status.value, r.source) for r in rows.all()]
    assert [s[1] for s in steps] == ["scheduled", "in_session", "paused", "in_session", "closed"]
    assert all(s[2] in ("booking", "mediator") for s in steps)


async def test_video_caucus_sends_a_party_to_their_private_room_and_back(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    base = f"/api/v1/meetings/{meeting['id']}"
    links = await join_links(staff, meeting["id"])
    parent_video = path_of(links[ready.parties["parent"]]["url"]) + "/video"
    officer_video = path_of(links[ready.parties["la_officer"]]["url"]) + "/video"
    clock.set(START)
    await let_in(
        client, staff, meeting["id"], links, ready.parties["parent"], ready.parties["la_officer"]
    )
    _, _, joint = await get(client, parent_video)
    await staff.call(
        "POST",
        base + "/rooms",
        role="scheduler",
        json={"label": "Family", "party_ids": [ready.parties["parent"]]},
        expect=403,
    )
    state = await staff.call(
        "POST",
        base + "/rooms",
        role="mediator",
        json={"label": "Family", "party_ids": [ready.parties["parent"]]},
        expect=201,
    )
    caucus = next(r for r in state["rooms"] if r["kind"] == "caucus")
    await deliver_outbox(client)
    _, _, private = await get(client, parent_video)
    _, _, officer = await get(client, officer_video)
    assert joint and private and officer
    assert urlsplit(private).path != urlsplit(joint).path  # the parent goes to the caucus
    assert urlsplit(officer).path == urlsplit(joint).path  # the officer stays in the joint room
    await staff.call("POST", f"{base}/rooms/{caucus['id']}/close", role="mediator", expect=200)
    _, _, back = await get(client, parent_video)
    assert back and urlsplit(back).path == urlsplit(joint).path
    await staff.call("POST", f"{base}/rooms/{caucus['id']}/close", role="mediator", expect=409)


async def test_mediator_marks_attendance(staff: Staff, clock: MutableClock) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id, mode="in_person", venue={"address": "1 Road"})
    base = f"/api/v1/meetings/{meeting['id']}"
    clock.set(START)
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    mark = {"party_id": ready.parties["parent"], "status": "in_session", "note": "arrived"}
    await staff.call("POST", base + "/attendance", role="scheduler", json=mark, expect=403)
    report = await staff.call("POST", base + "/attendance", role="mediator", json=mark, expect=201)
    clock.advance(hours=2)
    left = {"party_id": ready.parties["parent"], "status": "left"}
    await staff.call("POST", base + "/attendance", role="mediator", json=left, expect=201)
    report = await staff.call("GET", base + "/attendance", role="scheduler", expect=200)
    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    assert parent["seconds_present"] == 7200 and parent["attended"]
    assert [e["kind"] for e in parent["events"]] == ["marked_by_mediator"] * 2
    assert parent["events"][0]["note"] == "arrived"
    stranger = {"party_id": str(uuid.uuid4()), "status": "left"}
    await staff.call("POST", base + "/attendance", role="mediator", json=stranger, expect=404)


async def test_the_mediator_cannot_start_before_joining_opens(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock, settings: Settings
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    base = f"/api/v1/meetings/{meeting['id']}"
    opens = START - timedelta(minutes=settings.join_opens_minutes)
    clock.set(START - timedelta(minutes=76))

    refused = await staff.call("POST", base + "/start", role="mediator", expect=409)

    assert refused["error"]["code"] == "invalid_state"
    assert opens.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "09:30"
    assert "can be started from 9:30am on Tuesday 10 March" in refused["error"]["message"]
    assert (await staff.call("GET", base))["status"] == "scheduled"
    clock.set(opens)
    started = await staff.call("POST", base + "/start", role="mediator", expect=200)
    assert started["status"] == "in_session"


async def test_the_participant_table_refuses_a_move_it_does_not_have(
    staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id, mode="in_person", venue={"address": "1 Road"})
    base = f"/api/v1/meetings/{meeting['id']}"
    clock.set(START)
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    parent = ready.parties["parent"]
    # Nobody goes to a caucus room without having come in: that is what opening one does.
    caucus = {"party_id": parent, "status": "in_caucus"}
    refused = await staff.call(
        "POST", base + "/attendance", role="mediator", json=caucus, expect=409
    )
    assert refused["error"] == {
        "code": "invalid_state",
        "message": "a participant who is not signed in cannot become in caucus",
        "details": {"status": "not_signed_in", "requested": "in_caucus"},
    }
    arrived = {"party_id": parent, "status": "in_session"}
    await staff.call("POST", base + "/attendance", role="mediator", json=arrived, expect=201)
    clicked = {"party_id": parent, "status": "joining"}  # what a click records, not a mark
    refused = await staff.call(
        "POST", base + "/attendance", role="mediator", json=clicked, expect=409
    )
    assert refused["error"]["message"] == "a participant who is in session cannot become joining"
    report = await staff.call("GET", base + "/attendance", role="mediator", expect=200)
    row = next(p for p in report["parties"] if p["party_id"] == parent)
    assert [e["kind"] for e in row["events"]] == ["marked_by_mediator"]  # nothing refused kept
    # Moves the table has still go through: out of the joint room, and a repeated mark;
    # "did not attend" corrects the record from wherever it stands.
    left = {"party_id": parent, "status": "left"}
    await staff.call("POST", base + "/attendance", role="mediator", json=left, expect=201)
    await staff.call("POST", base + "/attendance", role="mediator", json=left, expect=201)
    absent = {"party_id": parent, "status": "not_signed_in"}
    await staff.call("POST", base + "/attendance", role="mediator", json=absent, expect=201)
