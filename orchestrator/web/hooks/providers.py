"""Provider call-backs under ``/hooks/{provider}/...``: verified first, then recorded.

Each request is checked with the provider's own scheme (Jitsi event_sync's shared header,
BigBlueButton's checksum, Zoom's ``x-zm-signature``, ``X-Twilio-Signature``) against the
URL the provider called, ``settings.base_url`` + path, before anything in it is read.
Verified facts become ``ParticipantEvent`` rows keyed by the provider's dedup key, so a
repeated delivery is answered 200 and counted once.

Also here: Jitsi's dial-in conference mapper (PIN look-ups for the gateway only, behind its
bearer token and a per-address limit) and numbers list, and the Twilio voice flow
(``/voice`` asks for a PIN, ``/pin`` puts its holder into their meeting's current room,
``/status`` turns conference events into attendance and keeps each room's live conference).
Turning verified signals into events is ``orchestrator.meeting.attendance_signals``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from aiohttp import web

from integrations.base import CallbackRequest
from integrations.errors import IntegrationError, PluginLoadError, SignatureInvalid
from orchestrator.meeting import room_access, rooms
from orchestrator.meeting.attendance_signals import record_signals
from orchestrator.meeting.providers import TWILIO_PIN_PATH, TWILIO_STATUS_PATH, VIDEO_BUILTINS
from orchestrator.scheduling import pins
from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError, json_error
from orchestrator.web.keys import CLIENT_ADDRESS, CLOCK, DB, PROVIDERS, SETTINGS, THROTTLE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_HOOK_BYTES = 256 * 1024
PIN_ATTEMPTS = 3
TWIML = "text/xml"


def _public_url(request: web.Request) -> str:
    """The URL as the provider called it, behind any proxy: our public base plus the path."""
    return request.app[SETTINGS].base_url + request.path_qs


async def _callback_request(request: web.Request) -> CallbackRequest:
    body = await read_body(request, limit=MAX_HOOK_BYTES, what="call-back body")
    form: dict[str, list[str]] = {}
    if request.content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return CallbackRequest(
        method=request.method,
        url=_public_url(request),
        headers=dict(request.headers),
        body=body,
        form=form,
    )


def _refused(exc: IntegrationError) -> ApiError:
    if isinstance(exc, SignatureInvalid):
        return ApiError(401, "signature_invalid", "the call-back's signature did not verify")
    return ApiError(400, "bad_callback", "the call-back could not be understood")


# ---------------------------------------------------------------------------- Jitsi dial-in


def _jitsi(request: web.Request) -> object:
    providers = request.app[PROVIDERS]
    if "jitsi" not in providers.video_names():
        raise ApiError(404, "not_found", "Jitsi is not used here")
    return providers.video("jitsi")


def _gateway_token(request: web.Request) -> str | None:
    """The bearer token the caller presented, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _too_many_look_ups(wait: int) -> web.Response:
    error = ApiError(429, "too_many_attempts", "too many PIN look-ups; try again later")
    return json_error(error, headers={"Retry-After": str(wait)})


@routes.get("/hooks/jitsi/mapper")
async def jitsi_mapper(request: web.Request) -> web.Response:
    """Jitsi's conference mapper.

    ``?conference=room@muc`` (the browser client, unauthenticated) names no PIN: everyone
    has their own, in their invitation and on their join page. ``?id=PIN`` (the dial-in
    gateway) answers the conference of the PIN's meeting, only to a caller presenting
    ``Authorization: Bearer <ORCH_JITSI_MAPPER_TOKEN>``; refused and unknown look-ups cost
    the caller's address a token of its bucket, so a scan of PINs stops at 429.
    """
    from integrations.jitsi import JitsiProvider, no_pin_response, reverse_mapper_response

    provider = _jitsi(request)
    assert isinstance(provider, JitsiProvider)
    if "conference" in request.query:
        status, body = no_pin_response()
        return web.json_response(body, status=status)
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    throttle, client = app[THROTTLE], app[CLIENT_ADDRESS](request)
    wait = await throttle.waiting("mapper", client)
    if wait:
        return _too_many_look_ups(wait)
    expected = settings.jitsi_mapper_token
    presented = _gateway_token(request)
    if (
        expected is None
        or presented is None
        or not hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())
    ):
        wait = await throttle.failed_at("mapper", client)
        if wait:
            return _too_many_look_ups(wait)
        raise ApiError(401, "unauthorized", "a valid dial-in gateway token is required")
    pin = request.query.get("id", "").strip()[:32]
    conference = None
    async with app[DB].read() as session:
        holder = await room_access.find_pin(session, pin, door="jitsi", settings=settings, now=now)
        if holder is not None:
            name = await room_access.dial_in_room_name(session, holder)
            conference = provider.conference_jid(name) if name else None
    if conference is None:
        wait = await throttle.failed_at("mapper", client)
        if wait:
            return _too_many_look_ups(wait)
    status, body = reverse_mapper_response(pin, conference)
    return web.json_response(body, status=status)


@routes.get("/hooks/jitsi/numbers")
async def jitsi_numbers(request: web.Request) -> web.Response:
    """Jitsi's dial-in numbers list (array format; the first is the default)."""
    from integrations.jitsi import phone_numbers_response

    _jitsi(request)
    number = request.app[SETTINGS].jitsi_dial_in_number
    numbers = [("GB", number, False)] if number else []
    return web.json_response(phone_numbers_response(numbers))


