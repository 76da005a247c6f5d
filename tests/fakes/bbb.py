"""A BigBlueButton API server in memory, plus a bbb-webhooks emitter, for tests.

Implements PROVIDERS.md section 2: ``/bigbluebutton/api/{call}`` with the checksum
``SHA(call + query + secret)`` over the raw query (algorithm inferred from the checksum's
length, as bbb-web and bbb-webhooks do), XML answers with ``returncode``/``messageKey``,
``create`` idempotent with ``duplicateWarning``, ``join`` (redirect, or XML with
``redirect=false``) honouring ``role``, ``guest`` and ``guestPolicy``, ``end``,
``getMeetingInfo``, ``isMeetingRunning``, breakouts and ``hooks/create``.

Failure switches: ``fail_status`` answers every call with that HTTP status, ``hang`` holds
every call until ``release()``, and ``flaky_every = n`` makes every n-th call misbehave,
in turn answering 500 and answering only after ``flaky_hang_s`` (past the caller's
timeout; the call still takes effect, as on a slow server). ``misbehaved`` lists each
such call: what it got ("500" or "late"), the call and its parameters.

The emitter POSTs ``domain=&event=[json]&timestamp=`` (that key order, encoded like
JavaScript's ``URLSearchParams``) to each registered hook with ``?checksum=`` =
``SHA(callbackURL + body + secret)``, or a Bearer header in ``auth2_0`` mode.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

ALGORITHM_BY_HEX_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
API_PATH = "/bigbluebutton/api"


@dataclass
class FakeUser:
    internal_id: str
    user_id: str
    full_name: str
    role: str  # MODERATOR | VIEWER
    guest: bool
    guest_status: str  # ALLOW | WAIT | DENY
    dial_in: bool = False  # a phone line in the meeting's audio, not a web client


@dataclass
class FakeMeeting:
    meeting_id: str
    internal_id: str
    name: str
    create_time: int
    voice_bridge: str
    dial_number: str
    attendee_pw: str
    moderator_pw: str
    guest_policy: str
    record: bool
    metadata: dict[str, str]
    is_breakout: bool = False
    parent_internal_id: str = "bbb-none"
    sequence: int = 0
    attendees: list[FakeUser] = field(default_factory=list)
    waiting: list[FakeUser] = field(default_factory=list)
    breakouts: list[str] = field(default_factory=list)
    create_params: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return bool(self.attendees)


class BbbFake:
    """The BigBlueButton web API as an aiohttp app, state kept in memory."""

    def __init__(
        self,
        secret: str,
        *,
        algorithms: Sequence[str] = ("sha1", "sha256", "sha384", "sha512"),
        domain: str = "bbb.example.test",
        dial_number: str = "+44 20 7946 0000",
    ) -> None:
        self.secret = secret
        self.algorithms = tuple(algorithms)
        self.domain = domain
        self.dial_number = dial_number
        self.meetings: dict[str, FakeMeeting] = {}
        self.hooks: dict[str, str] = {}  # hookID -> callbackURL
        self.calls: list[tuple[str, dict[str, str]]] = []  # every accepted call, in order
        self.fail_status: int | None = None
        self.hang = False
        self.flaky_every = 0
        self.flaky_hang_s = 0.0
        self.misbehaved: list[tuple[str, str, dict[str, str]]] = []
        self._received = 0
        self._released = asyncio.Event()
        self._last_create_time = 0

    # ------------------------------------------------------------------ app

    def app(self) -> web.Application:
        """Build the aiohttp app serving the API under ``/bigbluebutton/api``."""
        app = web.Application()
        app.router.add_get(API_PATH + "/{call:.+}", self._handle)
        return app

    def release(self) -> None:
        """Let hanging requests finish (call before the server closes)."""
        self._released.set()

    def by_internal_id(self, internal_id: str) -> FakeMeeting | None:
        return next((m for m in self.meetings.values() if m.internal_id == internal_id), None)

    def admit(self, meeting_id: str, user_id: str) -> None:
        """Let a waiting guest in, as a moderator would from the waiting room: only a
        moderator in the meeting can."""
        meeting = self.meetings[meeting_id]
        if not any(user.role == "MODERATOR" for user in meeting.attendees):
            raise PermissionError("only a moderator in the meeting approves guests")
        for user in list(meeting.waiting):
            if user.user_id == user_id:
                meeting.waiting.remove(user)
                user.guest_status = "ALLOW"
                meeting.attendees.append(user)

    def phone_line(self, address: str, digits: str = "") -> bool:
        """A call reaches FreeSWITCH (``sip:{voiceBridge}@…``, or the dial-in number with the
        voice bridge keyed): it joins that meeting's audio as a dial-in user. True: answered.
        """
        if address.startswith("sip:"):
            bridge = address.removeprefix("sip:").split("@", 1)[0]
        else:
            bridge = "".join(ch for ch in digits if ch.isdigit())
        meeting = next((m for m in self.meetings.values() if m.voice_bridge == bridge), None)
        if meeting is None:
            return False
        meeting.attendees.append(
            FakeUser(
                internal_id=f"v_{secrets.token_hex(6)}",
                user_id="",
                full_name="Phone",
                role="VIEWER",
                guest=False,
                guest_status="ALLOW",
                dial_in=True,
            )
        )
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.hang:
            await self._released.wait()
        if self.fail_status is not None:
            return web.Response(status=self.fail_status, text="fake failure")
        call = request.match_info["call"]
        raw_query = request.raw_path.partition("?")[2]
        if not self._checksum_ok(call, raw_query):
            return _failed("checksumError", "Checksums do not match")
        params = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        params.pop("checksum", None)
        self._received += 1
        if self.flaky_every and self._received % self.flaky_every == 0:
            late = len(self.misbehaved) % 2 == 1
            self.misbehaved.append(("late" if late else "500", call, params))
            if not late:
                return web.Response(status=500, text="fake flaky failure")
            await asyncio.sleep(self.flaky_hang_s)
        handler = {
            "create": self._create,
            "join": self._join,
            "end": self._end,
            "getMeetingInfo": self._get_meeting_info,
            "isMeetingRunning": self._is_meeting_running,
            "hooks/create": self._hooks_create,
            "hooks/destroy": self._hooks_destroy,
        }.get(call)
        if handler is None:
            return _failed("unsupportedRequest", "This request is not supported.")
        self.calls.append((call, params))
        return handler(request, params)

    def _checksum_ok(self, call: str, raw_query: str) -> bool:
        match = re.search(r"(?:^|&)checksum=([^&]*)", raw_query)
        if match is None:
            return False
        checksum = match.group(1)
        algorithm = ALGORITHM_BY_HEX_LENGTH.get(len(checksum))
        if algorithm is None or algorithm not in self.algorithms:
            return False
        query = re.sub(r"&checksum=[^&]*", "", raw_query)
        query = re.sub(r"checksum=[^&]*&", "", query)
        query = re.sub(r"checksum=[^&]*$", "", query)
        expected = hashlib.new(algorithm, f"{call}{query}{self.secret}".encode()).hexdigest()
        return secrets.compare_digest(checksum, expected)

    # ------------------------------------------------------------------ calls

    def _create(self, request: web.Request, params: dict[str, str]) -> web.Response:
        meeting_id = params.get("meetingID")
        if not meeting_id:
            return _failed("missingParamMeetingID", "You must specify a meeting ID.")
        if not params.get("name"):
            return _failed("missingParamName", "You must specify a meeting name.")
        existing = self.meetings.get(meeting_id)
        if existing is not None:
            return _success(
                _meeting_fields(existing),
                message_key="duplicateWarning",
                message="This conference was already in existence and may currently be in "
                "progress.",
            )
        voice_bridge = params.get("voiceBridge") or str(secrets.randbelow(90000) + 10000)
        if any(m.voice_bridge == voice_bridge for m in self.meetings.values()):
            return _failed("nonUniqueVoiceBridge", "The selected voice bridge is already in use.")
        is_breakout = params.get("isBreakout", "false").lower() == "true"
        parent_internal_id = "bbb-none"
        # A new run of a meeting always gets a later createTime, even within one millisecond.
        create_time = max(int(time.time() * 1000), self._last_create_time + 1)
        self._last_create_time = create_time
        internal_id = f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{create_time}"
        if is_breakout:
            parent = self.by_internal_id(params.get("parentMeetingID", ""))
            if parent is None:
                return _failed("parentMeetingDoesNotExist", "No parent meeting found.")
            if not params.get("sequence", "").isdigit():
                return _failed("missingParamSequence", "A breakout needs its sequence.")
            parent_internal_id = parent.internal_id
            internal_id = meeting_id
            parent.breakouts.append(internal_id)
        meeting = FakeMeeting(
            meeting_id=meeting_id,
            internal_id=internal_id,
            name=params["name"],
            create_time=create_time,
            voice_bridge=voice_bridge,
            dial_number=params.get("dialNumber", self.dial_number),
            attendee_pw=params.get("attendeePW") or secrets.token_hex(4),
            moderator_pw=params.get("moderatorPW") or secrets.token_hex(4),
            guest_policy=params.get("guestPolicy", "ALWAYS_ACCEPT"),
            record=params.get("record", "false").lower() == "true",
            metadata={k[5:].lower(): v for k, v in params.items() if k.startswith("meta_")},
            is_breakout=is_breakout,
            parent_internal_id=parent_internal_id,
            sequence=int(params.get("sequence", "0") or 0),
            create_params=dict(params),
        )
        self.meetings[meeting_id] = meeting
        return _success(_meeting_fields(meeting))

    def _join(self, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        if not params.get("fullName"):
            return _failed("missingParamFullName", "You must specify a name for the attendee.")
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return _failed("invalidMeetingIdentifier", "The meeting ID does not exist.")
        role = params.get("role", "").upper()
        if role not in ("MODERATOR", "VIEWER"):
            password = params.get("password")
            if password == meeting.moderator_pw:
                role = "MODERATOR"
            elif password == meeting.attendee_pw:
                role = "VIEWER"
            else:
                return _failed("invalidPassword", "You either did not supply a password.")
        create_time = params.get("createTime")
        if create_time is not None and create_time != str(meeting.create_time):
            return _failed("mismatchCreateTimeParam", "The createTime does not match.")
        guest = params.get("guest", "false").lower() == "true"
        status = "ALLOW"
        if guest and meeting.guest_policy == "ASK_MODERATOR":
            status = "WAIT"
        elif guest and meeting.guest_policy == "ALWAYS_DENY":
            status = "DENY"
        user = FakeUser(
            internal_id=f"w_{secrets.token_hex(6)}",
            user_id=params.get("userID", ""),
            full_name=params["fullName"],
            role=role,
            guest=guest,
            guest_status=status,
        )
        if status == "ALLOW":
            meeting.attendees.append(user)
        elif status == "WAIT":
            meeting.waiting.append(user)
        session_token = secrets.token_hex(8)
        client_url = str(
            request.url.with_path("/html5client/join").with_query(sessionToken=session_token)
        )
        if params.get("redirect", "true").lower() == "false":
            return _success(
                {
                    "meeting_id": meeting.internal_id,
                    "user_id": user.internal_id,
                    "auth_token": secrets.token_hex(8),
                    "session_token": session_token,
                    "guestStatus": status,
                    "url": client_url,
                },
                message_key="successfullyJoined",
                message="You have joined successfully.",
            )
        raise web.HTTPFound(client_url)

    def _end(self, request: web.Request, params: dict[str, str]) -> web.Response:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return _failed("notFound", "We could not find a meeting with that meeting ID.")
        password = params.get("password")
        if password is not None and password != meeting.moderator_pw:
            return _failed("invalidPassword", "You must supply the moderator password.")
        for breakout_id in meeting.breakouts:
            self.meetings.pop(
                next((k for k, m in self.meetings.items() if m.internal_id == breakout_id), ""),
                None,
            )
        del self.meetings[meeting.meeting_id]
        return _success({}, message_key="sentEndMeetingRequest", message="A request to end ...")

    def _get_meeting_info(self, request: web.Request, params: dict[str, str]) -> web.Response:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return _failed("notFound", "We could not find a meeting with that meeting ID.")
        root = ET.Element("response")
        _add(root, {"returncode": "SUCCESS", "meetingName": meeting.name})
        _add(root, _meeting_fields(meeting))
        moderators = [u for u in meeting.attendees if u.role == "MODERATOR"]
        _add(
            root,
            {
                "running": str(meeting.running).lower(),
                "participantCount": str(len(meeting.attendees)),
                "listenerCount": "0",
                "voiceParticipantCount": "0",
                "moderatorCount": str(len(moderators)),
                "startTime": str(meeting.create_time),
                "endTime": "0",
                "isBreakout": str(meeting.is_breakout).lower(),
            },
        )
        attendees = ET.SubElement(root, "attendees")
        for user in meeting.attendees:
            node = ET.SubElement(attendees, "attendee")
            _add(
                node,
                {
                    "userID": user.user_id,
                    "fullName": user.full_name,
                    "role": user.role,
                    "isPresenter": "false",
                    "isListeningOnly": "false",
                    "hasJoinedVoice": "false",
                    "hasVideo": "false",
                    "clientType": "HTML5",
                },
            )
        metadata = ET.SubElement(root, "metadata")
        _add(metadata, meeting.metadata)
        if meeting.breakouts:
            rooms = ET.SubElement(root, "breakoutRooms")
            for breakout_id in meeting.breakouts:
                ET.SubElement(rooms, "breakout").text = breakout_id
        return _xml(root)

    def _is_meeting_running(self, request: web.Request, params: dict[str, str]) -> web.Response:
        meeting = self.meetings.get(params.get("meetingID", ""))
        return _success({"running": str(bool(meeting and meeting.running)).lower()})

    def _hooks_create(self, request: web.Request, params: dict[str, str]) -> web.Response:
        callback_url = params.get("callbackURL")
        if not callback_url:
            return _failed("missingParamCallbackURL", "You must specify a callbackURL.")
        for hook_id, url in self.hooks.items():
            if url == callback_url:
                return _success(
                    {"hookID": hook_id, "permanentHook": "false", "rawData": "false"},
                    message_key="duplicateWarning",
                    message="There is already a hook for this callback URL.",
                )
        hook_id = str(len(self.hooks) + 1)
        self.hooks[hook_id] = callback_url
        return _success({"hookID": hook_id, "permanentHook": "false", "rawData": "false"})

    def _hooks_destroy(self, request: web.Request, params: dict[str, str]) -> web.Response:
        removed = self.hooks.pop(params.get("hookID", ""), None) is not None
        if not removed:
            return _failed("destroyMissingHook", "The hook informed was not found.")
        return _success({"removed": "true"})

    # ------------------------------------------------------------------ webhooks

    def mapped_event(
        self, event_id: str, meeting_id: str, user_id: str | None = None, *, ts_ms: int
    ) -> dict[str, Any]:
        """Build a bbb-webhooks mapped event from this fake's state."""
        meeting = self.meetings[meeting_id]
        attributes: dict[str, Any] = {
            "meeting": {
                "internal-meeting-id": meeting.internal_id,
                "external-meeting-id": meeting.meeting_id,
            }
        }
        if user_id is not None:
            user = next(u for u in meeting.attendees + meeting.waiting if u.user_id == user_id)
            attributes["user"] = {
                "internal-user-id": user.internal_id,
                "external-user-id": user.user_id,
                "name": user.full_name,
                "role": user.role,
                "presenter": False,
                "guest": user.guest,
            }
        return {
            "data": {
                "type": "event",
                "id": event_id,
                "attributes": attributes,
                "event": {"ts": ts_ms},
            }
        }

    async def emit(
        self,
        http: aiohttp.ClientSession,
        event: Mapping[str, Any],
        *,
        timestamp_ms: int,
        algorithm: str = "sha1",
        bearer: bool = False,
    ) -> list[int]:
        """Deliver ``event`` to every registered hook; return the HTTP statuses."""
        return [
            await post_webhook(
                http,
                url,
                [event],
                secret=self.secret,
                domain=self.domain,
                timestamp_ms=timestamp_ms,
                algorithm=algorithm,
                bearer=bearer,
            )
            for url in self.hooks.values()
        ]


