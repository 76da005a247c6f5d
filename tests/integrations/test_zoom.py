"""Zoom adapter against the loopback fake: meetings API, S2S OAuth and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from integrations.base import (
    AttendanceSignal,
    CallbackRequest,
    JoinIdentity,
    ProviderRoom,
    RoomSpec,
)
from integrations.errors import ProviderAuthError, ProviderUnavailable, SignatureInvalid
from integrations.zoom import ZoomConfig, ZoomProvider
from tests.fakes.zoom import FakeZoom

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 3, 10, 5, tzinfo=UTC)
SPEC = RoomSpec(
    room_key="rk-7f3a", title="Mediation meeting", start=START, end=START + timedelta(hours=3)
)
PARENT = JoinIdentity(participant_ref="p-1", display_name="Jane Parent")
MEDIATOR = JoinIdentity(participant_ref="m-1", display_name="Mediator", moderator=True)


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


def make_config(server: TestServer, fake: FakeZoom, **overrides: object) -> ZoomConfig:
    settings: dict[str, object] = {
        "account_id": fake.account_id,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "webhook_secret_token": fake.webhook_secret_token,
        "oauth_url": str(server.make_url("/oauth/token")),
        "api_base": str(server.make_url("/v2")),
        **overrides,
    }
    return ZoomConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def zoom(session, server, fake) -> ZoomProvider:
    return ZoomProvider(make_config(server, fake), session)


# --------------------------------------------------------------------------- meetings


async def test_meeting_is_created_with_lobby_no_early_join_and_no_recording(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)

    sent = fake.created[0]
    assert sent["type"] == 2
    assert sent["topic"] == "Mediation meeting"
    assert sent["start_time"] == "2025-03-03T10:00:00Z"
    assert sent["duration"] == 180
    assert sent["settings"]["waiting_room"] is True
    assert sent["settings"]["join_before_host"] is False
    assert sent["settings"]["auto_recording"] == "none"
    # Registration on, approved at once, and Zoom's registration mails off.
    assert sent["settings"]["approval_type"] == 0
    assert sent["settings"]["registrants_confirmation_email"] is False
    assert sent["settings"]["registrants_email_notification"] is False

    created = fake.meetings[room.room_id]
    assert room.room_id == str(created["id"]) and created["id"] > 2**32
    assert room.dial_in_number == "+44 20 3481 5237"
    assert room.dial_in_pin == room.room_id


async def test_no_host_key_is_stored_and_a_fresh_one_is_fetched(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    join_url = fake.meetings[room.room_id]["join_url"]

    assert zoom.join_url(room, PARENT, now=NOW) == join_url
    assert "zak=" not in repr(room.data)
    assert await zoom.host_start_url(room) == fake.meetings[room.room_id]["start_url"]


async def test_ending_a_room_ends_the_meeting_and_tolerates_a_gone_one(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    await zoom.end_room(room)
    assert fake.meetings[room.room_id]["status"] == "ended"

    await zoom.end_room(ProviderRoom(provider="zoom", room_id="999"))
    assert fake.ended == [room.room_id]


async def test_token_is_fetched_once_for_many_calls(zoom, fake) -> None:
    await zoom.create_room(SPEC)
    await zoom.create_room(SPEC)
    assert fake.token_requests == 1
    assert len(fake.created) == 2


async def test_server_errors_and_timeouts_are_retryable(session, server, fake) -> None:
    zoom = ZoomProvider(make_config(server, fake, timeout_s=0.2), session)
    fake.fail_status = 500
    with pytest.raises(ProviderUnavailable):
        await zoom.create_room(SPEC)
    fake.fail_status = None
    fake.hang = True
    with pytest.raises(ProviderUnavailable):
        await zoom.create_room(SPEC)
    assert fake.created == []


async def test_bad_credentials_stop_with_an_auth_error(session, server, fake) -> None:
    zoom = ZoomProvider(make_config(server, fake, client_secret="nope"), session)
    with pytest.raises(ProviderAuthError):
        await zoom.create_room(SPEC)
    assert fake.created == []


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """The orchestrator's webhook route, reduced to what the adapter needs."""

    def __init__(self, zoom: ZoomProvider, now: datetime) -> None:
        self.zoom = zoom
        self.now = now
        self.signals: list[AttendanceSignal] = []
        self.app = web.Application()
        self.app.router.add_post("/hooks/zoom", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        callback = CallbackRequest(
            method=request.method, url=str(request.url), headers=dict(request.headers), body=body
        )
        try:
            result = self.zoom.verify_callback(callback, now=self.now)
        except SignatureInvalid:
            return web.Response(status=401)
        self.signals.extend(result.signals)
        if result.response_json is not None:
            return web.json_response(result.response_json)
        return web.Response(status=204)


@pytest.fixture
async def receiver(aiohttp_server, zoom) -> tuple[Receiver, str]:
    hooks = Receiver(zoom, NOW)
    hook_server = await aiohttp_server(hooks.app)
    return hooks, str(hook_server.make_url("/hooks/zoom"))


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


async def test_signed_participant_events_become_attendance(session, zoom, fake, receiver) -> None:
    hooks, url = receiver
    room = await zoom.create_room(SPEC)
    joined = fake.participant_event(
        "meeting.participant_joined",
        room.room_id,
        participant_uuid="uuid-A",
        at="2025-03-03T10:02:00Z",
        event_ts_ms=epoch(NOW) * 1000,
        customer_key="p-1",
    )
    left = fake.participant_event(
        "meeting.participant_left",
        room.room_id,
        participant_uuid="uuid-A",
        at="2025-03-03T11:30:00Z",
        event_ts_ms=epoch(NOW) * 1000,
        customer_key="p-1",
    )

    assert (await fake.deliver_webhook(session, url, joined, timestamp=epoch(NOW))).status == 204
    assert (await fake.deliver_webhook(session, url, left, timestamp=epoch(NOW))).status == 204

    first, second = hooks.signals
    assert (first.kind, first.room_id, first.participant_ref) == ("joined", room.room_id, "p-1")
    assert first.at == datetime(2025, 3, 3, 10, 2, tzinfo=UTC)
    assert (second.kind, second.at) == ("left", datetime(2025, 3, 3, 11, 30, tzinfo=UTC))
    assert first.dedup_key != second.dedup_key
    assert "Jane" not in repr(hooks.signals) and "example.org" not in repr(hooks.signals)


async def test_a_redelivered_event_has_the_same_dedup_key(session, zoom, fake, receiver) -> None:
    hooks, url = receiver
    event = fake.participant_event(
        "meeting.participant_joined_waiting_room",
        "86000000001",
        participant_uuid="uuid-B",
        at="2025-03-03T10:01:00Z",
        event_ts_ms=epoch(NOW) * 1000,
    )
    await fake.deliver_webhook(session, url, event, timestamp=epoch(NOW))
    await fake.deliver_webhook(session, url, event, timestamp=epoch(NOW) + 3)

    once, again = hooks.signals
    assert once.kind == "waiting" and once.participant_ref is None
    assert once.dedup_key == again.dedup_key


async def test_a_forged_webhook_is_refused(session, zoom, fake, receiver) -> None:
    hooks, url = receiver
    forger = FakeZoom(webhook_secret_token="guessed")
    event = forger.participant_event(
        "meeting.participant_joined",
        "86000000001",
        participant_uuid="uuid-C",
        at="2025-03-03T10:02:00Z",
        event_ts_ms=epoch(NOW) * 1000,
    )
    reply = await forger.deliver_webhook(session, url, event, timestamp=epoch(NOW))
    assert reply.status == 401
    assert hooks.signals == []


async def test_a_body_altered_after_signing_is_refused(zoom, fake) -> None:
    event = fake.url_validation_event("abc", event_ts_ms=0)
    headers, body = fake.signed_webhook(event, timestamp=epoch(NOW))
    tampered = body.replace(b"abc", b"abd")
    request = CallbackRequest(method="POST", url="https://x/hooks", headers=headers, body=tampered)
    with pytest.raises(SignatureInvalid):
        zoom.verify_callback(request, now=NOW)


async def test_a_replayed_webhook_outside_the_window_is_refused(
    session, zoom, fake, receiver
) -> None:
    hooks, url = receiver
    event = fake.participant_event(
        "meeting.participant_joined",
        "86000000001",
        participant_uuid="uuid-D",
        at="2025-03-03T09:50:00Z",
        event_ts_ms=epoch(NOW) * 1000,
    )
    stale = epoch(NOW - timedelta(seconds=301))
    assert (await fake.deliver_webhook(session, url, event, timestamp=stale)).status == 401
    fresh = epoch(NOW - timedelta(seconds=299))
    assert (await fake.deliver_webhook(session, url, event, timestamp=fresh)).status == 204
    assert len(hooks.signals) == 1


async def test_url_validation_challenge_is_answered(session, zoom, fake, receiver) -> None:
    _, url = receiver
    event = fake.url_validation_event("qgg8vlvZRS6UYooatFL8Aw", event_ts_ms=epoch(NOW) * 1000)
    reply = await fake.deliver_webhook(session, url, event, timestamp=epoch(NOW))

    expected = hmac.new(
        fake.webhook_secret_token.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256
    ).hexdigest()
    assert reply.status == 200
    assert reply.body == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


async def test_unsigned_url_validation_is_refused(zoom) -> None:
    body = b'{"event":"endpoint.url_validation","payload":{"plainToken":"x"}}'
    request = CallbackRequest(method="POST", url="https://x/hooks", headers={}, body=body)
    with pytest.raises(SignatureInvalid):
        zoom.verify_callback(request, now=NOW)


# --------------------------------------------------------------------------- who runs the room
# The mediator starts the meeting as its host; everyone else joins by a registrant link of
# their own, and Zoom's webhooks then say who is who.

ALICE = JoinIdentity(participant_ref="p9c8d", display_name="Alice (parent)")
BOB = JoinIdentity(participant_ref="p7e6f", display_name="Bob (local authority)")


async def test_a_party_waits_for_the_host_and_the_mediator_starts_the_meeting(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    parent_url = await zoom.personal_url(room, ALICE, now=NOW)

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
    parent_url = await zoom.personal_url(room, ALICE, now=NOW)
    council_url = await zoom.personal_url(room, BOB, now=NOW)

    assert parent_url != council_url
    assert await zoom.personal_url(room, ALICE, now=NOW) == parent_url  # the same registration
    fake.open(await zoom.personal_url(room, MEDIATOR, now=NOW))
    seat = fake.open(council_url)
    assert seat.registrant is not None
    assert seat.registrant.email == "p7e6f@registrants.invalid"
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
    seat = fake.open(await zoom.personal_url(room, ALICE, now=NOW))
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
    assert "Alice" not in repr(signal) and "registrants.invalid" not in repr(signal)


async def test_a_room_made_before_registration_keeps_its_shared_link(zoom, fake) -> None:
    room = await zoom.create_room(SPEC)
    older = replace(room, data={k: v for k, v in room.data.items() if k != "registration"})

    assert await zoom.personal_url(older, ALICE, now=NOW) == room.data["join_url"]
    assert fake.registrants == {}
