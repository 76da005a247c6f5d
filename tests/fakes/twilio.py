"""A loopback fake of Twilio Programmable Voice: REST updates plus a small phone network.

Implements PROVIDERS.md section 5. ``FakeTwilio.app`` serves the two REST resources we
use (Calls and Conferences update, HTTP basic auth). The phone network side plays the
caller: ``dial_in`` POSTs a signed webhook to the voice URL, runs the TwiML it gets back
(Say, Gather, Dial/Conference, Hangup), ``press`` answers a Gather, and conference
status call-backs are POSTed, signed, to the first participant's ``statusCallback``.
Call-backs are delivered before the REST answer so tests see them deterministically.
Outbound calls (``POST Calls.json``) ring ``far_ends``: what answers at an address (a
video fake's phone line), given the keys the call presses; an unknown address goes
unanswered, as a wrong number would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import aiohttp
from aiohttp import web


def twilio_signature(auth_token: str, url: str, params: dict[str, list[str]]) -> str:
    """Sign as Twilio does: URL, then every sorted name with each of its sorted values."""
    payload = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Participant:
    call_sid: str
    label: str
    start_on_enter: bool
    end_on_exit: bool


@dataclass
class Conference:
    sid: str
    name: str
    status_callback: str
    status_events: set[str]
    status: str = "init"  # init (waiting) -> in-progress -> completed
    participants: dict[str, Participant] = field(default_factory=dict)
    sequence: int = 0


@dataclass
class Call:
    sid: str
    caller: str
    url: str  # the URL whose TwiML the call is running
    status: str = "in-progress"
    heard: list[str] = field(default_factory=list)
    gather_action: str | None = None
    conference: str | None = None  # friendly name of the conference it is in
    to: str = ""  # an outbound call: the address it rang


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "twilio-auth-token"
    phone_number: str = "+443300000001"
    voice_url: str = ""
    fail_status: int | None = None

    calls: dict[str, Call] = field(default_factory=dict)
    conferences: dict[str, Conference] = field(default_factory=dict)  # by friendly name
    call_updates: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    conference_updates: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    callback_statuses: list[int] = field(default_factory=list)
    far_ends: dict[str, Callable[[str], bool]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime(2025, 3, 3, 10, 0, tzinfo=UTC))
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self._sids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        self.app.router.add_post(base + "/Calls.json", self._create_call)
        self.app.router.add_post(base + "/Calls/{call}.json", self._update_call)
        self.app.router.add_post(base + "/Conferences/{conference}.json", self._update_conference)
        self.app.on_cleanup.append(self._close_session)

    # ------------------------------------------------------------------ phone network

    async def dial_in(self, caller: str) -> Call:
        """Ring the service number from ``caller`` and run the TwiML that answers."""
        call = Call(sid=self._sid("CA"), caller=caller, url=self.voice_url)
        self.calls[call.sid] = call
        twiml = await self._webhook(call.url, self._call_params(call, CallStatus="ringing"))
        await self._run(call, twiml)
        return call

    async def press(self, call: Call, digits: str) -> None:
        """Key ``digits`` (then ``#``) into the pending Gather."""
        assert call.gather_action, "the call is not waiting for digits"
        action, call.gather_action = call.gather_action, None
        call.url = action
        twiml = await self._webhook(action, self._call_params(call, Digits=digits))
        await self._run(call, twiml)

    async def hang_up(self, call: Call) -> None:
        """End the call from the caller's side."""
        await self._leave(call, reason="participant_hung_up")
        call.status = "completed"

    def conference_of(self, call: Call) -> Conference | None:
        return self.conferences.get(call.conference or "")

    # ------------------------------------------------------------------ signing

    def sign(self, url: str, params: dict[str, list[str]]) -> str:
        return twilio_signature(self.auth_token, url, params)

    async def post_signed(
        self, url: str, params: dict[str, str], *, signature: str | None = None
    ) -> tuple[int, str]:
        """POST a form to ``url`` as Twilio does (or with a forged ``signature``)."""
        session = self._client()
        multi = {name: [value] for name, value in params.items()}
        headers = {"X-Twilio-Signature": signature or self.sign(url, multi)}
        async with session.post(url, data=params, headers=headers) as response:
            return response.status, await response.text()

    # ------------------------------------------------------------------ TwiML

    async def _webhook(self, url: str, params: dict[str, str]) -> str:
        status, text = await self.post_signed(url, params)
        assert status == 200, f"webhook {url} answered {status}"
        return text

    async def _run(self, call: Call, twiml: str) -> None:
        root = ET.fromstring(twiml)
        assert root.tag == "Response"
        for verb in root:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Gather":
                call.heard.extend(say.text or "" for say in verb.findall("Say"))
                call.gather_action = urljoin(call.url, verb.get("action", call.url))
                return
            elif verb.tag == "Hangup":
                call.status = "completed"
                return
            elif verb.tag == "Dial":
                element = verb.find("Conference")
                assert element is not None, "only <Dial><Conference> is simulated"
                await self._join(call, element)
                return
        call.status = "completed"

    # ------------------------------------------------------------------ conferences

    async def _join(self, call: Call, element: ET.Element) -> None:
        name = element.text or ""
        conference = self.conferences.get(name)
        if conference is None or conference.status == "completed":
            conference = Conference(
                sid=self._sid("CF"),
                name=name,
                status_callback=element.get("statusCallback", ""),
                status_events=set(element.get("statusCallbackEvent", "").split()),
            )
            self.conferences[name] = conference
        participant = Participant(
            call_sid=call.sid,
            label=element.get("participantLabel", ""),
            start_on_enter=element.get("startConferenceOnEnter", "true") == "true",
            end_on_exit=element.get("endConferenceOnExit", "false") == "true",
        )
        conference.participants[call.sid] = participant
        call.conference = name
        await self._event(conference, "join", "participant-join", participant)
        if participant.start_on_enter and conference.status == "init":
            conference.status = "in-progress"
            await self._event(conference, "start", "conference-start")

    async def _leave(self, call: Call, *, reason: str) -> None:
        conference = self.conference_of(call)
        call.conference = None
        if conference is None or call.sid not in conference.participants:
            return
        participant = conference.participants.pop(call.sid)
        await self._event(
            conference,
            "leave",
            "participant-leave",
            participant,
            ParticipantCallStatus="completed" if reason == "participant_hung_up" else "in-progress",
            ReasonParticipantLeft=reason,
        )
        if participant.end_on_exit:
            await self._end(conference, reason="participant-with-end-conference-on-exit-left")
        elif not conference.participants:  # nobody left in it: Twilio ends it by itself
            await self._end(conference, reason="last-participant-left")

    async def _end(self, conference: Conference, *, reason: str) -> None:
        left_reason = (
            "conference_ended_via_api"
            if reason == "conference-ended-via-api"
            else "moderator_ended_conference"
        )
        for call_sid in list(conference.participants):
            participant = conference.participants.pop(call_sid)
            call = self.calls[call_sid]
            call.conference = None
            call.status = "completed"  # nothing follows <Dial> in our TwiML
            await self._event(
                conference,
                "leave",
                "participant-leave",
                participant,
                ParticipantCallStatus="completed",
                ReasonParticipantLeft=left_reason,
            )
        conference.status = "completed"
        await self._event(conference, "end", "conference-end", ReasonConferenceEnded=reason)

    async def _event(
        self,
        conference: Conference,
        short: str,
        event: str,
        participant: Participant | None = None,
        **extra: str,
    ) -> None:
        if short not in conference.status_events or not conference.status_callback:
            return
        self.now += timedelta(seconds=1)
        conference.sequence += 1
        params = {
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.name,
            "AccountSid": self.account_sid,
            "SequenceNumber": str(conference.sequence),
            "Timestamp": format_datetime(self.now, usegmt=True),
            "StatusCallbackEvent": event,
            **extra,
        }
        if participant is not None:
            params |= {
                "CallSid": participant.call_sid,
                "Muted": "false",
                "Hold": "false",
                "Coaching": "false",
                "EndConferenceOnExit": str(participant.end_on_exit).lower(),
                "StartConferenceOnEnter": str(participant.start_on_enter).lower(),
                "ParticipantLabel": participant.label,
            }
        status, _ = await self.post_signed(conference.status_callback, params)
        self.callback_statuses.append(status)

    # ------------------------------------------------------------------ REST handlers

    def _authorised(self, request: web.Request) -> bool:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        return (
            request.headers.get("Authorization") == expected
            and request.match_info["account"] == self.account_sid
        )

    async def _update_call(self, request: web.Request) -> web.Response:
        if self.fail_status is not None:
            return _error(20500, "Internal Server Error", self.fail_status)
        if not self._authorised(request):
            return _error(20003, "Authenticate", 401)
        form = {name: str(value) for name, value in (await request.post()).items()}
        call = self.calls.get(request.match_info["call"])
        if call is None:
            return _error(20404, "The requested resource was not found", 404)
        if call.status != "in-progress":
            return _error(21220, "Call is not in-progress. Cannot redirect.", 400)
        self.call_updates.append((call.sid, form))
        if "Twiml" in form:
            await self._leave(call, reason="participant_updated_via_api")
            await self._run(call, form["Twiml"])
        return web.json_response({"sid": call.sid, "status": call.status})

    async def _create_call(self, request: web.Request) -> web.Response:
        if self.fail_status is not None:
            return _error(20500, "Internal Server Error", self.fail_status)
        if not self._authorised(request):
            return _error(20003, "Authenticate", 401)
        form = {name: str(value) for name, value in (await request.post()).items()}
        if not form.get("To") or form.get("From") != self.phone_number:
            return _error(21212, "Invalid From or To", 400)
        if "Twiml" not in form and "Url" not in form:
            return _error(21205, "Url or Twiml is required", 400)
        call = Call(sid=self._sid("CA"), caller=self.phone_number, url="", to=form["To"])
        self.calls[call.sid] = call
        answer = self.far_ends.get(form["To"])
        if answer is None or not answer(form.get("SendDigits", "")):
            call.status = "no-answer"
        else:
            await self._run(call, form["Twiml"])
        return web.json_response({"sid": call.sid, "status": "queued", "to": call.to}, status=201)

    async def _update_conference(self, request: web.Request) -> web.Response:
        if self.fail_status is not None:
            return _error(20500, "Internal Server Error", self.fail_status)
        if not self._authorised(request):
            return _error(20003, "Authenticate", 401)
        form = {name: str(value) for name, value in (await request.post()).items()}
        sid = request.match_info["conference"]
        conference = next((c for c in self.conferences.values() if c.sid == sid), None)
        if conference is None:
            return _error(20404, "The requested resource was not found", 404)
        self.conference_updates.append((sid, form))
        if form.get("Status") == "completed" and conference.status != "completed":
            await self._end(conference, reason="conference-ended-via-api")
        return web.json_response({"sid": sid, "status": conference.status})

    # ------------------------------------------------------------------ internals

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._sids):032x}"

    def _call_params(self, call: Call, **extra: str) -> dict[str, str]:
        return {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.caller,
            "To": self.phone_number,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _close_session(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()


def _error(code: int, message: str, status: int) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "more_info": "", "status": status}, status=status
    )
