"""Zoom meetings through the REST API with Server-to-Server OAuth, and Zoom's webhooks.

Decisions (see PROVIDERS.md section 3):
- Meetings are scheduled (type 2) with the waiting room on, join-before-host off, no
  cloud or local recording, no registration (registration would hand Zoom e-mail
  addresses) and a generic topic. Zoom's int64 meeting id is kept as a string.
- Everyone, mediator included, gets the stored ``join_url``. The ``start_url`` is a host
  credential that Zoom expires after about two hours, so it is neither stored nor put
  on the click path; ``host_start_url`` fetches a fresh one when a mediator opens the
  room as host.
- Attendance is matched only through ``customer_key``, the opaque id a Meeting SDK
  client may pass when joining. Zoom's plain join links cannot carry it, so webhook
  signals usually have ``participant_ref=None``; we never match by name, e-mail or
  registrant, which would mean giving Zoom personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

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
from integrations.errors import ProviderUnavailable, SignatureInvalid
from integrations.oauth import ClientCredentials, Clock, TokenRequest

PROVIDER = "zoom"

_EVENT_KINDS: dict[str, AttendanceKind] = {
    "meeting.participant_joined": "joined",
    "meeting.participant_left": "left",
    "meeting.participant_joined_waiting_room": "waiting",
    "meeting.participant_put_in_waiting_room": "waiting",
    "meeting.participant_admitted": "admitted",
    "meeting.started": "room_started",
    "meeting.ended": "room_ended",
}


@dataclass(frozen=True)
class ZoomConfig:
    """Credentials of a Zoom Server-to-Server OAuth app and where to reach Zoom."""

    account_id: str
    client_id: str
    client_secret: str
    webhook_secret_token: str
    user_id: str = "me"
    oauth_url: str = "https://zoom.us/oauth/token"
    api_base: str = "https://api.zoom.us/v2"
    timeout_s: float = 10
    replay_window_s: float = 300
    timezone: str = "Europe/London"


class ZoomProvider(VideoProvider):
    """Zoom meetings: one scheduled meeting per room, attendance from webhooks."""

    name = "zoom"

    def __init__(
        self, config: ZoomConfig, session: aiohttp.ClientSession, *, clock: Clock = time.monotonic
    ) -> None:
        self._config = config
        self._api = ClientCredentials(
            session,
            TokenRequest(
                url=config.oauth_url,
                form={"grant_type": "account_credentials", "account_id": config.account_id},
                basic_auth=(config.client_id, config.client_secret),
            ),
            provider=PROVIDER,
            timeout_s=config.timeout_s,
            clock=clock,
        )

    async def create_room(self, spec: RoomSpec) -> ProviderRoom:
        """Schedule a Zoom meeting for ``spec``.

        Zoom has no idempotency key: a retry after a lost answer can leave an unused
        meeting behind, which is harmless because its link is never handed out.
        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        minutes = max(1, math.ceil((spec.end - spec.start).total_seconds() / 60))
        body = {
            "topic": spec.title,
            "type": 2,
            "start_time": _zoom_time(spec.start),
            "duration": minutes,
            "timezone": self._config.timezone,
            "settings": {
                "waiting_room": spec.lobby,
                "join_before_host": False,
                "auto_recording": "none",
                "approval_type": 2,
                "meeting_authentication": False,
                "mute_upon_entry": False,
                "host_video": True,
                "participant_video": True,
                "audio": "both",
            },
        }
        response = await self._api.request(
            "POST", f"{self._config.api_base}/users/{self._config.user_id}/meetings", json=body
        )
        meeting = _require_mapping(response.body, "id", "join_url")
        numbers = meeting.get("settings", {}).get("global_dial_in_numbers") or []
        meeting_id = str(meeting["id"])
        data = {
            "id": meeting_id,
            "uuid": meeting.get("uuid"),
            "join_url": meeting["join_url"],
            "pstn_password": meeting.get("pstn_password"),
        }
        return ProviderRoom(
            provider=PROVIDER,
            room_id=meeting_id,
            data=data,
            dial_in_number=numbers[0].get("number") if numbers else None,
            dial_in_pin=meeting_id if numbers else None,
        )

    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Return the meeting's join link; the waiting room admits people one by one."""
        return str(room.data["join_url"])

    async def host_start_url(self, room: ProviderRoom) -> str:
        """Fetch a fresh host ``start_url`` (a short-lived host credential; never store it).

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        response = await self._api.request(
            "GET", f"{self._config.api_base}/meetings/{room.room_id}"
        )
        return str(_require_mapping(response.body, "start_url")["start_url"])

    async def end_room(self, room: ProviderRoom) -> None:
        """End the meeting for everyone; a meeting Zoom no longer knows counts as ended."""
        await self._api.request(
            "PUT",
            f"{self._config.api_base}/meetings/{room.room_id}/status",
            json={"action": "end"},
            accept=(404,),
        )

    def verify_callback(self, request: CallbackRequest, *, now: datetime) -> CallbackResult:
        """Verify an ``x-zm-signature`` webhook and turn it into attendance signals.

        Answers Zoom's URL-validation challenge. Raises SignatureInvalid.
        """
        self._check_signature(request, now=now)
        try:
            event = json.loads(request.body)
        except ValueError as exc:
            raise SignatureInvalid("webhook body is not JSON", provider=PROVIDER) from exc
        if not isinstance(event, dict):
            raise SignatureInvalid("webhook body is not a JSON object", provider=PROVIDER)
        if event.get("event") == "endpoint.url_validation":
            plain = str(event.get("payload", {}).get("plainToken", ""))
            return CallbackResult(
                response_json={"plainToken": plain, "encryptedToken": self._hex_hmac(plain)}
            )
        return CallbackResult(signals=_signals_from_event(event))

    def sign_webhook(self, timestamp: str, body: bytes) -> str:
        """Return the ``x-zm-signature`` value Zoom would send for ``body``."""
        message = b"v0:" + timestamp.encode() + b":" + body
        digest = hmac.new(self._config.webhook_secret_token.encode(), message, hashlib.sha256)
        return "v0=" + digest.hexdigest()

    # ------------------------------------------------------------------ internals

    def _check_signature(self, request: CallbackRequest, *, now: datetime) -> None:
        signature = request.headers.get("x-zm-signature")
        timestamp = request.headers.get("x-zm-request-timestamp")
        if not signature or not timestamp or not timestamp.isdigit():
            raise SignatureInvalid("webhook is missing its signature headers", provider=PROVIDER)
        if abs(now.timestamp() - int(timestamp)) > self._config.replay_window_s:
            raise SignatureInvalid(
                "webhook timestamp is outside the replay window", provider=PROVIDER
            )
        if not hmac.compare_digest(signature, self.sign_webhook(timestamp, request.body)):
            raise SignatureInvalid("webhook signature does not match", provider=PROVIDER)

    def _hex_hmac(self, text: str) -> str:
        key = self._config.webhook_secret_token.encode()
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _signals_from_event(event: Mapping[str, Any]) -> list[AttendanceSignal]:
    name = str(event.get("event", ""))
    kind = _EVENT_KINDS.get(name)
    meeting = event.get("payload", {}).get("object", {})
    if kind is None or not isinstance(meeting, dict) or "id" not in meeting:
        return []
    room_id = str(meeting["id"])
    sent_at = _from_event_ts(event.get("event_ts"))
    if kind in ("room_started", "room_ended"):
        field = "start_time" if kind == "room_started" else "end_time"
        at = _parse_time(meeting.get(field)) or sent_at
        uuid = meeting.get("uuid", "")
        key = f"zoom:{name}:{room_id}:{uuid}"
        return [AttendanceSignal(room_id=room_id, kind=kind, at=at, dedup_key=key)]
    participant = meeting.get("participant") or {}
    when = participant.get("join_time") or participant.get("leave_time")
    when = when or participant.get("date_time")
    who = participant.get("participant_uuid") or participant.get("user_id") or participant.get("id")
    at = _parse_time(when) or sent_at
    key = f"zoom:{name}:{room_id}:{who}:{when or event.get('event_ts')}"
    return [
        AttendanceSignal(
            room_id=room_id,
            kind=kind,
            at=at,
            dedup_key=key,
            participant_ref=participant.get("customer_key") or None,
            channel="phone" if participant.get("phone_number") else "video",
        )
    ]


def _zoom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_event_ts(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.now(tz=UTC)


def _require_mapping(body: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise ProviderUnavailable(
            f"Zoom answered without {', '.join(keys) or 'a JSON object'}", provider=PROVIDER
        )
    return body
