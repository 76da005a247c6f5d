"""Personal join links: the /j/ page, the 303 to the person's own room, and every attack."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.cases import links
from orchestrator.core.models import LinkScope
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.fakes.jitsi import JitsiFake
from tests.orchestrator.meetings_support import (
    START,
    app_with,
    book,
    deliver_outbox,
    events,
    get,
    iso,
    join_links,
    let_in,
    path_of,
    ready_case,
)

APP_ID, APP_SECRET = "mediation", "jitsi-app-secret-for-tests-0123456789"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
SECRETS = ("Sam Parent", "Lee Officer", "KIDS-2026-001", "sam@family.example", "Kent")


def assert_reveals_nothing(text: str, *extra: str) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in text, f"{secret!r} leaked"


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


async def booked(staff: Staff, client: TestClient[Any, Any]) -> tuple[Any, Any, dict[str, Any]]:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    return ready, meeting, await join_links(staff, meeting["id"])


async def test_page_shows_when_how_and_waits_for_the_window(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = jitsi_app
    ready, meeting, found = await booked(staff, client)
    parent_link = path_of(found[ready.parties["parent"]]["url"])
    status, text, _ = await get(client, parent_link)
    assert status == 200
    assert "Tuesday 10 March 2026, 10am to 1pm (UK time)" in text
    assert "Morgan Mediator" in text
    assert 'id="opens-at"' in text and "9:30am on Tuesday 10 March 2026" in text
    assert "Lee Officer" not in text and "lee@kent.example" not in text
    # Too early: the video button answers 409, nothing is recorded.
    status, text, _ = await get(client, parent_link + "/video")
    assert status == 409 and "not open yet" in text
    assert await events(client, meeting["id"]) == []
    clock.set(START - timedelta(minutes=29))
    status, text, _ = await get(client, parent_link)
    assert 'href="' + parent_link + '/video"' in text


async def test_click_records_and_sends_each_person_to_their_own_room(
    jitsi_app: tuple[TestClient[Any, Any], Staff], clock: MutableClock
) -> None:
    client, staff = jitsi_app
    ready, meeting, found = await booked(staff, client)
    clock.set(START - timedelta(minutes=10))
    fake = JitsiFake(app_id=APP_ID, app_secret=APP_SECRET, clock=lambda: clock().timestamp())
    parent_id = ready.parties["parent"]
    # A party waits in our own lobby first: their click leads to our waiting page.
    status, _, location = await get(client, path_of(found[parent_id]["url"]) + "/video")
    assert status == 303 and location == path_of(found[parent_id]["url"]) + "/wait"
    await let_in(client, staff, meeting["id"], found, parent_id)
    admissions = {}
    for who in (parent_id, "mediator"):
        status, _, location = await get(client, path_of(found[who]["url"]) + "/video")
        assert status == 303 and location is not None
        url = urlsplit(location)
        assert url.netloc == "meet.example.test"
        room = url.path.strip("/")
        assert "sam" not in location.lower().split("jwt=")[0]  # no names in the room
        token = parse_qs(url.query)["jwt"][0]
        admissions[who] = fake.verify(token, room)
    assert admissions["mediator"].moderator and not admissions["mediator"].in_lobby
    parent = admissions[parent_id]
    assert not parent.moderator and not parent.in_lobby  # let in through our lobby
    assert parent.room == admissions["mediator"].room
    recorded = await events(client, meeting["id"])
    assert [(str(e.party_id), e.status.value, e.source) for e in recorded][:1] == [
        (parent_id, "in_lobby", "link")
    ]
    assert len(recorded) == 5  # waited twice (ours and let_in's), admitted, two clicks in


async def test_room_not_ready_yet_answers_a_wait_page(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    clock.set(START)
    link = (await join_links(staff, meeting["id"]))[ready.parties["parent"]]
    status, text, _ = await get(client, path_of(link["url"]) + "/video")
    assert status == 503 and "being prepared" in text
    await deliver_outbox(client)
    status, _, location = await get(client, path_of(link["url"]) + "/video")
    assert status == 303 and location == path_of(link["url"]) + "/wait"  # our lobby


def forge_alg_none(token: str) -> str:
    _header, payload, _ = token.split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return none.decode().rstrip("=") + "." + payload + "."


async def test_every_link_attack_gets_a_friendly_4xx_that_reveals_nothing(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    found = await join_links(staff, meeting["id"])
    token = path_of(found[ready.parties["parent"]]["url"]).removeprefix("/j/")
    clock.set(START)

    async def refused(tok: str, *extra: str) -> None:
        for suffix in ("", "/video"):
            status, text, location = await get(client, f"/j/{tok}{suffix}")
            assert 400 <= status < 500, (status, suffix)
            assert location is None
            assert_reveals_nothing(text, meeting["id"], *extra)

    head, body, signature = token.split(".")
    await refused(f"{head}.{body}.{signature[:-2]}AA")  # tampered signature
    await refused(forge_alg_none(token))  # alg: none
    await refused("not-a-token")
    # A link of another scope (a poll link) does not open the join page.
    async with client.app[DB].write() as session:
        poll_link = await links.issue(
            session,
            case_id=uuid.UUID(ready.case_id),
            scope=LinkScope.poll,
            now=clock(),
            party_id=uuid.UUID(ready.parties["parent"]),
        )
    poll_token = links.encode(poll_link, secret=SECRET)
    await refused(poll_token)
    before = len(await events(client, meeting["id"]))
    assert before == 0

    # Expired: after the end plus the grace period.
    clock.set(START + timedelta(hours=3, minutes=61))
    await refused(token)
    clock.set(START)

    # Replayed after a reschedule: the old link is dead, the new one works.
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={
            "start": iso(START + timedelta(hours=4)),
            "duration_minutes": 120,
            "waive_rules": True,  # moved on the day itself: less notice than the rules ask
            "waiver_reason": "Family agreed to the later time",
        },
        expect=200,
    )
    await refused(token)
    fresh = await join_links(staff, meeting["id"])
    new_token = path_of(fresh[ready.parties["parent"]]["url"]).removeprefix("/j/")
    status, _, _ = await get(client, f"/j/{new_token}")
    assert status == 200

    # The party is removed: their new link dies at once; the LA officer's still works.
    officer = path_of(fresh[ready.parties["la_officer"]]["url"])
    await staff.call(
        "DELETE", f"/api/v1/cases/{ready.case_id}/parties/{ready.parties['parent']}", expect=204
    )
    await refused(new_token)
    status, text, _ = await get(client, officer)
    assert status == 200 and "Sam Parent" not in text

    # Revoked by staff.
    officer_token = officer.removeprefix("/j/")
    async with client.app[DB].write() as session:
        link_id = links.decode(
            officer_token,
            secret=SECRET,
            scope=LinkScope.join_room,
            now=clock(),
        )
        await links.revoke(session, link_id=link_id, now=clock())
    await refused(officer_token)

    # Cancelled meeting: the mediator's link dies too.
    mediator = path_of(fresh["mediator"]["url"]).removeprefix("/j/")
    await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"}, expect=200
    )
    await refused(mediator)
    assert len(await events(client, meeting["id"])) == 0


async def test_another_cases_party_never_sees_this_meeting(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    first = await ready_case(staff, reference="KIDS-A")
    second = await ready_case(
        staff, reference="KIDS-B", mediator_email="b@staff.example", own_mediator=False
    )
    meeting_a = await book(staff, first.case_id)
    meeting_b = await book(staff, second.case_id)
    link_b = (await join_links(staff, meeting_b["id"]))[second.parties["parent"]]
    status, text, _ = await get(client, path_of(link_b["url"]))
    assert status == 200
    assert "KIDS-A" not in text and meeting_a["id"] not in text