# ---------------------------------------------------------------------------- Twilio voice


def _bridge(request: web.Request) -> object:
    try:
        return request.app[PROVIDERS].phone()
    except PluginLoadError:
        raise ApiError(404, "not_found", "no phone bridge is used here") from None


async def _verified_twilio(request: web.Request) -> tuple[object, CallbackRequest]:
    bridge = _bridge(request)
    incoming = await _callback_request(request)
    try:
        bridge.verify_request(incoming)  # type: ignore[attr-defined]
    except IntegrationError as exc:
        raise _refused(exc) from None
    return bridge, incoming


def _first(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _twiml(text: str) -> web.Response:
    return web.Response(text=text, content_type=TWIML)


@routes.post("/hooks/twilio/voice")
async def twilio_voice(request: web.Request) -> web.Response:
    """A call to the service number: ask for the caller's PIN."""
    from integrations.twilio_bridge import TwilioBridge

    await _verified_twilio(request)
    settings = request.app[SETTINGS]
    return _twiml(
        TwilioBridge.twiml_gather_pin(
            settings.base_url + TWILIO_PIN_PATH + "?attempt=1",
            f"Welcome to the {settings.service_name}. "
            "Please key your meeting PIN, then press the hash key.",
            num_digits=pins.PHONE_PIN_DIGITS,
        )
    )


@routes.post("/hooks/twilio/pin")
async def twilio_pin(request: web.Request) -> web.Response:
    """The caller keyed a PIN: put them into their meeting's current room, or ask again."""
    from integrations.twilio_bridge import TwilioBridge

    _, incoming = await _verified_twilio(request)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    digits = TwilioBridge.gathered_digits(incoming.form)
    call_id = _first(incoming.form, "CallSid")[:64] or None
    try:
        attempt = int(request.query.get("attempt", "1"))
    except ValueError:
        attempt = PIN_ATTEMPTS
    async with request.app[DB].write() as session:
        found = await room_access.find_pin(
            session, digits, door="bridge", settings=settings, now=now
        )
        if found is None:
            if attempt >= PIN_ATTEMPTS:
                return _twiml(
                    TwilioBridge.twiml_say_and_hangup(
                        "We could not find a meeting open now for that PIN. "
                        f"Please call us on {settings.help_line}. Goodbye."
                    )
                )
            return _twiml(
                TwilioBridge.twiml_gather_pin(
                    f"{settings.base_url}{TWILIO_PIN_PATH}?attempt={attempt + 1}",
                    "Sorry, that PIN did not open a meeting. Please key it again, "
                    "then press the hash key.",
                    num_digits=pins.PHONE_PIN_DIGITS,
                )
            )
        seat = await room_access.seat_phone_caller(session, found, call_id=call_id, now=now)
    return _twiml(
        TwilioBridge.twiml_join_conference(
            seat.room.room_key,
            label=seat.label,
            moderator=seat.moderator,
            status_callback_url=settings.base_url + TWILIO_STATUS_PATH,
        )
    )


@routes.post("/hooks/twilio/status")
async def twilio_status(request: web.Request) -> web.Response:
    """Conference events: people joining and leaving become attendance; each room's live
    conference is remembered so that ending the session can end it."""
    from integrations.twilio_bridge import TwilioBridge

    _, incoming = await _verified_twilio(request)
    signals = TwilioBridge.parse_status_callback(incoming.form)
    conference = TwilioBridge.conference_state(incoming.form)
    call_id = _first(incoming.form, "CallSid")[:64] or None
    async with request.app[DB].write() as session:
        await record_signals(
            session, signals, source="twilio", settings=request.app[SETTINGS], call_id=call_id
        )
        if conference is not None:
            await rooms.track_conference(
                session, room_key=conference.name, sid=conference.sid, live=conference.live
            )
    return web.Response(status=204)


# ---------------------------------------------------------------------------- video call-backs


@routes.post(r"/hooks/{provider:[a-z0-9_]+}/events{tail:(/[a-z/_-]*)?}")
async def video_events(request: web.Request) -> web.Response:
    """A video provider's call-back: verify, translate, record once; answer its reply."""
    name = request.match_info["provider"]
    providers = request.app[PROVIDERS]
    if name not in providers.video_names() and name not in VIDEO_BUILTINS:
        raise ApiError(404, "not_found", "no such call-back")
    try:
        provider = providers.video(name)
    except PluginLoadError:  # a built-in this service has no settings for
        raise ApiError(404, "not_found", "no such call-back") from None
    incoming = await _callback_request(request)
    now = request.app[CLOCK]()
    try:
        result = provider.verify_callback(incoming, now=now)
    except IntegrationError as exc:
        log.info("refused a %s call-back: %s", name, type(exc).__name__)
        raise _refused(exc) from None
    async with request.app[DB].write() as session:
        await record_signals(session, result.signals, source=name, settings=request.app[SETTINGS])
    if result.response_json is not None:
        return web.json_response(result.response_json)
    if result.response_text is not None:
        return web.Response(text=result.response_text, content_type=result.content_type)
    return web.json_response({"ok": True})