def url_search_params(pairs: Iterable[tuple[str, str]]) -> str:
    """Encode like JavaScript's ``URLSearchParams.toString()`` (``*-._`` kept, space as +)."""

    def encode(text: str) -> str:
        out = []
        for byte in text.encode():
            char = chr(byte)
            if char.isascii() and (char.isalnum() or char in "*-._"):
                out.append(char)
            elif char == " ":
                out.append("+")
            else:
                out.append(f"%{byte:02X}")
        return "".join(out)

    return "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs)


def webhook_body(events: Sequence[Mapping[str, Any]], *, domain: str, timestamp_ms: int) -> str:
    """Return the form body bbb-webhooks sends: ``domain``, ``event``, ``timestamp``."""
    event_str = ",".join(json.dumps(e, separators=(",", ":")) for e in events)
    return url_search_params(
        [("domain", domain), ("event", f"[{event_str}]"), ("timestamp", str(timestamp_ms))]
    )


def webhook_checksum(callback_url: str, body: str, secret: str, algorithm: str = "sha1") -> str:
    return hashlib.new(algorithm, f"{callback_url}{body}{secret}".encode()).hexdigest()


async def post_webhook(
    http: aiohttp.ClientSession,
    callback_url: str,
    events: Sequence[Mapping[str, Any]],
    *,
    secret: str,
    domain: str,
    timestamp_ms: int,
    algorithm: str = "sha1",
    bearer: bool = False,
    body_override: str | None = None,
) -> int:
    """POST one callback exactly as bbb-webhooks' callback emitter does; return the status.

    ``body_override`` sends a different body under the checksum of the real one (tampering).
    """
    body = webhook_body(events, domain=domain, timestamp_ms=timestamp_ms)
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
    url = callback_url
    if bearer:
        headers["Authorization"] = f"Bearer {secret}"
    else:
        checksum = webhook_checksum(callback_url, body, secret, algorithm)
        url += ("&" if "?" in callback_url else "?") + f"checksum={checksum}"
    sent = body if body_override is None else body_override
    async with http.post(url, data=sent.encode(), headers=headers) as response:
        return response.status


