"""Provider call-backs under ``/hooks/{provider}/...``: verified first, then recorded.

Each request is checked with the provider's own scheme (Jitsi event_sync's shared header,
BigBlueButton's checksum, Zoom's ``x-zm-signature``, ``X-Twilio-Signature``) against the
URL the provider called, ``settings.base_url`` + path, before anything in it is read.
Verified facts become ``ParticipantEvent`` rows keyed by the provider's dedup key, so a
repeated delivery is answered 200 and counted once.

Also here: Jitsi's dial-in conference mapper and numbers list, and the Twilio voice flow
(``/voice`` asks for a PIN, ``/pin`` puts the caller into their meeting's current room,
``/status`` turns conference events into attendance and keeps each room's live conference).
Turning verified signals into events is ``orchestrator.attendance_signals``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.base import CallbackRequest
from integrations.errors import IntegrationError, PluginLoadError, SignatureInvalid
from orchestrator import attendance, booking, rooms
from orchestrator.attendance_signals import record_signals
from orchestrator.models import (
    Channel,
    Invitation,
    Meeting,
    ParticipantStatus,
    Party,
    Room,
)
from orchestrator.providers import TWILIO_PIN_PATH, TWILIO_STATUS_PATH, VIDEO_BUILTINS
from orchestrator.settings import Settings
from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLOCK, DB, PROVIDERS, SETTINGS

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


def _live(meeting: Meeting | None, settings: Settings, now: datetime) -> bool:
    return (
        meeting is not None
        and meeting.status in booking.LIVE_STATUSES
        and booking.join_opens_at(meeting, settings) - timedelta(days=1)
        <= now
        <= booking.join_closes_at(meeting, settings)
    )


@routes.get("/hooks/jitsi/mapper")
async def jitsi_mapper(request: web.Request) -> web.Response:
    """Jitsi's conference mapper: ``?conference=room@muc`` -> PIN, ``?id=PIN`` -> conference."""
    from integrations.jitsi import (
        JitsiProvider,
        conference_mapper_response,
        reverse_mapper_response,
    )

    provider = _jitsi(request)
    assert isinstance(provider, JitsiProvider)
    settings, now = request.app[SETTINGS], request.app[CLOCK]()
    async with request.app[DB].read() as session:
        if "conference" in request.query:
            conference = request.query["conference"]
            name = provider.room_from_conference(conference)
            pin = None
            if name:
                room = await session.scalar(
                    select(Room).where(col(Room.provider_room_id) == name, col(Room.kind) == "main")
                )
                meeting = await session.get(Meeting, room.meeting_id) if room else None
                if meeting is not None and _live(meeting, settings, now):
                    pin = meeting.dial_in_pin
            status, body = conference_mapper_response(conference, pin)
            return web.json_response(body, status=status)
        pin = request.query.get("id", "").strip()
        conference_id = None
        if pin.isdigit():
            found = (
                await session.scalars(
                    select(Meeting).where(
                        col(Meeting.dial_in_pin) == pin, col(Meeting.provider) == "jitsi"
                    )
                )
            ).all()
            for meeting in found:
                if _live(meeting, settings, now) and meeting.provider_room:
                    room_name = str(meeting.provider_room.get("room_id", ""))
                    conference_id = provider.conference_jid(room_name)
        status, body = reverse_mapper_response(pin, conference_id)
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
            num_digits=booking.PHONE_PIN_DIGITS,
        )
    )


async def _find_pin(
    session: AsyncSession, pin: str, settings: Settings, now: datetime
) -> tuple[Meeting, Party | None] | None:
    """The live meeting (and party; None for the mediator) this PIN opens right now."""
    rows = (
        await session.execute(
            select(Invitation, Meeting)
            .join(Meeting, col(Meeting.id) == col(Invitation.meeting_id))
            .where(
                col(Invitation.phone_pin) == pin,
                col(Invitation.cancelled_at).is_(None),
                col(Meeting.status).in_(booking.LIVE_STATUSES),
            )
        )
    ).all()
    for invitation, meeting in rows:
        if (
            booking.join_opens_at(meeting, settings)
            <= now
            <= booking.join_closes_at(meeting, settings)
        ):
            party = await session.get(Party, invitation.party_id)
            if party is not None and party.removed_at is None:
                return meeting, party
    mediated = (
        await session.scalars(
            select(Meeting).where(
                col(Meeting.mediator_pin) == pin, col(Meeting.status).in_(booking.LIVE_STATUSES)
            )
        )
    ).all()
    for meeting in mediated:
        if (
            booking.join_opens_at(meeting, settings)
            <= now
            <= booking.join_closes_at(meeting, settings)
        ):
            return meeting, None
    return None


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
        found = await _find_pin(session, digits, settings, now) if digits.isdigit() else None
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
                    num_digits=booking.PHONE_PIN_DIGITS,
                )
            )
        meeting, party = found
        room = await rooms.main_room(session, meeting.id)
        if party is not None:
            room = await rooms.room_of_party(session, meeting.id, party.id) or room
            label = party.participant_ref
        else:
            assert meeting.mediator_id is not None
            label = attendance.mediator_ref(meeting.mediator_id)
        await attendance.append(
            session,
            attendance.event_row(
                meeting_id=meeting.id,
                party_id=party.id if party else None,
                mediator_id=None if party else meeting.mediator_id,
                status=ParticipantStatus.joining,
                source="twilio",
                at=now,
                room_id=room.id,
                channel=Channel.phone,
                dedup_key=f"twilio:pin:{call_id}" if call_id else None,
                call_id=call_id,
            ),
        )
    return _twiml(
        TwilioBridge.twiml_join_conference(
            room.room_key,
            label=label,
            moderator=party is None,
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
        await record_signals(session, signals, source="twilio", call_id=call_id)
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
        await record_signals(session, result.signals, source=name)
    if result.response_json is not None:
        return web.json_response(result.response_json)
    if result.response_text is not None:
        return web.Response(text=result.response_text, content_type=result.content_type)
    return web.json_response({"ok": True})
