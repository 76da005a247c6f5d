"""A Prosody-like Jitsi token gate and an event_sync emitter, for tests.

The verifier re-implements PROVIDERS.md section 1 independently of PyJWT: exactly three
base64url segments, header ``typ`` "JWT", ``alg`` pinned (none/empty refused), HMAC
checked, ``iss``/``aud`` accepted, ``room`` matching the lower-cased room node (or "*"),
numeric ``exp``/``nbf`` with ``now >= exp`` and ``now < nbf`` refused, and ``context.user``
free of nulls and numbers. Admission then follows ``mod_token_affiliation`` (owner when
``affiliation`` is owner/moderator/teacher or ``moderator`` is true/"true") and
``token_lobby_bypass`` (an active lobby holds everyone whose ``lobby_bypass`` is not
boolean true — ``mod_token_affiliation`` does nothing for them while the lobby is on).

``GET /{room}?jwt=...`` answers 200 with the admission as JSON (the browser would join)
or 403 with ``{"error": "not-allowed", "reason": ...}``.

The emitter POSTs jitsi-contrib ``event_sync`` JSON to ``{api_prefix}/events/...``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_OWNER_AFFILIATIONS = {"owner", "moderator", "teacher"}
EVENT_PATHS = {
    "muc-room-created": "/events/room/created",
    "muc-room-destroyed": "/events/room/destroyed",
    "muc-occupant-joined": "/events/occupant/joined",
    "muc-occupant-left": "/events/occupant/left",
}


class TokenRejected(Exception):
    """Prosody refused the token; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Admission:
    """What happens to a token holder joining a room."""

    room: str
    moderator: bool
    in_lobby: bool
    user: Mapping[str, Any]


