"""The Jitsi adapter against a Prosody-like token gate and event_sync call-backs."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integrations.base import CallbackRequest, JoinIdentity, ProviderRoom, RoomSpec
from integrations.errors import SignatureInvalid
from integrations.jitsi import (
    JitsiConfig,
    JitsiProvider,
    no_pin_response,
    phone_numbers_response,
    reverse_mapper_response,
)
from tests.fakes.jitsi import JitsiFake, TokenRejected, occupant_event, post_event_sync, room_event

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
APP_ID = "mediation"
SECRET = "jitsi-test-secret-that-is-long-enough-for-hs256"
HOOK_SECRET = "Bearer event-sync-shared-value"
MUC = "conference.meet.example.test"

MEDIATOR = JoinIdentity(
    participant_ref="p-mediator-7f3a", display_name="Mediator Sam", moderator=True
)
PARENT = JoinIdentity(participant_ref="p-party-91bc", display_name="Parent Alice")

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def spec(room_key: str | None = None, **overrides: Any) -> RoomSpec:
    return RoomSpec(
        room_key=room_key or secrets.token_urlsafe(24),
        title="Mediation meeting",
        start=NOW,
        end=NOW + timedelta(hours=3),
        **overrides,
    )


@pytest.fixture
def fake() -> JitsiFake:
    return JitsiFake(app_id=APP_ID, app_secret=SECRET, clock=lambda: NOW.timestamp())


@pytest.fixture
async def jitsi(aiohttp_server: ServerFactory, fake: JitsiFake) -> JitsiProvider:
    server = await aiohttp_server(fake.app())
    return JitsiProvider(
        JitsiConfig(
            base_url=str(server.make_url("")).rstrip("/"),
            app_id=APP_ID,
            app_secret=SECRET,
            event_sync_header_value=HOOK_SECRET,
            muc_domain=MUC,
        )
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def open_link(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["jwt"][0]


def claims_of(url: str) -> dict[str, Any]:
    return jwt.decode(token_of(url), options={"verify_signature": False})


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# ---------------------------------------------------------------------- rooms and links


async def test_room_names_are_opaque_and_differ_per_meeting(jitsi: JitsiProvider) -> None:
    first = await jitsi.create_room(spec())
    second = await jitsi.create_room(spec())
    assert first.room_id != second.room_id
    assert first.room_id == first.room_id.lower()
    assert len(first.room_id) >= 16
    for url in (jitsi.join_url(first, MEDIATOR, now=NOW), jitsi.join_url(first, PARENT, now=NOW)):
        parts = urlsplit(url)
        assert "alice" not in (parts.path + parts.query).lower()
        assert "sam" not in parts.path.lower()


async def test_short_room_key_is_refused_as_guessable(jitsi: JitsiProvider) -> None:
    with pytest.raises(ValueError, match="cannot be guessed"):
        await jitsi.create_room(spec("meeting-12"))


async def test_mediator_link_joins_as_moderator_past_the_lobby(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    room = await jitsi.create_room(spec())
    status, body = await open_link(http, jitsi.join_url(room, MEDIATOR, now=NOW))
    assert status == 200, body
    assert body == {
        "room": room.room_id,
        "moderator": True,
        "in_lobby": False,
        "user_id": "p-mediator-7f3a",
    }


async def test_party_link_joins_as_member_and_waits_in_the_lobby(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    room = await jitsi.create_room(spec())
    url = jitsi.join_url(room, PARENT, now=NOW)
    status, body = await open_link(http, url)
    assert status == 200, body
    assert body["moderator"] is False
    assert body["in_lobby"] is True
    user = claims_of(url)["context"]["user"]
    assert "lobby_bypass" not in user and "affiliation" not in user
    assert user == {"id": "p-party-91bc", "name": "Parent Alice", "moderator": "false"}


async def test_a_party_the_mediator_let_in_skips_the_lobby_as_a_member(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    room = await jitsi.create_room(spec())
    url = jitsi.join_url(room, replace(PARENT, past_lobby=True), now=NOW)
    status, body = await open_link(http, url)
    assert status == 200, body
    assert body["moderator"] is False
    assert body["in_lobby"] is False
    assert claims_of(url)["context"]["user"]["id"] == PARENT.participant_ref


async def test_token_claims_follow_the_prosody_contract(jitsi: JitsiProvider) -> None:
    room = await jitsi.create_room(spec())
    url = jitsi.join_url(room, MEDIATOR, now=NOW)
    header = jwt.get_unverified_header(token_of(url))
    claims = claims_of(url)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == APP_ID and claims["aud"] == "jitsi" and claims["sub"] == "*"
    assert claims["room"] == room.room_id
    assert claims["nbf"] <= NOW.timestamp() < claims["exp"]
    user = claims["context"]["user"]
    assert user["affiliation"] == "owner" and user["moderator"] == "true"
    assert user["lobby_bypass"] is True
    assert all(isinstance(v, str) for k, v in user.items() if k != "lobby_bypass")


async def test_token_for_one_room_does_not_open_another(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    room = await jitsi.create_room(spec())
    other = await jitsi.create_room(spec())
    token = token_of(jitsi.join_url(room, PARENT, now=NOW))
    status, body = await open_link(http, f"{jitsi.config.base_url}/{other.room_id}?jwt={token}")
    assert status == 403
    assert body["reason"] == "token is for another room"


async def test_tampered_token_is_refused(jitsi: JitsiProvider, http: aiohttp.ClientSession) -> None:
    room = await jitsi.create_room(spec())
    header, payload, signature = token_of(jitsi.join_url(room, PARENT, now=NOW)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["context"]["user"]["moderator"] = "true"
    forged = f"{header}.{b64(claims)}.{signature}"
    status, body = await open_link(http, f"{jitsi.config.base_url}/{room.room_id}?jwt={forged}")
    assert status == 403
    assert body["reason"] == "signature does not verify"


async def test_alg_none_token_is_refused(jitsi: JitsiProvider, http: aiohttp.ClientSession) -> None:
    room = await jitsi.create_room(spec())
    claims = claims_of(jitsi.join_url(room, MEDIATOR, now=NOW))
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    status, body = await open_link(http, f"{jitsi.config.base_url}/{room.room_id}?jwt={unsigned}")
    assert status == 403
    assert body["reason"] == "alg none is not allowed"


async def test_expired_and_early_tokens_are_refused(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    room = await jitsi.create_room(spec())
    stale = jitsi.join_url(room, PARENT, now=NOW - timedelta(days=1))
    early = jitsi.join_url(room, PARENT, now=NOW + timedelta(hours=1))
    assert (await open_link(http, stale)) == (
        403,
        {"error": "not-allowed", "reason": "token has expired"},
    )
    assert (await open_link(http, early))[1]["reason"] == "token is not valid yet"


async def test_token_signed_with_another_secret_is_refused(
    fake: JitsiFake, aiohttp_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await aiohttp_server(fake.app())
    wrong = JitsiProvider(
        JitsiConfig(
            base_url=str(server.make_url("")).rstrip("/"), app_id=APP_ID, app_secret="x" * 40
        )
    )
    room = await wrong.create_room(spec())
    status, body = await open_link(http, wrong.join_url(room, MEDIATOR, now=NOW))
    assert status == 403 and body["reason"] == "signature does not verify"


async def test_fake_refuses_numbers_in_context_user(fake: JitsiFake) -> None:
    claims = {"iss": APP_ID, "aud": "jitsi", "room": "r", "context": {"user": {"id": 42}}}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(TokenRejected, match=r"context\.user\.id must be a string"):
        fake.verify(token, "r")


async def test_without_a_secret_the_name_travels_only_in_the_fragment() -> None:
    public = JitsiProvider(JitsiConfig())
    room = await public.create_room(spec())
    url = public.join_url(room, PARENT, now=NOW)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://meet.jit.si"
    assert parts.path == f"/{room.room_id}" and parts.query == ""
    assert unquote(parts.fragment) == 'userInfo.displayName="Parent Alice"'


# ---------------------------------------------------------------------- caucus


async def test_caucus_is_a_separate_room_with_its_own_tokens(
    jitsi: JitsiProvider, http: aiohttp.ClientSession
) -> None:
    main = await jitsi.create_room(spec())
    caucus = await jitsi.create_caucus(main, spec())
    assert caucus.room_id != main.room_id
    assert caucus.room_id.startswith(f"{main.room_id}-")
    assert caucus.data["parent_room"] == main.room_id
    caucus_url = jitsi.join_url(caucus, PARENT, now=NOW)
    assert (await open_link(http, caucus_url))[0] == 200
    token = token_of(caucus_url)
    status, _ = await open_link(http, f"{jitsi.config.base_url}/{main.room_id}?jwt={token}")
    assert status == 403


# ---------------------------------------------------------------------- event_sync


@pytest.fixture
async def hook(aiohttp_server: ServerFactory, jitsi: JitsiProvider) -> tuple[str, list[Any]]:
    """Our side of event_sync: verify each post with the adapter, as the lead's route will."""
    received: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        callback = CallbackRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=await request.read(),
        )
        try:
            result = jitsi.verify_callback(callback, now=NOW)
        except SignatureInvalid:
            return web.json_response({"error": "unauthorised"}, status=401)
        received.extend(result.signals)
        return web.json_response({"signals": len(result.signals)})

    app = web.Application()
    app.router.add_post("/hooks/jitsi/events/{kind}/{action}", handle)
    server = await aiohttp_server(app)
    return str(server.make_url("/hooks/jitsi")), received


