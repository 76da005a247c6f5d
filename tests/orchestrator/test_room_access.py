"""Who can still get into a room: token lifetimes, moved rooms, PINs and the dial-in mapper."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from tests.conftest import MutableClock, Staff
from tests.fakes.jitsi import JitsiFake, TokenRejected
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
    await let_in(client, staff, meeting["id"], links, ready.parties["parent"])
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
    await let_in(client, staff, meeting["id"], links, parent, officer)
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
    await let_in(client, staff, meeting["id"], links, ready.parties["la_officer"])
    room, _ = await click(client, links[ready.parties["la_officer"]]["url"])
    await withdraw("removed", client, staff, ready.case_id, ready.parties["parent"])
    await deliver_outbox(client)
    assert (await click(client, links[ready.parties["la_officer"]]["url"]))[0] == room


# ---------------------------------------------------------------------------- PINs

DIAL_IN = "+44 20 7946 0000"
GATEWAY_TOKEN = "jigasi-gateway-token-0123456789"
MUC = "conference.meet.example.test"


@pytest.fixture
async def dial_in_app(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff]:
    return await app_with(
        aiohttp_client,
        settings,
        clock,
        jitsi_base_url="https://meet.example.test",
        jitsi_app_id=APP_ID,
        jitsi_app_secret=SecretStr(APP_SECRET),
        jitsi_dial_in_number=DIAL_IN,
        jitsi_mapper_token=SecretStr(GATEWAY_TOKEN),
    )


async def mapper(
    client: TestClient[Any, Any], query: str, token: str | None = GATEWAY_TOKEN
) -> tuple[int, dict[str, Any]]:
    """Call the conference mapper as Jigasi (with its token) or as anyone else."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.get(f"/hooks/jitsi/mapper?{query}", headers=headers) as response:
        return response.status, await response.json()


def shown_pin(page: str) -> str:
    """The PIN the join page shows, as the person would key it."""
    import re

    found = re.search(r'id="pin">([0-9 ]+)<', page)
    assert found, "the page shows no PIN"
    return found.group(1).replace(" ", "")


