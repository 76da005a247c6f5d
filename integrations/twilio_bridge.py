"""A telephone bridge on Twilio Programmable Voice: PIN entry, conferences, call moves.

One Twilio number per service. A caller keys a PIN (``twiml_gather_pin``); the
orchestrator looks up the party and meeting and answers with ``twiml_join_conference``.
Each room of a meeting (joint room, every caucus room) is its own conference, named
by an opaque key; ``move_call`` redirects a live call from one to another, so phone
participants move between rooms like everyone else.

The mediator starts the joint conference (parties wait silently until then, a lobby)
and ends it by hanging up or through ``end_conference``. A call moved by ``move_call``
never ends a conference on exit: the mediator stepping out of a caucus must not cut off
the party left in it. Twilio also ends a conference when an ``endConferenceOnExit``
participant is redirected out of it, so a phone mediator who will move between rooms
should first join with ``end_conference_on_exit=False`` and end rooms explicitly.
Nothing personal goes to Twilio: conference names and participant labels are opaque
ids, recording is off.

``bridge_to_room`` rings a video room (``POST Calls``, SIP or a number and keys) into a
conference: that line, ``BRIDGE_LABEL``, starts it, and phone and video people meet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit, urlunsplit
from xml.etree import ElementTree as ET

import aiohttp

from integrations.base import (
    AttendanceKind,
    AttendanceSignal,
    CallbackRequest,
    PhoneBridge,
    PhoneEntry,
)
from integrations.errors import (
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
    SignatureInvalid,
)
from integrations.oauth import basic_authorization

PROVIDER = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
STATUS_CALLBACK_EVENTS = "start end join leave"
BRIDGE_LABEL = "video-room"  # the participant label of the line into a video room

_EVENT_KINDS: dict[str, AttendanceKind] = {
    "participant-join": "joined",
    "participant-leave": "left",
    "conference-start": "room_started",
    "conference-end": "room_ended",
}
# Events after which a conference is live, and the one that says it is over.
_LIVE_EVENTS = frozenset({"conference-start", "participant-join"})
_END_EVENT = "conference-end"
# Twilio error codes that mean the conference is not live any more, so ending it is done:
# 20404 "The requested resource was not found", 16022 "Conference does not exist or is
# completed".
_CONFERENCE_OVER = frozenset({20404, 16022})

FormParams = Mapping[str, Sequence[str]] | Mapping[str, str]


@dataclass(frozen=True)
class TwilioConfig:
    """A Twilio account, the service's phone number, and where the REST API lives."""

    account_sid: str
    auth_token: str
    phone_number: str
    api_base: str = "https://api.twilio.com"
    timeout_s: float = 10


@dataclass(frozen=True)
class ConferenceState:
    """What a status call-back says about the conference itself: which one, and is it live."""

    name: str  # the FriendlyName we chose: the room's opaque key
    sid: str
    live: bool


