"""Our own lobby, a whole session on Jitsi: waiting, let in, a private room, recall, the end.

At each step the test asks what each person's page and link do (the waiting page, its
event stream, the join click) and checks the Jitsi token they are handed against the
Jitsi fake's Prosody rules, and that the room state and the attendance record agree.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from orchestrator.core.settings import Settings
from orchestrator.web.party import waiting
from tests.conftest import MutableClock, Staff
from tests.fakes.jitsi import Admission, JitsiFake
from tests.orchestrator.meetings_support import (
    START,
    ReadyCase,
    app_with,
    book,
    deliver_outbox,
    get,
    jitsi_settings,
    join_links,
    path_of,
    provider_calls,
    ready_case,
)

JITSI = jitsi_settings()


@pytest.fixture(autouse=True)
def quick_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "STREAM_POLL_S", 0.02)


def jitsi_fake() -> JitsiFake:
    secret = JITSI["jitsi_app_secret"].get_secret_value()
    return JitsiFake(app_id=JITSI["jitsi_app_id"], app_secret=secret, clock=START.timestamp)


def admitted_by_jitsi(location: str) -> Admission:
    """What the Jitsi deployment does with the URL a person was handed."""
    url = urlsplit(location)
    assert url.netloc == "meet.example.test"
    room = url.path.strip("/")
    return jitsi_fake().verify(parse_qs(url.query)["jwt"][0], room)


class Stream:
    """One waiting page's open event stream."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response

    async def next_message(self) -> str:
        return (await self.response.content.readuntil(b"\n\n")).decode()

    async def next_place(self) -> dict[str, Any]:
        """The next ``place`` event (skipping the keep-alive comments)."""
        while True:
            message = await self.next_message()
            if message.startswith("event: place"):
                data = message.split("data: ", 1)[1].strip()
                return json.loads(data)  # type: ignore[no-any-return]

    async def quiet_for(self, polls: int) -> bool:
        """True when the next ``polls`` messages are all keep-alives (nothing changed)."""
        for _ in range(polls):
            if not (await self.next_message()).startswith(": still here"):
                return False
        return True


async def open_stream(client: TestClient[Any, Any], link: str) -> Stream:
    response = await client.get(path_of(link) + "/events")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert (await response.content.readuntil(b"\n\n")).startswith(b"retry:")
    return Stream(response)


async def click(client: TestClient[Any, Any], link: str) -> str:
    """Press "Join the meeting": where the 303 sends them."""
    status, _, location = await get(client, path_of(link) + "/video")
    assert status == 303 and location is not None
    return location


async def who_is_where(staff: Staff, meeting_id: str) -> dict[str, tuple[str, str | None]]:
    state = await staff.call("GET", f"/api/v1/meetings/{meeting_id}/rooms", expect=200)
    return {p["party_id"]: (p["status"], p["room_id"]) for p in state["participants"]}


async def booked_on_jitsi(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, ReadyCase, Any, dict[str, dict[str, Any]]]:
    """The app on a Jitsi deployment with tokens, a meeting booked and its room made."""
    client, staff = await app_with(aiohttp_client, settings, clock, **JITSI)
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    return client, staff, ready, meeting, await join_links(staff, meeting["id"])


