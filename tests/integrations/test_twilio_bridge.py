"""Twilio bridge: request signatures, TwiML, and calls moved between room conferences."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from integrations.base import AttendanceSignal, CallbackRequest
from integrations.errors import (
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    SignatureInvalid,
)
from integrations.twilio_bridge import ConferenceState, TwilioBridge, TwilioConfig
from tests.fakes.twilio import FakeTwilio, twilio_signature

DOCS_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def bridge_for(token: str = "12345", api_base: str = "https://api.twilio.com") -> TwilioBridge:
    config = TwilioConfig(
        account_sid="AC" + "0" * 32,
        auth_token=token,
        phone_number="+443300000001",
        api_base=api_base,
    )
    return TwilioBridge(config, session=None)  # type: ignore[arg-type]  # no HTTP in these tests


def request(
    url: str, signature: str, form: dict[str, str], method: str = "POST"
) -> CallbackRequest:
    return CallbackRequest(
        method=method,
        url=url,
        headers={"X-Twilio-Signature": signature},
        body=b"",
        form={name: [value] for name, value in form.items()},
    )


# --------------------------------------------------------------------------- signatures


def test_signature_matches_twilio_documented_vector() -> None:
    bridge = bridge_for("12345")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert bridge.signature(url, DOCS_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_matches_the_newer_documented_vector() -> None:
    params = DOCS_PARAMS | {"Caller": "+12349013030", "From": "+12349013030"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert bridge_for("12345").signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_follows_the_algorithm_by_hand() -> None:
    import base64
    import hmac

    url = "https://app.example/pin"
    form = {"b": ["2", "1", "2"], "a": ["x"]}
    text = url + "a" + "x" + "b" + "1" + "b" + "2"  # sorted names, sorted unique values
    expected = base64.b64encode(hmac.new(b"tok", text.encode(), hashlib.sha1).digest()).decode()
    assert bridge_for("tok").signature(url, form) == expected


def test_a_valid_request_passes_and_a_tampered_parameter_fails() -> None:
    bridge = bridge_for("12345")
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    bridge.verify_request(request(url, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DOCS_PARAMS))
    with pytest.raises(SignatureInvalid):
        bridge.verify_request(
            request(url, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", DOCS_PARAMS | {"Digits": "9999"})
        )


def test_missing_signature_header_is_refused() -> None:
    bad = CallbackRequest(method="POST", url="https://a/b", headers={}, body=b"")
    with pytest.raises(SignatureInvalid):
        bridge_for().verify_request(bad)


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://app.example/voice", "https://app.example:443/voice"),
        ("https://app.example:443/voice", "https://app.example/voice"),
        ("http://app.example/voice?x=1", "http://app.example:80/voice?x=1"),
    ],
)
def test_explicit_default_port_is_tolerated_either_way(signed_url: str, received_url: str) -> None:
    bridge = bridge_for()
    signature = twilio_signature("12345", signed_url, {"CallSid": ["CA1"]})
    bridge.verify_request(request(received_url, signature, {"CallSid": "CA1"}))


def test_a_different_host_or_path_fails() -> None:
    signature = twilio_signature("12345", "https://app.example/voice", {})
    with pytest.raises(SignatureInvalid):
        bridge_for().verify_request(request("https://evil.example/voice", signature, {}))


def test_form_is_read_from_the_body_when_not_parsed() -> None:
    body = b"CallSid=CA1&Digits=123456&Muted="
    url = "https://app.example/pin"
    signature = twilio_signature("12345", url, parse_qs(body.decode(), keep_blank_values=True))
    req = CallbackRequest(
        method="POST",
        url=url,
        headers={
            "x-twilio-signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        },
        body=body,
    )
    bridge_for().verify_request(req)


def test_json_body_is_covered_by_body_sha256() -> None:
    body = b'{"CallSid":"CA1","Digits":"123456"}'
    url = f"https://app.example/hook?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = twilio_signature("12345", url, {})
    good = CallbackRequest(
        method="POST", url=url, headers={"X-Twilio-Signature": signature}, body=body
    )
    bridge_for().verify_request(good)

    altered = CallbackRequest(
        method="POST", url=url, headers={"X-Twilio-Signature": signature}, body=body + b" "
    )
    with pytest.raises(SignatureInvalid):
        bridge_for().verify_request(altered)


def test_get_is_signed_over_the_url_only() -> None:
    url = "https://app.example/wait?CallSid=CA1&Digits=1"
    signature = twilio_signature("12345", url, {})
    bridge_for().verify_request(request(url, signature, {}, method="GET"))


# --------------------------------------------------------------------------- TwiML


def test_pin_prompt_gathers_six_digits_and_posts_them() -> None:
    root = ET.fromstring(
        TwilioBridge.twiml_gather_pin("https://app.example/pin", "Enter <PIN> & #")
    )
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "6",
        "action": "https://app.example/pin",
        "method": "POST",
        "timeout": "10",
        "finishOnKey": "#",
    }
    assert gather.findtext("Say") == "Enter <PIN> & #"
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]


@pytest.mark.parametrize(("moderator", "starts"), [(True, "true"), (False, "false")])
def test_conference_twiml_lets_only_the_mediator_start_and_end(
    moderator: bool, starts: str
) -> None:
    twiml = TwilioBridge.twiml_join_conference(
        "room-abc", label="p-1", moderator=moderator, status_callback_url="https://app.example/conf"
    )
    conference = ET.fromstring(twiml).find("Dial/Conference")
    assert conference is not None and conference.text == "room-abc"
    assert conference.attrib == {
        "startConferenceOnEnter": starts,
        "endConferenceOnExit": starts,
        "beep": "false",
        "record": "do-not-record",
        "waitUrl": "",
        "participantLabel": "p-1",
        "statusCallback": "https://app.example/conf",
        "statusCallbackEvent": "start end join leave",
        "statusCallbackMethod": "POST",
    }


def test_say_and_hangup_ends_the_call() -> None:
    root = ET.fromstring(TwilioBridge.twiml_say_and_hangup("That PIN is not recognised."))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.findtext("Say") == "That PIN is not recognised."


def test_status_callback_becomes_a_phone_attendance_signal() -> None:
    form = {
        "ConferenceSid": "CF1",
        "FriendlyName": "room-abc",
        "SequenceNumber": "3",
        "Timestamp": "Mon, 03 Mar 2025 10:00:07 +0000",
        "StatusCallbackEvent": "participant-leave",
        "CallSid": "CA9",
        "ParticipantLabel": "p-1",
    }
    [signal] = TwilioBridge.parse_status_callback(form)
    assert (signal.room_id, signal.kind, signal.participant_ref, signal.channel) == (
        "room-abc",
        "left",
        "p-1",
        "phone",
    )
    assert signal.at.isoformat() == "2025-03-03T10:00:07+00:00"
    assert signal.dedup_key == "twilio:CF1:CA9:3:participant-leave"
    assert (
        TwilioBridge.parse_status_callback(form | {"StatusCallbackEvent": "participant-mute"}) == []
    )


def test_status_callbacks_say_when_a_conference_is_live_and_when_it_is_over() -> None:
    form = {"ConferenceSid": "CF1", "FriendlyName": "room-abc", "SequenceNumber": "1"}

    def state(event: str, **more: str) -> ConferenceState | None:
        return TwilioBridge.conference_state(form | {"StatusCallbackEvent": event} | more)

    live = ConferenceState(name="room-abc", sid="CF1", live=True)
    assert state("participant-join") == live  # a lobby waiting for the mediator is live
    assert state("conference-start") == live
    assert state("conference-end") == ConferenceState(name="room-abc", sid="CF1", live=False)
    assert state("participant-leave") is None  # says nothing about the conference
    assert state("conference-end", ConferenceSid="") is None


# --------------------------------------------------------------------------- phone network


@dataclass
class Seat:
    conference: str
    label: str
    moderator: bool
    end_on_exit: bool | None = None


class PhoneRoutes:
    """The orchestrator's Twilio webhooks, reduced to what the bridge needs."""

    def __init__(self, bridge: TwilioBridge, seats: dict[str, Seat]) -> None:
        self.bridge = bridge
        self.seats = seats
        self.signals: list[AttendanceSignal] = []
        self.refused = 0
        self.app = web.Application()
        self.app.router.add_post("/voice", self.voice)
        self.app.router.add_post("/pin", self.pin)
        self.app.router.add_post("/conf-events", self.conference_events)

    async def verified(self, request: web.Request) -> CallbackRequest:
        body = await request.read()
        callback = CallbackRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=body,
            form=parse_qs(body.decode(), keep_blank_values=True),
        )
        try:
            self.bridge.verify_request(callback)
        except SignatureInvalid:
            self.refused += 1
            raise web.HTTPForbidden() from None
        return callback

    async def voice(self, request: web.Request) -> web.Response:
        await self.verified(request)
        pin_url = str(request.url.with_path("/pin"))
        return twiml(self.bridge.twiml_gather_pin(pin_url, "Please key your six digit PIN."))

    async def pin(self, request: web.Request) -> web.Response:
        callback = await self.verified(request)
        seat = self.seats.get(self.bridge.gathered_digits(callback.form))
        if seat is None:
            return twiml(self.bridge.twiml_say_and_hangup("That PIN is not recognised."))
        return twiml(
            self.bridge.twiml_join_conference(
                seat.conference,
                label=seat.label,
                moderator=seat.moderator,
                status_callback_url=self.status_url(request),
                end_conference_on_exit=seat.end_on_exit,
            )
        )

    async def conference_events(self, request: web.Request) -> web.Response:
        callback = await self.verified(request)
        self.signals.extend(self.bridge.parse_status_callback(callback.form))
        return web.Response(status=204)

    @staticmethod
    def status_url(request: web.Request) -> str:
        return str(request.url.with_path("/conf-events"))

    def seen(self) -> list[tuple[str, str, str | None]]:
        return [(s.kind, s.room_id, s.participant_ref) for s in self.signals]


def twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def network() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
async def twilio_server(aiohttp_server: AiohttpServer, network: FakeTwilio) -> TestServer:
    return await aiohttp_server(network.app)


def make_bridge(
    network: FakeTwilio, server: TestServer, session: aiohttp.ClientSession, **overrides: object
) -> TwilioBridge:
    settings: dict[str, object] = {
        "account_sid": network.account_sid,
        "auth_token": network.auth_token,
        "phone_number": network.phone_number,
        "api_base": str(server.make_url("")).rstrip("/"),
        **overrides,
    }
    return TwilioBridge(TwilioConfig(**settings), session)  # type: ignore[arg-type]


@pytest.fixture
async def phone(aiohttp_server, network, twilio_server, session):
    bridge = make_bridge(network, twilio_server, session)
    routes = PhoneRoutes(
        bridge,
        {
            "111111": Seat("joint-7f3a", "m-1", moderator=True, end_on_exit=False),
            "222222": Seat("joint-7f3a", "p-parent", moderator=False),
            "333333": Seat("joint-7f3a", "p-la", moderator=False),
        },
    )
    app_server = await aiohttp_server(routes.app)
    network.voice_url = str(app_server.make_url("/voice"))
    return bridge, routes, str(app_server.make_url("/conf-events"))


async def test_unknown_pin_is_told_so_and_hung_up(network, phone) -> None:
    call = await network.dial_in("+447700900001")
    assert call.heard == ["Please key your six digit PIN."]
    await network.press(call, "999999")
    assert call.heard[-1] == "That PIN is not recognised."
    assert call.status == "completed" and call.conference is None


