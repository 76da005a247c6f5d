"""Jitsi Meet: opaque room names, per-participant Prosody JWTs, event_sync and dial-in.

Rooms exist on a Jitsi deployment from the first join, so ``create_room`` only names the
room. The name is the orchestrator's opaque ``room_key`` lower-cased (Prosody lower-cases
MUC nodes), never anything about the family.

When ``app_id``/``app_secret`` are set, each join URL carries its own HS256 token
(``typ`` JWT; ``iss``/``aud``/``sub``/``room``/``nbf``/``exp``; ``context.user``), valid
until the meeting's join window closes (``JoinIdentity.valid_until``). The
mediator's token holds ``affiliation: "owner"`` and ``moderator: "true"`` (what
``mod_token_affiliation`` promotes) plus ``lobby_bypass: true`` (``token_lobby_bypass``
compares with the boolean, and without it a moderator waits in an active lobby like
anyone else). Parties get ``moderator: "false"`` and no bypass, so they wait in the lobby
when the deployment runs ``token_lobby_autostart``. Every other ``context.user`` value is a
string, because Prosody errors on null or numbers there.

Without a secret (the public ``meet.jit.si`` default) there is no token: the URL carries
the display name in the fragment, which browsers never send to the server, and moderator
rights and the lobby are whatever that deployment gives.

Caucus rooms are separate rooms named ``{parent}-{opaque suffix}``. Jitsi's own breakout
rooms are driven from the moderator's browser with no server API to create them, so a
separate room with its own tokens is the one shape we can create and link to.

Call-backs come from the jitsi-contrib ``event_sync`` component: unsigned JSON posts,
authenticated by a shared header (``api_headers``) compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import jwt

from integrations.base import (
    AttendanceKind,
    AttendanceSignal,
    CallbackRequest,
    CallbackResult,
    JoinIdentity,
    ProviderRoom,
    RoomSpec,
    VideoProvider,
)
from integrations.errors import ProviderRejected, SignatureInvalid

PROVIDER_NAME = "jitsi"
_ROOM_NAME_CHARS = re.compile(r"[^a-z0-9_-]")
_MIN_ROOM_KEY_CHARS = 16
_CAUCUS_SUFFIX_CHARS = 16
_CLOCK_SKEW = timedelta(seconds=60)
_MAPPING_FOUND = "Successfully retrieved conference mapping"
_MAPPING_MISSING = "No conference mapping was found"
_OWN_PIN = "To join by phone, use the PIN in your own invitation"
_EVENT_KINDS: Mapping[str, AttendanceKind] = {
    "muc-occupant-joined": "joined",
    "muc-occupant-left": "left",
    "muc-room-created": "room_started",
    "muc-room-destroyed": "room_ended",
}
_EVENT_TIME_FIELDS = {
    "muc-room-created": "created_at",
    "muc-room-destroyed": "destroyed_at",
}


@dataclass(frozen=True)
class JitsiConfig:
    """Where the deployment lives and how tokens and call-backs are secured."""

    base_url: str = "https://meet.jit.si"
    app_id: str | None = None
    app_secret: str | None = None
    audience: str = "jitsi"
    subject: str = "*"
    token_ttl_s: int = 4 * 3600  # only when the caller gives no join window (valid_until)
    event_sync_header_name: str = "Authorization"
    event_sync_header_value: str | None = None
    muc_domain: str | None = None  # default "conference.<host of base_url>"
    dial_in_number: str | None = None  # shown in invites when a room has a PIN


def room_name_from_key(room_key: str) -> str:
    """Turn an opaque room key into a Jitsi room name, refusing keys too short to be secret."""
    name = _ROOM_NAME_CHARS.sub("", room_key.lower())
    if len(name) < _MIN_ROOM_KEY_CHARS:
        raise ValueError(
            f"room key must give at least {_MIN_ROOM_KEY_CHARS} URL-safe characters "
            "so the room name cannot be guessed"
        )
    return name


def caucus_room_name(parent_room: str, caucus_key: str) -> str:
    """Name a caucus room beside ``parent_room`` with a suffix derived from its own key."""
    suffix = hashlib.sha256(caucus_key.encode()).hexdigest()[:_CAUCUS_SUFFIX_CHARS]
    return f"{parent_room}-{suffix}"


class JitsiProvider(VideoProvider):
    """Jitsi Meet rooms, joined through per-participant URLs built locally."""

    name = PROVIDER_NAME

    def __init__(self, config: JitsiConfig, http: aiohttp.ClientSession | None = None) -> None:
        if bool(config.app_id) != bool(config.app_secret):
            raise ValueError("set both app_id and app_secret for Jitsi tokens, or neither")
        self.config = config
        self.http = http  # unused today: Jitsi needs no remote call to open a room

    # ------------------------------------------------------------------ rooms

    async def create_room(self, spec: RoomSpec) -> ProviderRoom:
        """Name the room (Jitsi creates it on first join); caucus rooms sit beside the parent."""
        if spec.parent is not None:
            parent_room = str(spec.parent.data.get("room") or spec.parent.room_id)
            room = caucus_room_name(parent_room, spec.room_key)
            data: dict[str, Any] = {"room": room, "parent_room": parent_room}
        else:
            room = room_name_from_key(spec.room_key)
            data = {"room": room}
        return ProviderRoom(
            provider=self.name,
            room_id=room,
            data=data,
            dial_in_number=self.config.dial_in_number if spec.pin else None,
            dial_in_pin=spec.pin,
        )

    async def create_caucus(self, room: ProviderRoom, spec: RoomSpec) -> ProviderRoom:
        """Name a separate caucus room beside ``room``."""
        return await self.create_room(replace(spec, parent=room))

    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Build this participant's URL: a signed token when configured, else the name."""
        room_name = str(room.data.get("room") or room.room_id)
        url = f"{self.config.base_url.rstrip('/')}/{quote(room_name, safe='')}"
        if self.config.app_secret:
            return f"{url}?jwt={self.token(room_name, who, now=now)}"
        display_name = quote(json.dumps(who.display_name), safe="")
        return f"{url}#userInfo.displayName={display_name}"

    def token(self, room_name: str, who: JoinIdentity, *, now: datetime) -> str:
        """Sign the Prosody token for one participant and one room."""
        if not (self.config.app_id and self.config.app_secret):
            raise ValueError("Jitsi tokens need app_id and app_secret")
        user: dict[str, Any] = {
            "id": who.participant_ref,
            "name": who.display_name,
            "moderator": "true" if who.moderator else "false",
        }
        if who.moderator:
            user["affiliation"] = "owner"
        if who.moderator or who.past_lobby:  # the mediator, and whom they have let in
            user["lobby_bypass"] = True
        expires = who.valid_until or now + timedelta(seconds=self.config.token_ttl_s)
        claims = {
            "iss": self.config.app_id,
            "aud": self.config.audience,
            "sub": self.config.subject,
            "room": room_name.lower(),
            "iat": int(now.timestamp()),
            "nbf": int((now - _CLOCK_SKEW).timestamp()),
            "exp": int(expires.timestamp()),
            "context": {"user": user},
        }
        return jwt.encode(claims, self.config.app_secret, algorithm="HS256", headers={"typ": "JWT"})

    # ------------------------------------------------------------------ dial-in

    @property
    def muc_domain(self) -> str:
        """Return the MUC domain rooms live on, as the dial-in endpoints name it."""
        if self.config.muc_domain:
            return self.config.muc_domain
        return f"conference.{urlsplit(self.config.base_url).hostname}"

    def conference_jid(self, room_name: str) -> str:
        """Return ``room@muc``, the conference id the dial-in endpoints use."""
        return f"{room_name.lower()}@{self.muc_domain}"

    def room_from_conference(self, conference: str) -> str | None:
        """Return the room name in a ``room@muc`` conference id, or None if not ours."""
        node, sep, domain = conference.strip().lower().partition("@")
        if not sep or domain != self.muc_domain.lower() or not node:
            return None
        return node

    # ------------------------------------------------------------------ call-backs

    def verify_callback(self, request: CallbackRequest, *, now: datetime) -> CallbackResult:
        """Check event_sync's shared header, then translate occupant and room events."""
        self._check_shared_header(request.headers)
        try:
            event = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProviderRejected("event_sync body is not JSON", provider=self.name) from exc
        if not isinstance(event, dict):
            raise ProviderRejected("event_sync body is not an object", provider=self.name)
        return CallbackResult(signals=tuple(_signals_from_event(event)))

    def _check_shared_header(self, headers: Mapping[str, str]) -> None:
        expected = self.config.event_sync_header_value
        if not expected:
            raise SignatureInvalid("event_sync header is not configured", provider=self.name)
        received = headers.get(self.config.event_sync_header_name)
        if received is None or not hmac.compare_digest(received.encode(), expected.encode()):
            raise SignatureInvalid("event_sync header did not match", provider=self.name)