class TwilioBridge(PhoneBridge):
    """Twilio Voice: signed webhooks in, TwiML out, REST calls to move and end."""

    name = "twilio"

    def __init__(self, config: TwilioConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)

    @property
    def dial_in_number(self) -> str:
        """Return the number callers dial for this service."""
        return self._config.phone_number

    # ------------------------------------------------------------------ signatures

    def signature(self, url: str, params: FormParams | None = None) -> str:
        """Compute ``X-Twilio-Signature`` for a request to ``url`` with form ``params``."""
        text = url
        for name, values in sorted(_multi(params or {}).items()):
            for value in sorted(set(values)):
                text += name + value
        digest = hmac.new(self._config.auth_token.encode(), text.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def verify_request(self, request: CallbackRequest) -> None:
        """Check ``X-Twilio-Signature`` on a webhook. Raises SignatureInvalid."""
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureInvalid("request has no X-Twilio-Signature", provider=PROVIDER)
        query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        params: FormParams = {}
        if "bodySHA256" in query:
            body_hash = hashlib.sha256(request.body).hexdigest()
            if not hmac.compare_digest(body_hash, query["bodySHA256"]):
                raise SignatureInvalid("body does not match bodySHA256", provider=PROVIDER)
        elif request.method.upper() != "GET":
            params = request.form or _form_from_body(request)
        for candidate in _url_variants(request.url):
            if hmac.compare_digest(given, self.signature(candidate, params)):
                return
        raise SignatureInvalid("X-Twilio-Signature does not match", provider=PROVIDER)

    # ------------------------------------------------------------------ TwiML

    @staticmethod
    def twiml_gather_pin(
        action_url: str,
        prompt: str,
        *,
        num_digits: int = 6,
        timeout_s: int = 10,
        no_input: str = "We did not receive a PIN. Goodbye.",
        language: str = "en-GB",
    ) -> str:
        """Ask the caller for their PIN; Twilio POSTs ``Digits`` to ``action_url``."""
        response = ET.Element("Response")
        gather = ET.SubElement(
            response,
            "Gather",
            input="dtmf",
            numDigits=str(num_digits),
            action=action_url,
            method="POST",
            timeout=str(timeout_s),
            finishOnKey="#",
        )
        ET.SubElement(gather, "Say", language=language).text = prompt
        # Reached only when the caller keys nothing.
        ET.SubElement(response, "Say", language=language).text = no_input
        ET.SubElement(response, "Hangup")
        return _document(response)

    @staticmethod
    def twiml_join_conference(
        conference_name: str,
        *,
        label: str,
        moderator: bool,
        status_callback_url: str,
        wait_url: str = "",
        end_conference_on_exit: bool | None = None,
    ) -> str:
        """Put the call into ``conference_name``; only a moderator starts (and ends) it."""
        end_on_exit = moderator if end_conference_on_exit is None else end_conference_on_exit
        response = ET.Element("Response")
        dial = ET.SubElement(response, "Dial")
        attributes = {
            "startConferenceOnEnter": _flag(moderator),
            "endConferenceOnExit": _flag(end_on_exit),
            "beep": "false",
            "record": "do-not-record",
            "waitUrl": wait_url,
            "participantLabel": label,
        }
        if status_callback_url:
            attributes |= {
                "statusCallback": status_callback_url,
                "statusCallbackEvent": STATUS_CALLBACK_EVENTS,
                "statusCallbackMethod": "POST",
            }
        ET.SubElement(dial, "Conference", attributes).text = conference_name
        return _document(response)

    @staticmethod
    def twiml_say_and_hangup(text: str, *, language: str = "en-GB") -> str:
        """Tell the caller something and end the call."""
        response = ET.Element("Response")
        ET.SubElement(response, "Say", language=language).text = text
        ET.SubElement(response, "Hangup")
        return _document(response)

    # ------------------------------------------------------------------ REST

    async def move_call(
        self,
        call_id: str,
        conference_name: str,
        *,
        label: str = "",
        moderator: bool = False,
        status_callback_url: str = "",
    ) -> None:
        """Move a live call into ``conference_name`` (joint room <-> caucus).

        Pass the participant's opaque ``label`` and the status call-back URL so that
        attendance keeps flowing from the new conference.
        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        twiml = self.twiml_join_conference(
            conference_name,
            label=label,
            moderator=moderator,
            status_callback_url=status_callback_url,
            end_conference_on_exit=False,
        )
        await self._post(f"Calls/{quote(call_id, safe='')}.json", {"Twiml": twiml})

    async def bridge_to_room(
        self, conference_name: str, entry: PhoneEntry, *, status_callback_url: str
    ) -> str:
        """Call the video room at ``entry`` and put the line into ``conference_name``; return
        the new call's SID. Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        twiml = self.twiml_join_conference(
            conference_name,
            label=BRIDGE_LABEL,
            moderator=True,  # the video room on the line starts the conference
            status_callback_url=status_callback_url,
            end_conference_on_exit=False,
        )
        form = {"To": entry.address, "From": self._config.phone_number, "Twiml": twiml}
        if entry.digits and not entry.is_sip:
            form["SendDigits"] = entry.digits
        body = await self._post("Calls.json", form)
        try:
            return str(json.loads(body)["sid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderUnavailable(
                "Twilio answered without a call SID", provider=PROVIDER
            ) from exc

    async def end_conference(self, conference_sid: str) -> None:
        """End a conference for everyone in it; one that is already over counts as ended.

        Twilio will not update a conference that has ended (error 16022), so repeating the
        request after its answer was lost is not an error.
        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        await self._post(
            f"Conferences/{quote(conference_sid, safe='')}.json",
            {"Status": "completed"},
            done_codes=_CONFERENCE_OVER,
        )

    async def _post(
        self, resource: str, form: Mapping[str, str], *, done_codes: frozenset[int] = frozenset()
    ) -> bytes:
        config = self._config
        url = f"{config.api_base}/2010-04-01/Accounts/{config.account_sid}/{resource}"
        headers = {"Authorization": basic_authorization(config.account_sid, config.auth_token)}
        try:
            async with self._session.post(
                url, data=dict(form), headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(
                f"Twilio request failed: {type(exc).__name__}", provider=PROVIDER
            ) from exc
        if 200 <= status < 300 or (400 <= status < 500 and _error_code(body) in done_codes):
            return body
        message = f"Twilio answered {status} for {resource.split('/', 1)[0]}"
        if status in (401, 403):
            raise ProviderAuthError(message, provider=PROVIDER)
        if status == 429 or status >= 500:
            raise ProviderUnavailable(message, provider=PROVIDER)
        raise ProviderRejected(message, provider=PROVIDER)

    # ------------------------------------------------------------------ call-backs

    @staticmethod
    def parse_status_callback(form: FormParams) -> list[AttendanceSignal]:
        """Turn a verified conference status call-back into attendance signals."""
        fields = {name: values[0] for name, values in _multi(form).items() if values}
        event = fields.get("StatusCallbackEvent", "")
        kind = _EVENT_KINDS.get(event)
        room_id = fields.get("FriendlyName", "")
        participant = kind in ("joined", "left")
        if (
            kind is None
            or not room_id
            or (participant and fields.get("ParticipantLabel") == BRIDGE_LABEL)
        ):
            return []  # the line into the video room is nobody's attendance
        key = ":".join(
            (
                "twilio",
                fields.get("ConferenceSid", ""),
                fields.get("CallSid", ""),
                fields.get("SequenceNumber", ""),
                event,
            )
        )
        return [
            AttendanceSignal(
                room_id=room_id,
                kind=kind,
                at=_rfc2822(fields.get("Timestamp")),
                dedup_key=key,
                participant_ref=(fields.get("ParticipantLabel") or None) if participant else None,
                channel="phone",
            )
        ]

    @staticmethod
    def conference_state(form: FormParams) -> ConferenceState | None:
        """Whether a verified status call-back shows its conference live or ended (or neither).

        A conference is live once it starts or someone joins it (a lobby that waits for the
        mediator is live too) and over at ``conference-end``; other events change nothing.
        """
        fields = {name: values[0] for name, values in _multi(form).items() if values}
        event = fields.get("StatusCallbackEvent", "")
        name, sid = fields.get("FriendlyName", ""), fields.get("ConferenceSid", "")
        if not name or not sid or (event not in _LIVE_EVENTS and event != _END_EVENT):
            return None
        return ConferenceState(name=name, sid=sid, live=event != _END_EVENT)

    @staticmethod
    def gathered_digits(form: FormParams) -> str:
        """Return the digits the caller keyed in a ``<Gather>`` (without a trailing ``#``)."""
        values = _multi(form).get("Digits") or [""]
        return values[0].strip().rstrip("#")


def _multi(params: FormParams) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in params.items():
        result[name] = [value] if isinstance(value, str) else list(value)
    return result


def _form_from_body(request: CallbackRequest) -> dict[str, list[str]]:
    content_type = request.headers.get("Content-Type") or ""
    if "application/x-www-form-urlencoded" not in content_type:
        return {}
    return parse_qs(request.body.decode("utf-8"), keep_blank_values=True)


def _url_variants(url: str) -> Iterable[str]:
    """Yield ``url`` without and with its explicit port, as Twilio's validator does."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    if parts.port is not None:
        hostname = host.rsplit(":", 1)[0]
        yield urlunsplit(parts._replace(netloc=userinfo + hostname))
        yield url
    else:
        yield url
        port = 443 if parts.scheme == "https" else 80
        yield urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{port}"))


def _error_code(body: bytes) -> int | None:
    """The ``code`` of a Twilio REST error body (JSON), or None."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    return code if isinstance(code, int) else None


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _document(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def _rfc2822(value: str | None) -> datetime:
    if value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(tz=UTC)