async def test_parties_wait_until_the_mediator_starts_the_joint_room(network, phone) -> None:
    _, routes, _ = phone
    parent = await network.dial_in("+447700900002")
    await network.press(parent, "222222")
    joint = network.conference_of(parent)
    assert joint is not None and joint.status == "init"  # the lobby: waiting, silent

    mediator = await network.dial_in("+447700900003")
    await network.press(mediator, "111111")
    assert joint.status == "in-progress"
    assert routes.seen() == [
        ("joined", "joint-7f3a", "p-parent"),
        ("joined", "joint-7f3a", "m-1"),
        ("room_started", "joint-7f3a", None),
    ]
    assert all(s.channel == "phone" for s in routes.signals)
    assert "+4477" not in repr(routes.signals)


async def test_phone_participants_move_between_joint_and_caucus_rooms(network, phone) -> None:
    bridge, routes, status_url = phone
    calls = {}
    for pin in ("111111", "222222", "333333"):
        calls[pin] = await network.dial_in(f"+4477009000{pin[0]}")
        await network.press(calls[pin], pin)
    mediator, parent, officer = calls["111111"], calls["222222"], calls["333333"]
    routes.signals.clear()

    await bridge.move_call(
        parent.sid, "caucus-7f3a-1", label="p-parent", status_callback_url=status_url
    )
    sid, form = network.call_updates[-1]
    assert sid == parent.sid
    assert ET.fromstring(form["Twiml"]).findtext("Dial/Conference") == "caucus-7f3a-1"
    assert network.conference_of(parent).status == "init"  # waits for the mediator

    await bridge.move_call(
        mediator.sid, "caucus-7f3a-1", label="m-1", moderator=True, status_callback_url=status_url
    )
    assert network.conference_of(parent).status == "in-progress"
    assert network.conference_of(officer).name == "joint-7f3a"
    assert network.conference_of(officer).status == "in-progress"  # not ended by the move
    assert routes.seen() == [
        ("left", "joint-7f3a", "p-parent"),
        ("joined", "caucus-7f3a-1", "p-parent"),
        ("left", "joint-7f3a", "m-1"),
        ("joined", "caucus-7f3a-1", "m-1"),
        ("room_started", "caucus-7f3a-1", None),
    ]

    # The mediator steps back to the joint room first: the parent is not cut off.
    await bridge.move_call(
        mediator.sid, "joint-7f3a", label="m-1", moderator=True, status_callback_url=status_url
    )
    caucus = network.conference_of(parent)
    assert caucus is not None and caucus.status == "in-progress"
    assert parent.status == "in-progress"
    await bridge.move_call(
        parent.sid, "joint-7f3a", label="p-parent", status_callback_url=status_url
    )
    joint = network.conference_of(officer)
    assert set(joint.participants) == {mediator.sid, parent.sid, officer.sid}
    assert routes.refused == 0 and set(network.callback_statuses) == {204}