async def test_occupant_join_and_leave_become_attendance(
    jitsi: JitsiProvider, hook: tuple[str, list[Any]], http: aiohttp.ClientSession
) -> None:
    prefix, received = hook
    room = await jitsi.create_room(spec())
    user = claims_of(jitsi.join_url(room, PARENT, now=NOW))["context"]["user"]
    at = int(NOW.timestamp())
    jid = f"{room.room_id}@{MUC}/a1b2c3"
    joined = occupant_event(
        "muc-occupant-joined", room.room_id, muc_domain=MUC, occupant_jid=jid, user=user, at=at
    )
    left = occupant_event(
        "muc-occupant-left", room.room_id, muc_domain=MUC, occupant_jid=jid, user=user, at=at + 600
    )
    headers = {"Authorization": HOOK_SECRET}
    for event in (joined, joined, left):
        assert await post_event_sync(http, prefix, event, headers=headers) == 200
    kinds = [(s.kind, s.participant_ref, s.room_id, s.at) for s in received]
    assert kinds == [
        ("joined", "p-party-91bc", room.room_id, NOW),
        ("joined", "p-party-91bc", room.room_id, NOW),
        ("left", "p-party-91bc", room.room_id, NOW + timedelta(minutes=10)),
    ]
    assert received[0].dedup_key == received[1].dedup_key != received[2].dedup_key


