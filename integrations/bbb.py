"""BigBlueButton: checksummed API calls, guest-lobby joins, breakouts and bbb-webhooks.

Every call is ``{base}/{call}?{query}&checksum=hex(SHA(call + query + secret))`` over the
exact encoded query. Meetings are created with ``guestPolicy=ASK_MODERATOR`` and every
recording switch off; the meeting ID is the orchestrator's opaque room key and the name
is the generic title, so BigBlueButton holds no personal data beyond the display names.

Join URLs are signed locally: the mediator joins as ``MODERATOR``; parties join as
``VIEWER`` with ``guest=true`` so the guest policy sends them to the waiting room
(bbb-web treats users without ``guest=true`` as authenticated and lets them straight in).
Parties the mediator let in (``past_lobby``) get that authenticated join: no second wait.
``createTime`` pins a link to one run of the meeting; BigBlueButton drops a meeting
nobody joined within a few minutes, so callers re-run ``create_room`` (idempotent, it
answers the current ``createTime``) when the join window opens and keep the new data.

Caucus rooms are BigBlueButton breakouts (``isBreakout``, ``parentMeetingID`` = the
parent's internal ID, ``sequence``); the parent must be running.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.etree.ElementTree import Element  # type only; parsing goes through defusedxml

import aiohttp
from defusedxml import ElementTree as SafeElementTree
from yarl import URL

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
from integrations.errors import (
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    SignatureInvalid,
)

PROVIDER_NAME = "bbb"
ALGORITHM_BY_HEX_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
_VOICE_BRIDGE = re.compile(r"^[1-9][0-9]{4}$")
_CHECKSUM_PARAM = re.compile(r"[?&]checksum=[^&]*$")
_ORIGIN_META = ("meta_bbb-origin", "mediation-orchestrator")
_WEBHOOK_KINDS: Mapping[str, AttendanceKind] = {
    "user-joined": "joined",
    "user-left": "left",
    "meeting-created": "room_started",
    "meeting-ended": "room_ended",
}


def bbb_checksum(call: str, query: str, secret: str, algorithm: str = "sha1") -> str:
    """Return ``hex(SHA(call + query + secret))``, BigBlueButton's API checksum."""
    if algorithm not in ALGORITHM_BY_HEX_LENGTH.values():
        raise ValueError(f"unsupported checksum algorithm {algorithm!r}")
    return hashlib.new(algorithm, f"{call}{query}{secret}".encode()).hexdigest()


@dataclass(frozen=True)
class BbbConfig:
    """The API endpoint, its shared secret, and how call-backs reach us."""

    base_url: str = "https://host/bigbluebutton/api"
    shared_secret: str = ""
    checksum_algorithm: str = "sha256"
    timeout_s: float = 10
    callback_url: str | None = None  # our bbb-webhooks URL exactly as registered
    webhook_bearer: bool = False  # bbb-webhooks ``auth2_0``: Bearer header, no checksum
    # How far a call-back's ``timestamp`` may be from our clock, either way: the replay
    # window, as wide as Zoom's. A delivery stamped further ahead is a replay kept for later.
    webhook_tolerance_s: int = 300
    sip_domain: str | None = None  # FreeSWITCH's: ``sip:{voiceBridge}@{this}`` (record 017)


@dataclass(frozen=True)
class BbbAttendee:
    """One person in a running meeting, by the opaque id we gave them (no name kept)."""

    user_id: str | None
    role: str
    is_listening_only: bool
    has_joined_voice: bool
    has_video: bool


@dataclass(frozen=True)
class BbbMeetingInfo:
    """What ``getMeetingInfo`` says about a meeting, minus names."""

    meeting_id: str
    internal_meeting_id: str
    create_time: int
    running: bool
    participant_count: int
    moderator_count: int
    is_breakout: bool
    attendees: tuple[BbbAttendee, ...]
    breakout_ids: tuple[str, ...]