async def test_a_whole_session_through_our_lobby(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, ready, meeting, links = await booked_on_jitsi(aiohttp_client, settings, clock)
    base = f"/api/v1/meetings/{meeting['id']}"
    parent_id, officer_id = ready.parties["parent"], ready.parties["la_officer"]
    parent, officer = links[parent_id]["url"], links[officer_id]["url"]

    # The mediator goes straight in, past Jitsi's lobby, and starts.
    clock.set(START - timedelta(minutes=5))
    mediator = admitted_by_jitsi(await click(client, links["mediator"]["url"]))
    assert mediator.moderator and not mediator.in_lobby
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    joint_room = mediator.room

    # Both parties' clicks land on our waiting page, which tells them who they wait for.
    assert urlsplit(await click(client, parent)).path == path_of(parent) + "/wait"
    assert urlsplit(await click(client, officer)).path == path_of(officer) + "/wait"
    status, page, _ = await get(client, path_of(officer) + "/wait")
    assert status == 200 and "The mediator will let you in." in page
    assert f'http-equiv="refresh" content="10; url={path_of(officer)}/wait?waited=1"' in page
    assert "Check again" in page
    status, page, _ = await get(client, path_of(officer))
    assert "You will wait until the mediator lets you in." in page
    where = await who_is_where(staff, meeting["id"])
    assert where[parent_id][0] == where[officer_id][0] == "in_lobby"
    parent_stream, officer_stream = (
        await open_stream(client, parent),
        await open_stream(client, officer),
    )
    assert (await parent_stream.next_place())["where"] == "waiting"
    assert (await officer_stream.next_place()) == {"where": "waiting", "href": None}

    # Admitting the parent releases them, with their own URL past Jitsi's lobby.
    await staff.call(
        "POST", base + "/admit", role="mediator", json={"party_id": parent_id}, expect=200
    )
    released = await parent_stream.next_place()
    assert released["where"] == "joint"
    in_joint = admitted_by_jitsi(released["href"])
    assert in_joint.room == joint_room and not in_joint.in_lobby and not in_joint.moderator
    assert await officer_stream.quiet_for(3)  # the officer is still waiting
    status, _, _ = await get(client, path_of(officer) + "/wait?waited=1")
    assert status == 200
    # Released once, the parent goes straight in at every click: never admitted twice.
    again = admitted_by_jitsi(await click(client, parent))
    assert again.room == joint_room and not again.in_lobby
    await staff.call(
        "POST", base + "/admit", role="mediator", json={"party_id": parent_id}, expect=409
    )
    assert urlsplit(await click(client, officer)).path == path_of(officer) + "/wait"

    # A private room for the parent: their page is told, and their link goes there.
    state = await staff.call(
        "POST",
        base + "/rooms",
        role="mediator",
        json={"label": "Family", "party_ids": [parent_id]},
        expect=201,
    )
    caucus = next(r for r in state["rooms"] if r["kind"] == "caucus")
    await deliver_outbox(client)
    moved = await parent_stream.next_place()
    assert moved["where"] == "caucus"
    private_room = admitted_by_jitsi(moved["href"]).room
    assert private_room != joint_room
    assert admitted_by_jitsi(await click(client, parent)).room == private_room
    status, page, _ = await get(client, path_of(parent) + "/wait")
    assert status == 200 and "The mediator has asked you to join a private room" in page
    status, page, _ = await get(client, path_of(parent))  # the join page, reopened
    assert "The mediator has asked you to join a private room." in page
    assert "Join the private room" in page
    # Reopening the link does not put them back in the lobby on the console.
    assert (await who_is_where(staff, meeting["id"]))[parent_id] == ("in_caucus", caucus["id"])

    # Recall: back to the joint room, on the page and at the next click.
    await staff.call("POST", base + "/recall", role="mediator", expect=200)
    back = await parent_stream.next_place()
    assert back["where"] == "joint" and admitted_by_jitsi(back["href"]).room == joint_room
    assert admitted_by_jitsi(await click(client, parent)).room == joint_room
    status, page, _ = await get(client, path_of(parent) + "/wait")
    assert "The mediator has asked you to come back to the main room" in page
    status, page, _ = await get(client, path_of(parent))
    assert "The mediator has let you in." in page and "Join the private room" not in page
    assert (await who_is_where(staff, meeting["id"]))[parent_id][0] == "in_session"

    # The end: every page says so, the room's end goes to the provider queue, and
    # attendance closes everyone with the end time (the officer never got past the lobby).
    clock.set(START + timedelta(hours=2))
    await staff.call("POST", base + "/end", role="mediator", expect=200)
    assert (await parent_stream.next_place()) == {"where": "ended", "href": None}
    assert (await officer_stream.next_place())["where"] == "ended"
    for link in (parent, officer):
        status, page, _ = await get(client, path_of(link) + "/wait")
        assert status == 200 and "The meeting has ended" in page
        status, page, _ = await get(client, path_of(link) + "/video")
        assert status == 409 and "This meeting has ended" in page
    calls = [c.payload.get("action") for c in await provider_calls(client)]
    assert "end_room" in calls
    report = await staff.call("GET", base + "/attendance", expect=200)
    closed = {p["party_id"]: p for p in report["parties"]}
    assert {p["status"] for p in closed.values()} == {"left"}
    assert all(p["left_at"].startswith("2026-03-10T12:00:00") for p in closed.values())
    assert closed[parent_id]["attended"] and not closed[officer_id]["attended"]
    parent_stream.response.close()
    officer_stream.response.close()


async def test_the_mediator_has_no_waiting_page(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _, _, _, links = await booked_on_jitsi(aiohttp_client, settings, clock)
    clock.set(START)
    status, _, _ = await get(client, path_of(links["mediator"]["url"]) + "/wait")
    assert status == 404
    status, _, _ = await get(client, f"/j/{uuid.uuid4().hex}/wait")
    assert status == 404  # a made-up link: refused, not a 500