async def test_ending_the_conference_sends_everyone_away(network, phone) -> None:
    bridge, routes, _ = phone
    mediator = await network.dial_in("+447700900003")
    await network.press(mediator, "111111")
    parent = await network.dial_in("+447700900002")
    await network.press(parent, "222222")
    joint = network.conference_of(parent)

    await bridge.end_conference(joint.sid)

    assert network.conference_updates == [(joint.sid, {"Status": "completed"})]
    assert joint.status == "completed" and parent.status == "completed"
    assert routes.seen()[-1] == ("room_ended", "joint-7f3a", None)


async def test_ending_a_conference_that_is_gone_is_not_an_error(network, phone) -> None:
    bridge, _, _ = phone
    await bridge.end_conference("CF" + "f" * 32)  # Twilio: 404, code 20404
    assert network.conference_updates == []


async def test_a_mediator_who_hangs_up_ends_a_room_they_joined_by_default(
    aiohttp_server, network, twilio_server, session
) -> None:
    bridge = make_bridge(network, twilio_server, session)
    routes = PhoneRoutes(
        bridge,
        {"111111": Seat("joint-1", "m-1", moderator=True), "222222": Seat("joint-1", "p-1", False)},
    )
    network.voice_url = str((await aiohttp_server(routes.app)).make_url("/voice"))
    mediator = await network.dial_in("+447700900003")
    await network.press(mediator, "111111")
    parent = await network.dial_in("+447700900002")
    await network.press(parent, "222222")

    await network.hang_up(mediator)

    assert parent.status == "completed"
    assert routes.seen()[-1] == ("room_ended", "joint-1", None)


async def test_forged_status_callback_is_refused(network, phone) -> None:
    _, routes, status_url = phone
    params = {
        "ConferenceSid": "CF1",
        "FriendlyName": "joint-7f3a",
        "SequenceNumber": "1",
        "StatusCallbackEvent": "participant-join",
        "CallSid": "CA1",
        "ParticipantLabel": "p-parent",
    }
    forged = twilio_signature("not-the-token", status_url, {k: [v] for k, v in params.items()})
    status, _ = await network.post_signed(status_url, params, signature=forged)
    assert status == 403
    assert routes.signals == [] and routes.refused == 1


async def test_move_call_errors_are_translated(network, twilio_server, session, phone) -> None:
    bridge, _, _ = phone
    with pytest.raises(ProviderRejected):
        await bridge.move_call("CA" + "f" * 32, "caucus-1")

    wrong = make_bridge(network, twilio_server, session, auth_token="wrong")
    with pytest.raises(ProviderAuthError):
        await wrong.move_call("CA1", "caucus-1")

    network.fail_status = 503
    with pytest.raises(ProviderUnavailable):
        await bridge.end_conference("CF1")
    assert network.call_updates == [] and network.conference_updates == []


async def test_unreachable_api_is_retryable(session, unused_tcp_port) -> None:
    bridge = TwilioBridge(
        TwilioConfig("AC1", "tok", "+44", api_base=f"http://127.0.0.1:{unused_tcp_port}"), session
    )
    with pytest.raises(ProviderUnavailable):
        await bridge.move_call("CA1", "caucus-1")


@pytest.mark.parametrize("name", ["X-Twilio-Signature", "x-twilio-signature", "X-TWILIO-SIGNATURE"])
def test_the_signature_header_is_found_whatever_its_case(name: str) -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    signed = CallbackRequest(
        method="POST",
        url=url,
        headers={name: "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        body=b"",
        form={key: [value] for key, value in DOCS_PARAMS.items()},
    )
    bridge_for("12345").verify_request(signed)
