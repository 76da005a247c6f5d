"""Zoom meetings through the REST API with Server-to-Server OAuth, and Zoom's webhooks.

Decisions (see PROVIDERS.md section 3 and decision record 017):
- Meetings are scheduled (type 2) with registration on and approved automatically
  (``approval_type`` 0, Zoom's confirmation mails off), the waiting room as the room
  asks, join-before-host off, no recording and a generic topic. Zoom's int64 meeting id
  is kept as a string. Without its host the meeting does not start: people who come
  early wait for the host.
- The mediator is the host: ``personal_url`` fetches a fresh ``start_url`` (a host
  credential Zoom expires after about two hours, so it is never stored).
- Everyone else joins by a registrant link of their own (``POST
  /meetings/{id}/registrants``, Zoom's workflow for services that sign people up): the
  registrant's address is ``{participant_ref}@{registrant_email_domain}``, an opaque id,
  not the person's e-mail, so Zoom learns only the display name shown in the meeting.
  Registering the same address again answers the same registration.
- Attendance knows who is who: a participant webhook carries the registrant's address
  (and id), whose local part is our participant ref; ``customer_key`` (a Meeting SDK
  join) is read too. We never match by name.
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
    PhoneEntry,
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
    # Registrant addresses are ``{participant_ref}@{this}``: opaque ids Zoom sends no mail
    # to (its registration mails are off), never a person's own address.
    registrant_email_domain: str = "registrants.invalid"


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
                "approval_type": 0,
                "registration_type": 1,
                "registrants_confirmation_email": False,
                "registrants_email_notification": False,
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
            "registration": True,  # rooms made before registrants keep the shared link
        }
        return ProviderRoom(
            provider=PROVIDER,
            room_id=meeting_id,
            data=data,
            dial_in_number=numbers[0].get("number") if numbers else None,
            dial_in_pin=meeting_id if numbers else None,
        )

    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Return the meeting's shared join link (without a call: ``personal_url`` gives
        each person their own); a meeting with registration turns it into a sign-up."""
        return str(room.data["join_url"])

    async def personal_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """The mediator's fresh host link; anyone else's own registrant link.

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        if who.moderator:
            return await self.host_start_url(room)
        if not room.data.get("registration"):
            return self.join_url(room, who, now=now)
        return (await self.register(room, who))["join_url"]

    async def register(self, room: ProviderRoom, who: JoinIdentity) -> dict[str, str]:
        """Register ``who`` for the meeting under their opaque address, approved at once;
        return Zoom's ``registrant_id`` and their own ``join_url``.

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        body = {
            "email": self.registrant_email(who.participant_ref),
            "first_name": who.display_name[:64] or "Participant",
            "auto_approve": True,
        }
        response = await self._api.request(
            "POST", f"{self._config.api_base}/meetings/{room.room_id}/registrants", json=body
        )
        registrant = _require_mapping(response.body, "registrant_id", "join_url")
        return {
            "registrant_id": str(registrant["registrant_id"]),
            "join_url": str(registrant["join_url"]),
        }

    def registrant_email(self, participant_ref: str) -> str:
        """The opaque address a participant is registered under."""
        return f"{participant_ref}@{self._config.registrant_email_domain}"

    def phone_entry(self, room: ProviderRoom) -> PhoneEntry | None:
        """Zoom's own dial-in: the meeting ID, no participant ID (``#``), its passcode."""
        if not room.dial_in_number:
            return None
        digits = f"wwwwww{room.room_id}#wwww#"
        passcode = room.data.get("pstn_password")
        if passcode:
            digits += f"wwww{passcode}#"
        return PhoneEntry(address=_e164(room.dial_in_number), digits=digits)

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
        domain = "@" + self._config.registrant_email_domain.lower()
        return CallbackResult(signals=_signals_from_event(event, registrant_domain=domain))

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


def _participant_ref(participant: Mapping[str, Any], registrant_domain: str) -> str | None:
    """Our ref of a webhook's participant: the local part of their registrant address,
    else the ``customer_key`` a Meeting SDK join passed; None for anyone else."""
    email = str(participant.get("email") or "").lower()
    if email.endswith(registrant_domain) and len(email) > len(registrant_domain):
        return email[: -len(registrant_domain)]
    return participant.get("customer_key") or None


def _signals_from_event(
    event: Mapping[str, Any], *, registrant_domain: str
) -> list[AttendanceSignal]:
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
            participant_ref=_participant_ref(participant, registrant_domain),
            channel="phone" if participant.get("phone_number") else "video",
        )
    ]


def _e164(number: str) -> str:
    return "+" + "".join(ch for ch in number if ch.isdigit())


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