class BbbCallFailed(ProviderRejected):
    """BigBlueButton answered FAILED; ``message_key`` says why (``notFound``, ...)."""

    def __init__(self, call: str, message_key: str) -> None:
        super().__init__(f"BigBlueButton {call} failed: {message_key}", provider=PROVIDER_NAME)
        self.message_key = message_key


class BigBlueButtonProvider(VideoProvider):
    """BigBlueButton meetings through the checksummed web API."""

    name = PROVIDER_NAME

    def __init__(self, config: BbbConfig, http: aiohttp.ClientSession) -> None:
        if not config.shared_secret:
            raise ValueError("BigBlueButton needs its shared secret")
        bbb_checksum("", "", "", config.checksum_algorithm)  # refuse unknown algorithms early
        self.config = config
        self.http = http

    # ------------------------------------------------------------------ signing

    def checksum(self, call: str, query: str) -> str:
        """Return the checksum for ``call`` with this exact encoded ``query``."""
        return bbb_checksum(call, query, self.config.shared_secret, self.config.checksum_algorithm)

    def signed_url(self, call: str, params: Sequence[tuple[str, str]]) -> str:
        """Return ``{base}/{call}?{query}&checksum=...`` for these parameters, in order."""
        query = urlencode(list(params))
        checksum = self.checksum(call, query)
        separator = "&" if query else ""
        return f"{self.config.base_url.rstrip('/')}/{call}?{query}{separator}checksum={checksum}"

    # ------------------------------------------------------------------ rooms

    async def create_room(self, spec: RoomSpec) -> ProviderRoom:
        """Create the meeting (a repeat answers ``duplicateWarning`` and counts as success)."""
        params = [
            ("name", spec.title),
            ("meetingID", spec.room_key),
            ("guestPolicy", "ASK_MODERATOR" if spec.lobby else "ALWAYS_ACCEPT"),
            ("record", "false"),
            ("autoStartRecording", "false"),
            ("allowStartStopRecording", "false"),
        ]
        if spec.pin is not None:
            if not _VOICE_BRIDGE.match(spec.pin):
                raise ProviderRejected(
                    "BigBlueButton voice bridge PINs are 5 digits, 10000-99999", provider=self.name
                )
            params.append(("voiceBridge", spec.pin))
        if spec.parent is not None:
            params += await self._breakout_params(spec.parent)
        params.append(_ORIGIN_META)
        root = await self._call("create", params)
        data: dict[str, Any] = {
            "meeting_id": _text(root, "meetingID") or spec.room_key,
            "internal_meeting_id": _text(root, "internalMeetingID"),
            "create_time": _text(root, "createTime"),
            "moderator_pw": _text(root, "moderatorPW"),
            "lobby": spec.lobby,
        }
        if spec.parent is not None:
            data["parent_meeting_id"] = spec.parent.room_id
        return ProviderRoom(
            provider=self.name,
            room_id=spec.room_key,
            data=data,
            dial_in_number=(_text(root, "dialNumber") or None) if spec.pin else None,
            dial_in_pin=spec.pin,
        )

    async def create_caucus(self, room: ProviderRoom, spec: RoomSpec) -> ProviderRoom:
        """Create a breakout of ``room`` (which must be running)."""
        return await self.create_room(replace(spec, parent=room))

    async def _breakout_params(self, parent: ProviderRoom) -> list[tuple[str, str]]:
        info = await self.get_meeting_info(parent)
        if info is None or not info.running:
            raise ProviderRejected(
                "a breakout needs its parent meeting running", provider=self.name
            )
        return [
            ("isBreakout", "true"),
            ("parentMeetingID", info.internal_meeting_id),
            ("sequence", str(len(info.breakout_ids) + 1)),
            ("freeJoin", "false"),
        ]

    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Sign this participant's join link; viewers go through the guest lobby."""
        params = [
            ("fullName", who.display_name),
            ("meetingID", room.room_id),
            ("role", "MODERATOR" if who.moderator else "VIEWER"),
            ("userID", who.participant_ref),
        ]
        create_time = room.data.get("create_time")
        if create_time:
            params.append(("createTime", str(create_time)))
        if not who.moderator and not who.past_lobby and room.data.get("lobby", True):
            # A person the mediator has let in joins as an authenticated viewer, which the
            # guest policy does not hold: the moderator-approved way past the waiting list.
            params.append(("guest", "true"))
        return self.signed_url("join", params)

    def phone_entry(self, room: ProviderRoom) -> PhoneEntry | None:
        """The meeting's voice bridge: by SIP where configured, else its dial-in number."""
        if room.dial_in_pin and self.config.sip_domain:
            return PhoneEntry(address=f"sip:{room.dial_in_pin}@{self.config.sip_domain}")
        if room.dial_in_pin and room.dial_in_number:
            number = "+" + "".join(ch for ch in room.dial_in_number if ch.isdigit())
            return PhoneEntry(address=number, digits=f"wwwwww{room.dial_in_pin}#")
        return None

    async def end_room(self, room: ProviderRoom) -> None:
        """End the meeting for everyone; a meeting already gone counts as ended."""
        params = [("meetingID", room.room_id)]
        if room.data.get("moderator_pw"):
            params.append(("password", str(room.data["moderator_pw"])))
        try:
            await self._call("end", params)
        except BbbCallFailed as exc:
            if exc.message_key != "notFound":
                raise

    async def get_meeting_info(self, room: ProviderRoom) -> BbbMeetingInfo | None:
        """Return what the server knows of the meeting, or None when it does not exist."""
        try:
            root = await self._call("getMeetingInfo", [("meetingID", room.room_id)])
        except BbbCallFailed as exc:
            if exc.message_key == "notFound":
                return None
            raise
        return _meeting_info(root)

    async def register_webhook(self, meeting_id: str | None = None) -> str:
        """Register ``callback_url`` with bbb-webhooks and return the hook ID."""
        if not self.config.callback_url:
            raise ValueError("set callback_url to register a webhook")
        params = [("callbackURL", self.config.callback_url)]
        if meeting_id:
            params.append(("meetingID", meeting_id))
        root = await self._call("hooks/create", params)
        return _text(root, "hookID")

    # ------------------------------------------------------------------ transport

    async def _call(self, call: str, params: Sequence[tuple[str, str]]) -> Element:
        url = URL(self.signed_url(call, params), encoded=True)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with self.http.get(url, timeout=timeout, allow_redirects=False) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"BigBlueButton {call} failed", provider=self.name) from exc
        if status >= 500:
            raise ProviderUnavailable(f"BigBlueButton {call} answered {status}", provider=self.name)
        if status in (401, 403):
            raise ProviderAuthError(f"BigBlueButton {call} answered {status}", provider=self.name)
        if status >= 400:
            raise ProviderRejected(f"BigBlueButton {call} answered {status}", provider=self.name)
        try:
            root: Element = SafeElementTree.fromstring(body)  # defusedxml is untyped
        except SafeElementTree.ParseError as exc:
            raise ProviderUnavailable(
                f"BigBlueButton {call} answered something other than XML", provider=self.name
            ) from exc
        if _text(root, "returncode") == "SUCCESS":
            return root
        message_key = _text(root, "messageKey")
        if message_key == "checksumError":
            raise ProviderAuthError(
                f"BigBlueButton refused our checksum on {call}: check the shared secret",
                provider=self.name,
            )
        raise BbbCallFailed(call, message_key)

    # ------------------------------------------------------------------ call-backs

    def verify_callback(self, request: CallbackRequest, *, now: datetime) -> CallbackResult:
        """Verify a bbb-webhooks POST (checksum or Bearer) and translate its events."""
        self._check_webhook_signature(request)
        try:
            body = request.body.decode()
        except UnicodeDecodeError as exc:
            raise SignatureInvalid("webhook body is not UTF-8", provider=self.name) from exc
        form = parse_qs(body, keep_blank_values=True)
        sent_at = _webhook_time(form)
        if abs((now - sent_at).total_seconds()) > self.config.webhook_tolerance_s:
            raise SignatureInvalid(
                "webhook timestamp is outside the replay window", provider=self.name
            )
        try:
            events = json.loads(form.get("event", ["[]"])[0])
        except json.JSONDecodeError as exc:
            raise ProviderRejected("webhook event is not JSON", provider=self.name) from exc
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list):
            raise ProviderRejected("webhook event is not a list", provider=self.name)
        return CallbackResult(signals=tuple(_signals_from_events(events)))

    def _check_webhook_signature(self, request: CallbackRequest) -> None:
        secret = self.config.shared_secret
        if self.config.webhook_bearer:
            received = request.headers.get("Authorization") or ""
            if not hmac.compare_digest(received.encode(), f"Bearer {secret}".encode()):
                raise SignatureInvalid("webhook bearer did not match", provider=self.name)
            return
        query = parse_qs(urlsplit(request.url).query)
        checksum = (query.get("checksum") or [""])[-1].lower()
        algorithm = ALGORITHM_BY_HEX_LENGTH.get(len(checksum))
        if algorithm is None:
            raise SignatureInvalid("webhook checksum missing or malformed", provider=self.name)
        callback_url = self.config.callback_url or _CHECKSUM_PARAM.sub("", request.url)
        signed = callback_url.encode() + request.body + secret.encode()
        expected = hashlib.new(algorithm, signed).hexdigest()
        if not hmac.compare_digest(checksum.encode(), expected.encode()):
            raise SignatureInvalid("webhook checksum did not match", provider=self.name)


