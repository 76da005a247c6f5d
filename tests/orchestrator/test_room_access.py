"""Who can still get into a room: token lifetimes, moved rooms, PINs and the dial-in mapper."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.models import StaffRole
from orchestrator.settings import Settings
from tests.conftest import MutableClock, Staff
from tests.fakes.jitsi import JitsiFake, TokenRejected
from tests.orchestrator.meetings_support import (
    START,
    app_with,
    book,
    deliver_outbox,
    get,
    join_links,
    path_of,
    ready_case,
    timeline_kinds,
)
from tests.orchestrator.web_support import Browser, make_user

APP_ID, APP_SECRET = "mediation", "jitsi-app-secret-for-tests-0123456789"
JOIN_CLOSES = START + timedelta(hours=3, minutes=60)  # a 3-hour meeting and 60 minutes' grace


@pytest.fixture
async def jitsi_app(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff]:
    return await app_with(
        aiohttp_client,
        settings,
        clock,
        jitsi_base_url="https://meet.example.test",
        jitsi_app_id=APP_ID,
        jitsi_app_secret=SecretStr(APP_SECRET),
    )


def room_and_token(location: str) -> tuple[str, str]:
    url = urlsplit(location)
    return url.path.strip("/"), parse_qs(url.query)["jwt"][0]


async def click(client: TestClient[Any, Any], join_url: str) -> tuple[str, str]:
    """Press "Join the meeting": the room and Jitsi token the 303 hands over."""
    status, _, location = await get(client, path_of(join_url) + "/video")
    assert status == 303 and location is not None
    return room_and_token(location)


async def test_a_room_token_ends_with_the_meetings_join_window(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = jitsi_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    clock.set(JOIN_CLOSES - timedelta(minutes=30))
    room, token = await click(client, links[ready.parties["parent"]]["url"])
    prosody_time = {"now": (JOIN_CLOSES - timedelta(minutes=1)).timestamp()}
    jitsi = JitsiFake(app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: prosody_time["now"])
    assert jitsi.verify(token, room).room == room  # still inside the window: in
    prosody_time["now"] = (JOIN_CLOSES + timedelta(minutes=1)).timestamp()
    with pytest.raises(TokenRejected, match="expired"):
        jitsi.verify(token, room)  # not four hours on: the window has closed


async def withdraw(
    how: str, client: TestClient[Any, Any], staff: Staff, case_id: str, party_id: str
) -> None:
    """Take a party's access away as staff do: remove them, or withdraw their links."""
    if how == "removed":
        await staff.call("DELETE", f"/api/v1/cases/{case_id}/parties/{party_id}", expect=204)
        return
    await make_user(client, "revoker@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    await browser.sign_in("revoker@staff.example")
    response = await browser.post(f"/staff/cases/{case_id}/parties/{party_id}/revoke-links")
    assert response.status == 303, await response.text()


@pytest.mark.parametrize("how", ["removed", "revoked"])
async def test_withdrawing_someone_who_clicked_moves_the_room_and_the_others_follow(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock, how: str
) -> None:
    client, staff = jitsi_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    parent, officer = ready.parties["parent"], ready.parties["la_officer"]
    clock.set(START - timedelta(minutes=10))
    old_room, parent_token = await click(client, links[parent]["url"])
    assert (await click(client, links[officer]["url"]))[0] == old_room
    jitsi = JitsiFake(app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: clock().timestamp())
    assert jitsi.verify(parent_token, old_room)

    await withdraw(how, client, staff, ready.case_id, parent)
    status, text, _ = await get(client, path_of(links[parent]["url"]) + "/video")
    assert status == 404 and "withdrawn" in text
    await deliver_outbox(client)

    # The officer's same link now leads to a new room, which the parent's token does not open.
    new_room, officer_token = await click(client, links[officer]["url"])
    assert new_room != old_room
    assert jitsi.verify(officer_token, new_room).room == new_room
    with pytest.raises(TokenRejected, match="another room"):
        jitsi.verify(parent_token, new_room)
    mediator_room, _ = await click(client, links["mediator"]["url"])
    assert mediator_room == new_room
    assert "meeting.room_moved" in await timeline_kinds(client, meeting["id"])


async def test_withdrawing_someone_who_never_clicked_leaves_the_room_alone(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = jitsi_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    clock.set(START - timedelta(minutes=10))
    room, _ = await click(client, links[ready.parties["la_officer"]]["url"])
    await withdraw("removed", client, staff, ready.case_id, ready.parties["parent"])
    await deliver_outbox(client)
    assert (await click(client, links[ready.parties["la_officer"]]["url"]))[0] == room