def no_pin_response() -> tuple[int, dict[str, Any]]:
    """Answer the browser's conference mapper with a message and no PIN.

    With a PIN per person there is no PIN of the room to show; without ``id`` the client
    shows this message instead of a dial-in PIN.
    """
    return 200, {"message": _OWN_PIN}


def reverse_mapper_response(pin: str, conference: str | None) -> tuple[int, dict[str, Any]]:
    """Answer the IVR's reverse lookup ``?id=PIN`` with ``conference: false`` when unknown."""
    if not conference:
        return 200, {"message": _MAPPING_MISSING, "id": _pin_value(pin), "conference": False}
    return 200, {"message": _MAPPING_FOUND, "id": _pin_value(pin), "conference": conference}


def phone_numbers_response(numbers: Sequence[tuple[str, str, bool]]) -> list[dict[str, Any]]:
    """List dial-in numbers in the array format; the first one is the default."""
    return [
        {
            "countryCode": country_code,
            "tollFree": toll_free,
            "formattedNumber": formatted_number,
            "default": index == 0,
        }
        for index, (country_code, formatted_number, toll_free) in enumerate(numbers)
    ]


def _pin_value(pin: str) -> int | str:
    # The Jitsi client accepts either; a number is what jitsi.net answers, but a
    # leading zero would be lost, so such PINs stay strings.
    return int(pin) if pin.isdigit() and not pin.startswith("0") else pin


