"""The BigBlueButton adapter against an in-memory BBB API and bbb-webhooks call-backs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integrations.base import CallbackRequest, JoinIdentity, ProviderRoom, RoomSpec
from integrations.bbb import BbbConfig, BigBlueButtonProvider, bbb_checksum
from integrations.errors import (
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    SignatureInvalid,
)
from tests.fakes.bbb import API_PATH, BbbFake, post_webhook, webhook_body

SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
NOW = datetime.now(UTC).replace(microsecond=0)
NOW_MS = int(NOW.timestamp() * 1000)
MEDIATOR = JoinIdentity(
    participant_ref="p-mediator-7f3a", display_name="Mediator Sam", moderator=True
)
PARENT = JoinIdentity(participant_ref="p-party-91bc", display_name="Parent Alice")

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def spec(**overrides: Any) -> RoomSpec:
    values: dict[str, Any] = {
        "room_key": secrets.token_urlsafe(24),
        "title": "Mediation meeting",
        "start": NOW,
        "end": NOW + timedelta(hours=3),
    }
    values.update(overrides)
    return RoomSpec(**values)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake() -> AsyncIterator[BbbFake]:
    fake = BbbFake(SECRET)
    yield fake
    fake.release()  # let any hanging request finish before the server closes


@pytest.fixture
async def api_url(aiohttp_server: ServerFactory, fake: BbbFake) -> str:
    server = await aiohttp_server(fake.app())
    return str(server.make_url(API_PATH))


def provider_for(api_url: str, http: aiohttp.ClientSession, **config: Any) -> BigBlueButtonProvider:
    return BigBlueButtonProvider(
        BbbConfig(base_url=api_url, shared_secret=config.pop("shared_secret", SECRET), **config),
        http,
    )


@pytest.fixture
def bbb(api_url: str, http: aiohttp.ClientSession) -> BigBlueButtonProvider:
    return provider_for(api_url, http)


async def follow(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url, allow_redirects=False) as response:
        return response.status


# ---------------------------------------------------------------------- checksums


def test_checksum_matches_the_documented_worked_example() -> None:
    query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
    assert bbb_checksum("create", query, SECRET) == "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"


def test_signed_url_encodes_the_query_exactly_once(http: aiohttp.ClientSession) -> None:
    provider = provider_for(
        "https://bbb.example.test/bigbluebutton/api", http, checksum_algorithm="sha1"
    )
    url = provider.signed_url("create", [("name", "Test Meeting"), ("meetingID", "abc123")])
    query, _, checksum = urlsplit(url).query.rpartition("&checksum=")
    assert query == "name=Test+Meeting&meetingID=abc123"
    assert checksum == bbb_checksum("create", query, SECRET, "sha1")


# ---------------------------------------------------------------------- create / join / end


async def test_create_opens_a_lobbied_unrecorded_meeting_without_personal_data(
    bbb: BigBlueButtonProvider, fake: BbbFake
) -> None:
    room = await bbb.create_room(spec(pin="48213"))
    meeting = fake.meetings[room.room_id]
    assert meeting.guest_policy == "ASK_MODERATOR"
    assert meeting.record is False
    assert meeting.voice_bridge == "48213"
    assert meeting.name == "Mediation meeting"
    assert meeting.metadata == {"bbb-origin": "mediation-orchestrator"}
    assert (room.dial_in_pin, room.dial_in_number) == ("48213", fake.dial_number)
    assert room.data["create_time"] == str(meeting.create_time)


async def test_create_again_is_a_success_for_the_same_meeting(
    bbb: BigBlueButtonProvider, fake: BbbFake
) -> None:
    room_spec = spec()
    first = await bbb.create_room(room_spec)
    again = await bbb.create_room(room_spec)
    assert again == first
    assert len(fake.meetings) == 1


async def test_pin_that_is_not_a_voice_bridge_is_refused_before_calling(
    bbb: BigBlueButtonProvider, fake: BbbFake
) -> None:
    with pytest.raises(ProviderRejected, match="5 digits"):
        await bbb.create_room(spec(pin="1234"))
    assert fake.calls == []


async def test_mediator_joins_as_moderator_and_parent_waits_as_guest(
    bbb: BigBlueButtonProvider, fake: BbbFake, http: aiohttp.ClientSession
) -> None:
    room = await bbb.create_room(spec())
    assert await follow(http, bbb.join_url(room, MEDIATOR, now=NOW)) == 302
    assert await follow(http, bbb.join_url(room, PARENT, now=NOW)) == 302
    meeting = fake.meetings[room.room_id]
    assert [(u.user_id, u.role, u.guest) for u in meeting.attendees] == [
        ("p-mediator-7f3a", "MODERATOR", False)
    ]
    assert [(u.user_id, u.role, u.guest_status) for u in meeting.waiting] == [
        ("p-party-91bc", "VIEWER", "WAIT")
    ]


async def test_join_url_names_only_the_display_name(bbb: BigBlueButtonProvider) -> None:
    room = await bbb.create_room(spec())
    params = dict(parse_qsl(urlsplit(bbb.join_url(room, PARENT, now=NOW)).query))
    assert params.pop("fullName") == "Parent Alice"
    assert "Alice" not in " ".join(params.values())
    assert params["userID"] == "p-party-91bc" and params["role"] == "VIEWER"
    assert params["guest"] == "true"


async def test_old_link_is_refused_after_the_meeting_is_recreated(
    bbb: BigBlueButtonProvider, http: aiohttp.ClientSession
) -> None:
    room_spec = spec()
    first = await bbb.create_room(room_spec)
    old_link = bbb.join_url(first, PARENT, now=NOW)
    await bbb.end_room(first)
    fresh = await bbb.create_room(room_spec)
    assert fresh.data["create_time"] != first.data["create_time"]
    async with http.get(old_link, allow_redirects=False) as response:
        assert "mismatchCreateTimeParam" in await response.text()
    assert await follow(http, bbb.join_url(fresh, PARENT, now=NOW)) == 302


async def test_end_closes_the_meeting_and_repeats_quietly(
    bbb: BigBlueButtonProvider, fake: BbbFake
) -> None:
    room = await bbb.create_room(spec())
    await bbb.end_room(room)
    assert room.room_id not in fake.meetings
    assert await bbb.get_meeting_info(room) is None
    await bbb.end_room(room)  # already gone: still ended, no error


async def test_meeting_info_reports_who_is_in_by_opaque_id(
    bbb: BigBlueButtonProvider, fake: BbbFake, http: aiohttp.ClientSession
) -> None:
    room = await bbb.create_room(spec())
    info = await bbb.get_meeting_info(room)
    assert info is not None and not info.running and info.attendees == ()
    await follow(http, bbb.join_url(room, MEDIATOR, now=NOW))
    await follow(http, bbb.join_url(room, PARENT, now=NOW))
    fake.admit(room.room_id, "p-party-91bc")
    info = await bbb.get_meeting_info(room)
    assert info is not None and info.running
    assert (info.participant_count, info.moderator_count) == (2, 1)
    assert [(a.user_id, a.role) for a in info.attendees] == [
        ("p-mediator-7f3a", "MODERATOR"),
        ("p-party-91bc", "VIEWER"),
    ]


# ---------------------------------------------------------------------- caucus


async def test_caucus_is_a_breakout_of_the_running_meeting(
    bbb: BigBlueButtonProvider, fake: BbbFake, http: aiohttp.ClientSession
) -> None:
    main = await bbb.create_room(spec())
    with pytest.raises(ProviderRejected, match="parent meeting running"):
        await bbb.create_caucus(main, spec(title="Private room"))
    await follow(http, bbb.join_url(main, MEDIATOR, now=NOW))
    caucus = await bbb.create_caucus(main, spec(title="Private room"))
    second = await bbb.create_caucus(main, spec(title="Private room"))
    breakout = fake.meetings[caucus.room_id]
    assert breakout.is_breakout
    assert breakout.parent_internal_id == fake.meetings[main.room_id].internal_id
    assert (breakout.sequence, fake.meetings[second.room_id].sequence) == (1, 2)
    info = await bbb.get_meeting_info(main)
    assert info is not None and info.breakout_ids == (caucus.room_id, second.room_id)
    assert await follow(http, bbb.join_url(caucus, PARENT, now=NOW)) == 302
    assert fake.meetings[caucus.room_id].waiting[0].user_id == "p-party-91bc"


# ---------------------------------------------------------------------- failures


async def test_server_error_is_retryable(bbb: BigBlueButtonProvider, fake: BbbFake) -> None:
    fake.fail_status = 500
    with pytest.raises(ProviderUnavailable) as caught:
        await bbb.create_room(spec())
    assert caught.value.retryable


async def test_hanging_server_becomes_unavailable_at_the_timeout(
    api_url: str, http: aiohttp.ClientSession, fake: BbbFake
) -> None:
    fake.hang = True
    provider = provider_for(api_url, http, timeout_s=0.2)
    with pytest.raises(ProviderUnavailable):
        await provider.create_room(spec())


async def test_unreachable_server_is_unavailable(http: aiohttp.ClientSession) -> None:
    server = TestServer(web.Application())
    await server.start_server()
    url = str(server.make_url(API_PATH))
    await server.close()
    with pytest.raises(ProviderUnavailable):
        await provider_for(url, http).create_room(spec())


async def test_wrong_secret_is_an_auth_error_not_a_retry(
    api_url: str, http: aiohttp.ClientSession, fake: BbbFake
) -> None:
    provider = provider_for(api_url, http, shared_secret="not-the-secret")
    with pytest.raises(ProviderAuthError) as caught:
        await provider.create_room(spec())
    assert not caught.value.retryable
    assert fake.meetings == {}


async def test_other_failures_are_rejections(bbb: BigBlueButtonProvider, fake: BbbFake) -> None:
    first = await bbb.create_room(spec(pin="48213"))
    with pytest.raises(ProviderRejected, match="nonUniqueVoiceBridge"):
        await bbb.create_room(spec(pin="48213"))
    assert list(fake.meetings) == [first.room_id]


# ---------------------------------------------------------------------- bbb-webhooks


@pytest.fixture
async def hook(aiohttp_server: ServerFactory) -> tuple[str, list[Any], list[BigBlueButtonProvider]]:
    """Our side of bbb-webhooks: the handler verifies with whichever provider is set."""
    received: list[Any] = []
    verifier: list[BigBlueButtonProvider] = []

    async def handle(request: web.Request) -> web.Response:
        callback = CallbackRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=await request.read(),
        )
        try:
            result = verifier[0].verify_callback(callback, now=NOW)
        except SignatureInvalid:
            return web.Response(status=401)
        received.extend(result.signals)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hooks/bbb", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("/hooks/bbb")), received, verifier


async def joined_room(bbb: BigBlueButtonProvider, http: aiohttp.ClientSession) -> ProviderRoom:
    room = await bbb.create_room(spec())
    await follow(http, bbb.join_url(room, MEDIATOR, now=NOW))
    await follow(http, bbb.join_url(room, PARENT, now=NOW))
    return room


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
async def test_signed_webhooks_become_attendance(
    api_url: str,
    http: aiohttp.ClientSession,
    fake: BbbFake,
    hook: tuple[str, list[Any], list[BigBlueButtonProvider]],
    algorithm: str,
) -> None:
    url, received, verifier = hook
    bbb = provider_for(api_url, http, callback_url=url)
    verifier.append(bbb)
    assert await bbb.register_webhook() == "1"
    room = await joined_room(bbb, http)
    fake.admit(room.room_id, "p-party-91bc")
    joined = fake.mapped_event("user-joined", room.room_id, "p-party-91bc", ts_ms=NOW_MS)
    left = fake.mapped_event("user-left", room.room_id, "p-party-91bc", ts_ms=NOW_MS + 60_000)
    ended = fake.mapped_event("meeting-ended", room.room_id, ts_ms=NOW_MS + 120_000)
    for event in (joined, joined, left, ended):
        assert await fake.emit(http, event, timestamp_ms=NOW_MS, algorithm=algorithm) == [200]
    assert [(s.kind, s.participant_ref, s.room_id) for s in received] == [
        ("joined", "p-party-91bc", room.room_id),
        ("joined", "p-party-91bc", room.room_id),
        ("left", "p-party-91bc", room.room_id),
        ("room_ended", None, room.room_id),
    ]
    assert received[0].dedup_key == received[1].dedup_key != received[2].dedup_key
    assert received[2].at == NOW + timedelta(minutes=1)


async def test_webhook_checksum_is_checked_against_the_received_url_by_default(
    api_url: str,
    http: aiohttp.ClientSession,
    fake: BbbFake,
    hook: tuple[str, list[Any], list[BigBlueButtonProvider]],
) -> None:
    url, received, verifier = hook
    bbb = provider_for(api_url, http)  # no callback_url configured
    verifier.append(bbb)
    room = await joined_room(bbb, http)
    event = fake.mapped_event("user-joined", room.room_id, "p-mediator-7f3a", ts_ms=NOW_MS)
    status = await post_webhook(
        http, url, [event], secret=SECRET, domain=fake.domain, timestamp_ms=NOW_MS
    )
    assert status == 200 and [s.participant_ref for s in received] == ["p-mediator-7f3a"]


@pytest.mark.parametrize("forgery", ["wrong-secret", "altered-body", "no-checksum", "stale"])
async def test_forged_webhooks_are_refused(
    api_url: str,
    http: aiohttp.ClientSession,
    fake: BbbFake,
    hook: tuple[str, list[Any], list[BigBlueButtonProvider]],
    forgery: str,
) -> None:
    url, received, verifier = hook
    bbb = provider_for(api_url, http, callback_url=url)
    verifier.append(bbb)
    room = await joined_room(bbb, http)
    event = fake.mapped_event("user-joined", room.room_id, "p-mediator-7f3a", ts_ms=NOW_MS)
    kwargs: dict[str, Any] = {"secret": SECRET, "domain": fake.domain, "timestamp_ms": NOW_MS}
    if forgery == "wrong-secret":
        kwargs["secret"] = "guessed"
    elif forgery == "altered-body":
        other = fake.mapped_event("user-left", room.room_id, "p-mediator-7f3a", ts_ms=NOW_MS)
        kwargs["body_override"] = webhook_body([other], domain=fake.domain, timestamp_ms=NOW_MS)
    elif forgery == "no-checksum":
        kwargs["bearer"] = True  # sends a Bearer header, but this hook expects a checksum
    else:
        kwargs["timestamp_ms"] = NOW_MS - 2 * 3600 * 1000
    assert await post_webhook(http, url, [event], **kwargs) == 401
    assert received == []


async def test_bearer_mode_webhooks_are_verified_by_header(
    api_url: str,
    http: aiohttp.ClientSession,
    fake: BbbFake,
    hook: tuple[str, list[Any], list[BigBlueButtonProvider]],
) -> None:
    url, received, verifier = hook
    bbb = provider_for(api_url, http, callback_url=url, webhook_bearer=True)
    verifier.append(bbb)
    room = await joined_room(bbb, http)
    event = fake.mapped_event("user-joined", room.room_id, "p-mediator-7f3a", ts_ms=NOW_MS)
    common: dict[str, Any] = {"domain": fake.domain, "timestamp_ms": NOW_MS, "bearer": True}
    assert await post_webhook(http, url, [event], secret="guessed", **common) == 401
    assert await post_webhook(http, url, [event], secret=SECRET, **common) == 200
    assert [s.kind for s in received] == ["joined"]


# ---------------------------------------------------------------------- the mediator runs it


async def test_a_guest_waits_until_a_moderator_approves_and_a_released_party_walks_in(
    bbb: BigBlueButtonProvider, fake: BbbFake, http: aiohttp.ClientSession
) -> None:
    room = await bbb.create_room(spec())
    meeting_id = room.room_id
    await follow(http, bbb.join_url(room, PARENT, now=NOW))
    with pytest.raises(PermissionError):  # no moderator in the meeting to approve anyone
        fake.admit(meeting_id, PARENT.participant_ref)

    await follow(http, bbb.join_url(room, MEDIATOR, now=NOW))
    fake.admit(meeting_id, PARENT.participant_ref)
    released = replace(PARENT, participant_ref="p-party-22aa", past_lobby=True)
    await follow(http, bbb.join_url(room, released, now=NOW))

    meeting = fake.meetings[meeting_id]
    assert [(u.user_id, u.role) for u in meeting.attendees] == [
        ("p-mediator-7f3a", "MODERATOR"),
        ("p-party-91bc", "VIEWER"),
        ("p-party-22aa", "VIEWER"),  # let in by the mediator already: no second wait
    ]
    assert meeting.waiting == []
    info = await bbb.get_meeting_info(room)
    assert info is not None
    assert {a.user_id for a in info.attendees} == {
        "p-mediator-7f3a",
        "p-party-91bc",
        "p-party-22aa",
    }