# ---------------------------------------------------------------------- XML helpers


def _add(parent: ET.Element, fields: Mapping[str, str]) -> None:
    for tag, value in fields.items():
        ET.SubElement(parent, tag).text = value


def _meeting_fields(meeting: FakeMeeting) -> dict[str, str]:
    return {
        "meetingID": meeting.meeting_id,
        "internalMeetingID": meeting.internal_id,
        "parentMeetingID": meeting.parent_internal_id,
        "attendeePW": meeting.attendee_pw,
        "moderatorPW": meeting.moderator_pw,
        "createTime": str(meeting.create_time),
        "voiceBridge": meeting.voice_bridge,
        "dialNumber": meeting.dial_number,
        "createDate": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
        "hasUserJoined": str(meeting.running).lower(),
        "duration": "0",
        "hasBeenForciblyEnded": "false",
    }


def _xml(root: ET.Element) -> web.Response:
    return web.Response(body=ET.tostring(root, encoding="utf-8"), content_type="text/xml")


def _success(
    fields: Mapping[str, str], *, message_key: str = "", message: str = ""
) -> web.Response:
    root = ET.Element("response")
    _add(root, {"returncode": "SUCCESS"})
    _add(root, fields)
    if message_key:
        _add(root, {"messageKey": message_key, "message": message})
    return _xml(root)


def _failed(message_key: str, message: str) -> web.Response:
    root = ET.Element("response")
    _add(root, {"returncode": "FAILED", "messageKey": message_key, "message": message})
    return _xml(root)