async def test_each_person_has_their_own_pin_and_only_the_gateway_may_look_one_up(
    dial_in_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = dial_in_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    pages = {who: (await get(client, path_of(link["url"])))[1] for who, link in links.items()}
    pins = {who: shown_pin(page) for who, page in pages.items()}
    assert len(set(pins.values())) == 3 and all(len(pin) == 6 for pin in pins.values())
    assert all("This PIN is yours alone" in page and DIAL_IN in page for page in pages.values())
    status, body = await mapper(client, f"id={pins['mediator']}")
    assert status == 200 and body["conference"] is False  # a week early: not yet
    clock.set(START - timedelta(minutes=10))
    room, _ = await click(client, links["mediator"]["url"])
    conference = f"{room}@{MUC}"

    # The browser's forward look-up names no PIN, so nobody in the room can read one off.
    status, body = await mapper(client, f"conference={conference}", token=None)
    assert status == 200 and "id" not in body and "conference" not in body
    assert all(pin not in str(body) for pin in pins.values())

    parent_pin = pins[ready.parties["parent"]]
    assert (await mapper(client, f"id={parent_pin}", token=None))[0] == 401
    assert (await mapper(client, f"id={parent_pin}", token="guessed"))[0] == 401
    for who in links:
        status, body = await mapper(client, f"id={pins[who]}")
        assert status == 200 and body["conference"] == conference
    status, body = await mapper(client, "id=100000")
    assert status == 200 and body["conference"] is False


async def test_a_scan_of_pins_is_stopped(
    dial_in_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = dial_in_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    real_pin = shown_pin((await get(client, path_of(links["mediator"]["url"])))[1])
    clock.set(START - timedelta(minutes=10))
    statuses = [(await mapper(client, f"id={100000 + n}"))[0] for n in range(60)]
    assert statuses[0] == 200 and statuses[-1] == 429
    status, body = await mapper(client, f"id={real_pin}")
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    unauthorised = [(await mapper(client, "id=1", token=None))[0] for _ in range(3)]
    assert unauthorised == [429, 429, 429]


async def test_a_withdrawn_partys_pin_stops_working_and_theirs_alone(
    dial_in_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = dial_in_app
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    parent, officer = ready.parties["parent"], ready.parties["la_officer"]
    pins = {who: shown_pin((await get(client, path_of(links[who]["url"])))[1]) for who in links}
    clock.set(START - timedelta(minutes=10))
    await let_in(client, staff, meeting["id"], links, parent, officer)
    await click(client, links[parent]["url"])  # the parent holds a room URL, too
    await withdraw("revoked", client, staff, ready.case_id, parent)
    await deliver_outbox(client)
    status, body = await mapper(client, f"id={pins[parent]}")
    assert status == 200 and body["conference"] is False
    new_room, _ = await click(client, links[officer]["url"])
    status, body = await mapper(client, f"id={pins[officer]}")
    assert body["conference"] == f"{new_room}@{MUC}"  # the moved room, by the same PIN
    officer_page = (await get(client, path_of(links[officer]["url"])))[1]
    assert shown_pin(officer_page) == pins[officer]


async def test_a_shared_room_pin_is_not_called_yours_alone(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    from tests.fakes.bbb import API_PATH, BbbFake
    from tests.orchestrator.meetings_support import serve

    bbb = BbbFake("bbb-shared-secret")
    bbb_url = await serve(aiohttp_server, bbb.app())
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        video_provider="bbb",
        bbb_base_url=bbb_url + API_PATH,
        bbb_shared_secret=SecretStr("bbb-shared-secret"),
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    pages = [(await get(client, path_of(link["url"])))[1] for link in links.values()]
    assert len({shown_pin(page) for page in pages}) == 1  # BigBlueButton's voice bridge
    for page in pages:
        assert "yours alone" not in page
        assert "everyone who joins by telephone keys the same one" in page


async def test_on_bigbluebutton_a_withdrawn_partys_join_url_and_voice_bridge_stop_working(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    import aiohttp
    from yarl import URL

    from tests.fakes.bbb import API_PATH, BbbFake
    from tests.orchestrator.meetings_support import serve

    bbb = BbbFake("bbb-shared-secret")
    bbb_url = await serve(aiohttp_server, bbb.app())
    client, staff = await app_with(
        aiohttp_client,
        settings,
        clock,
        video_provider="bbb",
        bbb_base_url=bbb_url + API_PATH,
        bbb_shared_secret=SecretStr("bbb-shared-secret"),
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    parent, officer = ready.parties["parent"], ready.parties["la_officer"]
    officer_page = path_of(links[officer]["url"])
    old_pin = shown_pin((await get(client, officer_page))[1])
    clock.set(START - timedelta(minutes=10))
    await let_in(client, staff, meeting["id"], links, parent, officer)
    _, _, parent_url = await get(client, path_of(links[parent]["url"]) + "/video")
    assert parent_url is not None

    await withdraw("removed", client, staff, ready.case_id, parent)
    await deliver_outbox(client)
    async with aiohttp.ClientSession() as http:
        held = URL(parent_url, encoded=True)
        async with http.get(held, allow_redirects=False) as response:
            assert response.status == 200 and "invalidMeetingIdentifier" in await response.text()
        _, _, officer_url = await get(client, officer_page + "/video")
        assert officer_url is not None
        async with http.get(URL(officer_url, encoded=True), allow_redirects=False) as response:
            assert response.status == 302  # the officer is let into the new meeting
    assert len(bbb.meetings) == 1
    (running,) = bbb.meetings.values()
    new_pin = shown_pin((await get(client, officer_page))[1])
    assert new_pin != old_pin and running.voice_bridge == new_pin


async def test_an_open_caucus_room_moves_with_the_joint_room(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = jitsi_app
    ready = await ready_case(staff, parties=("parent", "la_officer", "school"))
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    links = await join_links(staff, meeting["id"])
    parent, officer = ready.parties["parent"], ready.parties["la_officer"]
    clock.set(START)
    await let_in(client, staff, meeting["id"], links, parent, officer)
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/rooms",
        role="mediator",
        json={"label": "Family", "party_ids": [parent, officer]},
        expect=201,
    )
    await deliver_outbox(client)
    old_caucus, parent_token = await click(client, links[parent]["url"])
    assert (await click(client, links[officer]["url"]))[0] == old_caucus

    await withdraw("removed", client, staff, ready.case_id, parent)
    await deliver_outbox(client)
    await deliver_outbox(client)  # the joint room first, then the caucus room beside it
    new_caucus, officer_token = await click(client, links[officer]["url"])
    joint, _ = await click(client, links["mediator"]["url"])
    assert new_caucus != old_caucus and new_caucus.startswith(joint + "-")
    jitsi = JitsiFake(app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: clock().timestamp())
    assert jitsi.verify(officer_token, new_caucus)
    with pytest.raises(TokenRejected, match="another room"):
        jitsi.verify(parent_token, new_caucus)