async def test_room_lifecycle_events_start_and_end_the_room(
    jitsi: JitsiProvider, hook: tuple[str, list[Any]], http: aiohttp.ClientSession
) -> None:
    prefix, received = hook
    at = int(NOW.timestamp())
    headers = {"Authorization": HOOK_SECRET}
    for name in ("muc-room-created", "muc-room-destroyed"):
        event = room_event(name, "abcdefghijklmnopq", muc_domain=MUC, at=at)
        assert await post_event_sync(http, prefix, event, headers=headers) == 200
    breakout = room_event(
        "muc-room-created", "abcdefghijklmnopq", muc_domain=MUC, at=at, breakout_room_id="b1"
    )
    assert await post_event_sync(http, prefix, breakout, headers=headers) == 200
    assert [s.kind for s in received] == ["room_started", "room_ended"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-Other": HOOK_SECRET}],
    ids=["missing", "wrong-value", "wrong-header"],
)
async def test_event_without_the_shared_header_is_refused(
    jitsi: JitsiProvider,
    hook: tuple[str, list[Any]],
    http: aiohttp.ClientSession,
    headers: dict[str, str],
) -> None:
    prefix, received = hook
    event = occupant_event(
        "muc-occupant-joined",
        "abcdefghijklmnopq",
        muc_domain=MUC,
        occupant_jid="x@y/z",
        user={"id": "p-1", "name": "Someone"},
        at=int(NOW.timestamp()),
    )
    assert await post_event_sync(http, prefix, event, headers=headers) == 401
    assert received == []


def test_unconfigured_shared_header_refuses_everything() -> None:
    provider = JitsiProvider(JitsiConfig())
    request = CallbackRequest(method="POST", url="/", headers={"Authorization": ""}, body=b"{}")
    with pytest.raises(SignatureInvalid):
        provider.verify_callback(request, now=NOW)


# ---------------------------------------------------------------------- dial-in


def test_conference_mapper_names_no_room_pin(jitsi: JitsiProvider) -> None:
    conference = jitsi.conference_jid("AbCdEfGhIjKlMnOpQ")
    assert conference == f"abcdefghijklmnopq@{MUC}"
    assert jitsi.room_from_conference(conference) == "abcdefghijklmnopq"
    assert jitsi.room_from_conference("abcdefghijklmnopq@conference.elsewhere.test") is None
    # Without "id" the Jitsi client shows the message instead of a PIN.
    status, body = no_pin_response()
    assert status == 200 and "id" not in body and "conference" not in body
    assert "your own invitation" in body["message"]


def test_reverse_mapper_says_false_for_unknown_pin() -> None:
    assert reverse_mapper_response("01234", None)[1] == {
        "message": "No conference mapping was found",
        "id": "01234",
        "conference": False,
    }
    assert reverse_mapper_response("48213", f"room@{MUC}")[1]["conference"] == f"room@{MUC}"


def test_phone_numbers_use_the_array_format_with_one_default() -> None:
    numbers = phone_numbers_response(
        [("GB", "+44 20 7946 0000", False), ("GB", "0800 000 000", True)]
    )
    assert numbers == [
        {
            "countryCode": "GB",
            "tollFree": False,
            "formattedNumber": "+44 20 7946 0000",
            "default": True,
        },
        {
            "countryCode": "GB",
            "tollFree": True,
            "formattedNumber": "0800 000 000",
            "default": False,
        },
    ]


async def test_room_with_pin_carries_dial_in_details() -> None:
    provider = JitsiProvider(JitsiConfig(dial_in_number="+44 20 7946 0000"))
    room: ProviderRoom = await provider.create_room(spec(pin="48213"))
    assert (room.dial_in_number, room.dial_in_pin) == ("+44 20 7946 0000", "48213")
