"""A loopback fake of Zoom: S2S OAuth token endpoint, meetings API and signed webhooks.

Implements PROVIDERS.md section 3. Serve ``FakeZoom.app`` with ``aiohttp_server`` and
point ``ZoomConfig.oauth_url`` at ``{base}/oauth/token`` and ``api_base`` at ``{base}/v2``.

``open`` plays a person opening a Zoom URL, with Zoom's rules: the host's ``start_url``
starts the meeting; without ``join_before_host`` anyone else waits for the host; a
meeting with registration lets in only its registrants' own links (the shared
``join_url`` becomes a sign-up page); the waiting room holds people until ``admit``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class WebhookReply:
    status: int
    body: Any


@dataclass
class Registrant:
    registrant_id: str
    email: str
    first_name: str
    token: str
    participant_pin_code: int


@dataclass
class Seat:
    """Where a person who opened a Zoom URL is: ``in_meeting``, ``waiting_for_host``,
    ``waiting_room`` or ``refused``, and who Zoom knows them as."""

    state: str
    host: bool = False
    registrant: Registrant | None = None
    phone: bool = False


@dataclass
class FakeZoom:
    account_id: str = "acct-1"
    client_id: str = "client-1"
    client_secret: str = "secret-1"
    webhook_secret_token: str = "whsec-zoom"
    token_lifetime_s: int = 3600
    # Switches: make the API (not the token endpoint) answer this status, or never answer.
    fail_status: int | None = None
    hang: bool = False
    token_endpoint_status: int | None = None

    token_requests: int = 0
    api_requests: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    valid_tokens: set[str] = field(default_factory=set)
    registrants: dict[str, dict[str, Registrant]] = field(default_factory=dict)  # by email
    seats: dict[str, list[Seat]] = field(default_factory=dict)
    started_by_host: set[str] = field(default_factory=set)
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self._ids = itertools.count(86_000_000_001)
        self._released = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self._token)
        self.app.router.add_post("/v2/users/{user_id}/meetings", self._create)
        self.app.router.add_get("/v2/meetings/{meeting_id}", self._get)
        self.app.router.add_put("/v2/meetings/{meeting_id}/status", self._status)
        self.app.router.add_post("/v2/meetings/{meeting_id}/registrants", self._register)
        self.app.on_shutdown.append(self._release_hung)

    def revoke_tokens(self) -> None:
        """Invalidate every token handed out so far (the API then answers 401)."""
        self.valid_tokens.clear()

    # ------------------------------------------------------------------ people in rooms

    def open(self, url: str) -> Seat:
        """A person opens ``url`` in Zoom: where they end up, by Zoom's rules."""
        for meeting_id, meeting in self.meetings.items():
            if url == meeting["start_url"]:
                return self._host_starts(meeting_id, meeting)
            registrant = self._registrant_by_url(meeting_id, url)
            if registrant is not None or url == meeting["join_url"]:
                return self._guest_joins(meeting_id, meeting, registrant)
        return Seat("refused")

    def phone_line(self, number: str, digits: str) -> bool:
        """A call to the dial-in number keys ``{meeting id}#``, ``#`` (no participant ID)
        and the passcode: the caller is seated by the same host rules. True: answered."""
        if number.replace("+", "") not in self._dial_in_numbers():
            return False
        keyed = [part.strip("w") for part in digits.split("#")]
        meeting = self.meetings.get(keyed[0] if keyed else "")
        if meeting is None:
            return True  # answered; Zoom's voice asks again and the line hangs up
        passcode = keyed[2] if len(keyed) > 2 else ""
        if meeting.get("pstn_password") and passcode != meeting["pstn_password"]:
            return True
        seat = self._guest_joins(str(meeting["id"]), meeting, None, phone=True)
        return seat.state != "refused"

    def _dial_in_numbers(self) -> set[str]:
        return {
            "".join(ch for ch in entry["number"] if ch.isdigit())
            for meeting in self.meetings.values()
            for entry in meeting["settings"]["global_dial_in_numbers"]
        }

    def admit(self, meeting_id: str, registrant_id: str) -> None:
        """The host admits a registrant from the waiting room."""
        for seat in self.seats.get(meeting_id, []):
            if seat.registrant and seat.registrant.registrant_id == registrant_id:
                if seat.state == "waiting_room":
                    seat.state = "in_meeting"

    def seated(self, meeting_id: str, state: str = "in_meeting") -> list[Seat]:
        return [seat for seat in self.seats.get(meeting_id, []) if seat.state == state]

    def _registrant_by_url(self, meeting_id: str, url: str) -> Registrant | None:
        for registrant in self.registrants.get(meeting_id, {}).values():
            if url == self._registrant_url(meeting_id, registrant):
                return registrant
        return None

    @staticmethod
    def _registrant_url(meeting_id: str, registrant: Registrant) -> str:
        return f"https://zoom.example/w/{meeting_id}?tk={registrant.token}"

    def _host_starts(self, meeting_id: str, meeting: dict[str, Any]) -> Seat:
        meeting["status"] = "started"
        self.started_by_host.add(meeting_id)
        seat = Seat("in_meeting", host=True)
        for waiting in self.seats.get(meeting_id, []):
            if waiting.state == "waiting_for_host":
                waiting.state = self._entry_state(meeting)
        self.seats.setdefault(meeting_id, []).append(seat)
        return seat

    def _guest_joins(
        self,
        meeting_id: str,
        meeting: dict[str, Any],
        registrant: Registrant | None,
        *,
        phone: bool = False,
    ) -> Seat:
        settings = meeting["settings"]
        if registrant is None and not phone and settings.get("approval_type") in (0, 1):
            return Seat("refused")  # the shared link of a meeting with registration
        started = meeting["status"] == "started"
        if started or settings.get("join_before_host"):
            state = self._entry_state(meeting)
        else:
            state = "waiting_for_host"
        seat = Seat(state, registrant=registrant, phone=phone)
        self.seats.setdefault(meeting_id, []).append(seat)
        return seat

    @staticmethod
    def _entry_state(meeting: dict[str, Any]) -> str:
        return "waiting_room" if meeting["settings"].get("waiting_room") else "in_meeting"

    # ------------------------------------------------------------------ webhooks

    def sign(self, timestamp: str, body: bytes) -> str:
        message = b"v0:" + timestamp.encode() + b":" + body
        key = self.webhook_secret_token.encode()
        return "v0=" + hmac.new(key, message, hashlib.sha256).hexdigest()

    def signed_webhook(
        self, event: Mapping[str, Any], *, timestamp: int
    ) -> tuple[dict[str, str], bytes]:
        """Serialise ``event`` and sign exactly the bytes that will be sent."""
        body = json.dumps(event, separators=(",", ":")).encode()
        ts = str(timestamp)
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": self.sign(ts, body),
        }
        return headers, body

    async def deliver_webhook(
        self, session: aiohttp.ClientSession, url: str, event: Mapping[str, Any], *, timestamp: int
    ) -> WebhookReply:
        headers, body = self.signed_webhook(event, timestamp=timestamp)
        async with session.post(url, data=body, headers=headers) as response:
            text = await response.text()
            return WebhookReply(response.status, json.loads(text) if text else None)

    @staticmethod
    def url_validation_event(plain_token: str, *, event_ts_ms: int) -> dict[str, Any]:
        return {
            "event": "endpoint.url_validation",
            "payload": {"plainToken": plain_token},
            "event_ts": event_ts_ms,
        }

    def participant_event(
        self,
        event: str,
        meeting_id: str,
        *,
        participant_uuid: str,
        at: str,
        event_ts_ms: int,
        customer_key: str = "",
        registrant: Registrant | None = None,
    ) -> dict[str, Any]:
        """Build a participant webhook as Zoom sends it, personal fields included (a
        registrant's join carries their registered address and id)."""
        meeting = self.meetings.get(meeting_id, {})
        participant: dict[str, Any] = {
            "user_id": "16778240",
            "user_name": registrant.first_name if registrant else "Jane Parent",
            "id": "",
            "participant_uuid": participant_uuid,
            "email": registrant.email if registrant else "jane.parent@example.org",
            "registrant_id": registrant.registrant_id if registrant else "",
            "participant_user_id": "",
            "customer_key": customer_key,
            "phone_number": "",
        }
        if event.endswith("_left"):
            participant |= {"leave_time": at, "leave_reason": "left the meeting"}
        elif event.endswith("waiting_room") or event.endswith("_admitted"):
            participant["date_time"] = at
        else:
            participant["join_time"] = at
        return {
            "event": event,
            "event_ts": event_ts_ms,
            "payload": {
                "account_id": self.account_id,
                "object": {
                    "id": int(meeting_id),
                    "uuid": meeting.get("uuid", "uuid=="),
                    "host_id": "host-1",
                    "topic": meeting.get("topic", ""),
                    "type": 2,
                    "start_time": meeting.get("start_time", at),
                    "timezone": meeting.get("timezone", "UTC"),
                    "duration": meeting.get("duration", 60),
                    "participant": participant,
                },
            },
        }

    # ------------------------------------------------------------------ handlers

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        if self.token_endpoint_status is not None:
            return web.json_response({"reason": "unavailable"}, status=self.token_endpoint_status)
        expected = (
            "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        )
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                status=400,
            )
        form = dict(await request.post())
        params = {**request.query, **form}
        if (
            params.get("grant_type") != "account_credentials"
            or params.get("account_id") != self.account_id
        ):
            return web.json_response(
                {"reason": "unsupported grant type", "error": "unsupported_grant_type"}, status=400
            )
        token = secrets.token_urlsafe(16)
        self.valid_tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime_s,
                "scope": "meeting:write:meeting:admin meeting:read:meeting:admin",
                "api_url": "https://api.zoom.us",
            }
        )

    async def _guard(self, request: web.Request) -> web.Response | None:
        self.api_requests += 1
        if self.hang:
            await self._released.wait()
        if self.fail_status is not None:
            return web.json_response({"code": 500, "message": "boom"}, status=self.fail_status)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.valid_tokens:
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        body = await request.json()
        self.created.append(body)
        meeting_id = next(self._ids)
        settings = {
            "host_video": False,
            "participant_video": False,
            "join_before_host": False,
            "mute_upon_entry": False,
            "waiting_room": False,
            "approval_type": 2,
            "audio": "both",
            "auto_recording": "cloud",
            **body.get("settings", {}),
            "global_dial_in_numbers": [
                {
                    "city": "London",
                    "country": "GB",
                    "country_name": "United Kingdom",
                    "number": "+44 20 3481 5237",
                    "type": "toll",
                }
            ],
        }
        meeting = {
            "id": meeting_id,
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "host_id": "host-1",
            "host_email": "zoom-host@example.org",
            "topic": body.get("topic", ""),
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": body.get("start_time"),
            "duration": body.get("duration"),
            "timezone": body.get("timezone"),
            "created_at": "2025-01-01T00:00:00Z",
            "join_url": f"https://zoom.example/j/{meeting_id}?pwd=abc",
            "start_url": f"https://zoom.example/s/{meeting_id}?zak={secrets.token_urlsafe(8)}",
            "password": "x1y2z3",
            "h323_password": "123456",
            "pstn_password": "123456",
            "encrypted_password": "abc",
            "settings": settings,
        }
        self.meetings[str(meeting_id)] = meeting
        # Serialise by hand so the int64 id goes out as a JSON number, as Zoom sends it.
        return web.Response(
            status=201, body=json.dumps(meeting).encode(), content_type="application/json"
        )

    async def _get(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        meeting = self.meetings.get(request.match_info["meeting_id"])
        if meeting is None:
            return web.json_response(
                {"code": 3001, "message": "Meeting does not exist"}, status=404
            )
        # A host link expires: each read hands out a fresh one, and only that one starts.
        meeting_id = meeting["id"]
        meeting["start_url"] = f"https://zoom.example/s/{meeting_id}?zak={secrets.token_urlsafe(8)}"
        return web.json_response(meeting)

    async def _status(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        meeting_id = request.match_info["meeting_id"]
        if meeting_id not in self.meetings:
            return web.json_response(
                {"code": 3001, "message": "Meeting does not exist"}, status=404
            )
        body = await request.json()
        if body.get("action") != "end":
            return web.json_response({"code": 300, "message": "Invalid action"}, status=400)
        self.meetings[meeting_id]["status"] = "ended"
        self.ended.append(meeting_id)
        return web.Response(status=204)

    async def _register(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        meeting_id = request.match_info["meeting_id"]
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return web.json_response(
                {"code": 3001, "message": "Meeting does not exist"}, status=404
            )
        if meeting["settings"].get("approval_type") not in (0, 1):
            return web.json_response(
                {"code": 3000, "message": "Registration has not been enabled"}, status=400
            )
        body = await request.json()
        email, first_name = str(body.get("email") or ""), str(body.get("first_name") or "")
        if "@" not in email or not first_name:
            return web.json_response({"code": 300, "message": "Validation Failed."}, status=400)
        known = self.registrants.setdefault(meeting_id, {})
        registrant = known.get(email.lower())
        if registrant is None:  # registering the same address again answers the same one
            registrant = Registrant(
                registrant_id=secrets.token_urlsafe(12),
                email=email,
                first_name=first_name,
                token=secrets.token_urlsafe(16),
                participant_pin_code=100_000 + len(known),
            )
            known[email.lower()] = registrant
        answer = {
            "id": int(meeting_id),
            "join_url": self._registrant_url(meeting_id, registrant),
            "registrant_id": registrant.registrant_id,
            "participant_pin_code": registrant.participant_pin_code,
            "start_time": meeting.get("start_time"),
            "topic": meeting.get("topic"),
        }
        return web.Response(
            status=201, body=json.dumps(answer).encode(), content_type="application/json"
        )

    async def _release_hung(self, app: web.Application) -> None:
        self._released.set()