@dataclass
class JitsiFake:
    """Prosody's token checks for one deployment (HS256 with ``app_secret``)."""

    app_id: str
    app_secret: str
    accepted_audiences: tuple[str, ...] = ("jitsi",)
    accepted_issuers: tuple[str, ...] | None = None  # default: (app_id,)
    signature_algorithm: str = "HS256"
    require_room_claim: bool = True
    allow_empty_token: bool = False
    lobby_active: bool = True  # token_lobby_autostart
    clock: Callable[[], float] = time.time
    admissions: list[Admission] = field(default_factory=list)

    def verify(self, token: str, room: str) -> Admission:
        """Check ``token`` for a join to ``room`` as Prosody would."""
        segments = token.split(".")
        if len(segments) != 3:
            raise TokenRejected("token must have 3 segments")
        header = _json_segment(segments[0], "header")
        claims = _json_segment(segments[1], "payload")
        if header.get("typ") != "JWT":
            raise TokenRejected("typ must be JWT")
        alg = header.get("alg")
        if not alg or str(alg).lower() == "none":
            raise TokenRejected("alg none is not allowed")
        if alg != self.signature_algorithm or alg not in _HASHES:
            raise TokenRejected(f"alg {alg} is not accepted")
        signed = f"{segments[0]}.{segments[1]}".encode()
        expected = hmac.new(self.app_secret.encode(), signed, _HASHES[alg]).digest()
        if not hmac.compare_digest(expected, _b64url_decode(segments[2], "signature")):
            raise TokenRejected("signature does not verify")
        self._check_claims(claims, room)
        user = (claims.get("context") or {}).get("user") or {}
        moderator = user.get("affiliation") in _OWNER_AFFILIATIONS or user.get("moderator") in (
            True,
            "true",
        )
        in_lobby = self.lobby_active and user.get("lobby_bypass") is not True
        admission = Admission(room=room.lower(), moderator=moderator, in_lobby=in_lobby, user=user)
        self.admissions.append(admission)
        return admission

    def _check_claims(self, claims: Mapping[str, Any], room: str) -> None:
        issuers = self.accepted_issuers or (self.app_id,)
        if "iss" not in claims:
            raise TokenRejected("iss is required")
        if claims["iss"] not in issuers:
            raise TokenRejected("iss is not accepted")
        audience = claims.get("aud")
        if audience is None:
            raise TokenRejected("aud is required")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(a in self.accepted_audiences for a in audiences):
            raise TokenRejected("aud is not accepted")
        now = self.clock()
        for name in ("exp", "nbf"):
            value = claims.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TokenRejected(f"{name} must be a number")
        if "exp" in claims and now >= claims["exp"]:
            raise TokenRejected("token has expired")
        if "nbf" in claims and now < claims["nbf"]:
            raise TokenRejected("token is not valid yet")
        room_claim = claims.get("room")
        if room_claim is None:
            if self.require_room_claim:
                raise TokenRejected("room is required")
        elif room_claim != "*" and room.lower() != str(room_claim).lower():
            raise TokenRejected("token is for another room")
        context = claims.get("context")
        if context is not None:
            if not isinstance(context, dict):
                raise TokenRejected("context must be an object")
            user = context.get("user")
            if user is not None:
                if not isinstance(user, dict):
                    raise TokenRejected("context.user must be an object")
                for key, value in user.items():
                    # Strings everywhere; the plugins' documented flags are booleans.
                    if not isinstance(value, str | bool):
                        raise TokenRejected(f"context.user.{key} must be a string")

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        """Serve ``GET /{room}?jwt=`` as the deployment's front door."""
        app = web.Application()
        app.router.add_get("/{room}", self._join)
        return app

    async def _join(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        token = request.query.get("jwt")
        if not token:
            if self.allow_empty_token:
                return web.json_response({"room": room.lower(), "moderator": False})
            return web.json_response(
                {"error": "not-allowed", "reason": "token required"}, status=403
            )
        try:
            admission = self.verify(token, room)
        except TokenRejected as exc:
            return web.json_response({"error": "not-allowed", "reason": exc.reason}, status=403)
        return web.json_response(
            {
                "room": admission.room,
                "moderator": admission.moderator,
                "in_lobby": admission.in_lobby,
                "user_id": admission.user.get("id"),
            }
        )


def _b64url_decode(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenRejected(f"{what} is not base64url") from exc


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url_decode(segment, what))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenRejected(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise TokenRejected(f"{what} is not an object")
    return value


# ---------------------------------------------------------------------- event_sync


def occupant_event(
    event_name: str,
    room_name: str,
    *,
    muc_domain: str,
    occupant_jid: str,
    user: Mapping[str, Any],
    at: int,
    active_occupants: int = 1,
    breakout_room_id: str | None = None,
) -> dict[str, Any]:
    """Build an occupant joined/left event as mod_event_sync_component sends it."""
    occupant: dict[str, Any] = {
        "occupant_jid": occupant_jid,
        "joined_at": at if event_name.endswith("joined") else at - 60,
        "name": user.get("name"),
        "email": user.get("email"),
        "id": user.get("id"),
    }
    if event_name.endswith("left"):
        occupant["left_at"] = at
    event = _common(event_name, room_name, muc_domain, breakout_room_id)
    event.update({"active_occupants_count": active_occupants, "occupant": occupant})
    return event


def room_event(
    event_name: str,
    room_name: str,
    *,
    muc_domain: str,
    at: int,
    breakout_room_id: str | None = None,
) -> dict[str, Any]:
    """Build a room created/destroyed event."""
    event = _common(event_name, room_name, muc_domain, breakout_room_id)
    if event_name.endswith("created"):
        event["created_at"] = at
    else:
        event["created_at"] = at - 3600
        event["destroyed_at"] = at
        event["all_occupants"] = []
    return event


def _common(
    event_name: str, room_name: str, muc_domain: str, breakout_room_id: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": event_name,
        "room_name": room_name,
        "room_jid": f"{room_name}@{muc_domain}",
        "is_breakout": breakout_room_id is not None,
    }
    if breakout_room_id is not None:
        event["breakout_room_id"] = breakout_room_id
    return event


async def post_event_sync(
    http: aiohttp.ClientSession,
    api_prefix: str,
    event: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
) -> int:
    """POST ``event`` to its event_sync URL with the configured ``api_headers``."""
    url = api_prefix.rstrip("/") + EVENT_PATHS[str(event["event_name"])]
    async with http.post(
        url,
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", **headers},
    ) as response:
        return response.status
