"""Zoom rooms as people use them, against the fake's rules: the mediator starts the
meeting as its host, everyone else joins by a registrant link of their own, and Zoom's
webhooks say who is who."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from integrations.base import CallbackRequest, JoinIdentity, RoomSpec
from integrations.zoom import ZoomConfig, ZoomProvider
from tests.fakes.zoom import FakeZoom

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 3, 9, 55, tzinfo=UTC)
SPEC = RoomSpec(
    room_key="rk-1", title="Mediation meeting", start=START, end=START + timedelta(hours=2)
)
MEDIATOR = JoinIdentity(participant_ref="m0a1b", display_name="Sam (mediator)", moderator=True)
PARENT = JoinIdentity(participant_ref="p9c8d", display_name="Alice (parent)")
COUNCIL = JoinIdentity(participant_ref="p7e6f", display_name="Bob (local authority)")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def fake() -> FakeZoom:
    return FakeZoom()


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, fake: FakeZoom) -> TestServer:
    return await aiohttp_server(fake.app)


@pytest.fixture
def zoom(session: aiohttp.ClientSession, server: TestServer, fake: FakeZoom) -> ZoomProvider:
    config = ZoomConfig(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        webhook_secret_token=fake.webhook_secret_token,
        oauth_url=str(server.make_url("/oauth/token")),
        api_base=str(server.make_url("/v2")),
        registrant_email_domain="people.mediation.example",
    )
    return ZoomProvider(config, session)


async def test_a_party_waits_for_the_host_and_the_mediator_starts_the_meeting(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    parent_url = await zoom.personal_url(room, PARENT, now=NOW)

    early = fake.open(parent_url)
    assert early.state == "waiting_for_host"
    assert room.room_id not in fake.started_by_host

    host = fake.open(await zoom.personal_url(room, MEDIATOR, now=NOW))
    assert host.host and host.state == "in_meeting"
    assert room.room_id in fake.started_by_host
    # Released from "waiting for host" into the waiting room, which the host admits from.
    assert early.state == "waiting_room"
    assert early.registrant is not None
    fake.admit(room.room_id, early.registrant.registrant_id)
    assert early.state == "in_meeting"


async def test_each_party_has_their_own_link_known_by_an_opaque_address(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    parent_url = await zoom.personal_url(room, PARENT, now=NOW)
    council_url = await zoom.personal_url(room, COUNCIL, now=NOW)

    assert parent_url != council_url
    assert await zoom.personal_url(room, PARENT, now=NOW) == parent_url  # the same registration
    fake.open(await zoom.personal_url(room, MEDIATOR, now=NOW))
    seat = fake.open(council_url)
    assert seat.registrant is not None
    assert seat.registrant.email == "p7e6f@people.mediation.example"
    assert seat.registrant.first_name == "Bob (local authority)"
    # The shared link of a meeting with registration lets nobody in.
    assert fake.open(fake.meetings[room.room_id]["join_url"]).state == "refused"


async def test_an_expired_host_link_does_not_start_the_meeting(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    stale = await zoom.personal_url(room, MEDIATOR, now=NOW)
    fresh = await zoom.personal_url(room, MEDIATOR, now=NOW)

    assert stale != fresh
    assert fake.open(stale).state == "refused"
    assert fake.open(fresh).host


async def test_webhooks_name_the_party_who_joined_by_their_link(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    fake.open(await zoom.personal_url(room, MEDIATOR, now=NOW))
    seat = fake.open(await zoom.personal_url(room, PARENT, now=NOW))
    event = fake.participant_event(
        "meeting.participant_joined",
        room.room_id,
        participant_uuid="uuid-P",
        at="2025-03-03T10:01:00Z",
        event_ts_ms=int(NOW.timestamp()) * 1000,
        registrant=seat.registrant,
    )
    headers, body = fake.signed_webhook(event, timestamp=int(NOW.timestamp()))
    request = CallbackRequest(
        method="POST", url="https://app/hooks/zoom", headers=headers, body=body
    )

    (signal,) = zoom.verify_callback(request, now=NOW).signals

    assert (signal.kind, signal.participant_ref) == ("joined", "p9c8d")
    assert "Alice" not in repr(signal) and "mediation.example" not in repr(signal)