def _signals_from_event(event: Mapping[str, Any]) -> Iterable[AttendanceSignal]:
    event_name = str(event.get("event_name", ""))
    kind = _EVENT_KINDS.get(event_name)
    room = _room_node(event.get("room_name"))
    if kind is None or room is None:
        return
    is_breakout = bool(event.get("is_breakout"))
    breakout = str(event.get("breakout_room_id", "")) if is_breakout else ""
    if kind in ("room_started", "room_ended"):
        if is_breakout:  # a breakout opening or closing says nothing about the meeting
            return
        at = _timestamp(event.get(_EVENT_TIME_FIELDS[event_name]))
        yield AttendanceSignal(
            room_id=room,
            kind=kind,
            at=at,
            dedup_key=f"jitsi:{room}:{event_name}:{int(at.timestamp())}",
        )
        return
    occupant = event.get("occupant")
    if not isinstance(occupant, dict):
        return
    occupant_jid = str(occupant.get("occupant_jid", ""))
    if occupant_jid.startswith("focus@"):  # Jicofo's own occupant, not a person
        return
    at = _timestamp(occupant.get("left_at" if kind == "left" else "joined_at"))
    participant_ref = occupant.get("id")
    # Breakout events still name the main room, so a move between rooms reads as
    # left-then-joined the same meeting; the breakout id keeps the facts distinct.
    yield AttendanceSignal(
        room_id=room,
        kind=kind,
        at=at,
        dedup_key=f"jitsi:{room}:{breakout}:{occupant_jid}:{event_name}:{int(at.timestamp())}",
        participant_ref=participant_ref if isinstance(participant_ref, str) else None,
    )


def _room_node(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    # Multi-tenant deployments name the MUC node "[tenant]room".
    return re.sub(r"^\[[^\]]*\]", "", value).lower() or None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise ProviderRejected("event_sync event has no usable timestamp", provider=PROVIDER_NAME)