def _text(root: Element, tag: str) -> str:
    return (root.findtext(tag) or "").strip()


def _flag(root: Element, tag: str) -> bool:
    return _text(root, tag).lower() == "true"


def _number(root: Element, tag: str) -> int:
    value = _text(root, tag)
    return int(value) if value.isdigit() else 0


def _meeting_info(root: Element) -> BbbMeetingInfo:
    attendees = tuple(
        BbbAttendee(
            user_id=_text(node, "userID") or None,
            role=_text(node, "role").upper(),
            is_listening_only=_flag(node, "isListeningOnly"),
            has_joined_voice=_flag(node, "hasJoinedVoice"),
            has_video=_flag(node, "hasVideo"),
        )
        for node in root.iterfind("attendees/attendee")
    )
    breakout_ids = tuple(
        (node.text or "").strip() for node in root.iterfind("breakoutRooms/breakout")
    )
    return BbbMeetingInfo(
        meeting_id=_text(root, "meetingID"),
        internal_meeting_id=_text(root, "internalMeetingID"),
        create_time=_number(root, "createTime"),
        running=_flag(root, "running"),
        participant_count=_number(root, "participantCount"),
        moderator_count=_number(root, "moderatorCount"),
        is_breakout=_flag(root, "isBreakout"),
        attendees=attendees,
        breakout_ids=tuple(b for b in breakout_ids if b),
    )


def _webhook_time(form: Mapping[str, list[str]]) -> datetime:
    value = (form.get("timestamp") or [""])[0]
    if not value.isdigit():
        raise SignatureInvalid("webhook has no timestamp", provider=PROVIDER_NAME)
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _signals_from_events(events: Iterable[Any]) -> Iterable[AttendanceSignal]:
    for event in events:
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            continue
        event_id = str(data.get("id", ""))
        kind = _WEBHOOK_KINDS.get(event_id)
        attributes = data.get("attributes") or {}
        meeting = attributes.get("meeting") or {}
        room_id = meeting.get("external-meeting-id")
        ts = (data.get("event") or {}).get("ts")
        if kind is None or not isinstance(room_id, str) or not isinstance(ts, int | float):
            continue
        at = datetime.fromtimestamp(ts / 1000, UTC)
        user = attributes.get("user") or {}
        internal_user = str(user.get("internal-user-id", ""))
        participant_ref = user.get("external-user-id")
        yield AttendanceSignal(
            room_id=room_id,
            kind=kind,
            at=at,
            dedup_key=f"bbb:{room_id}:{internal_user}:{event_id}:{int(ts)}",
            participant_ref=participant_ref if isinstance(participant_ref, str) else None,
        )
