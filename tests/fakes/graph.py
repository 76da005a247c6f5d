"""A loopback fake of Microsoft Graph onlineMeetings and the Entra ID token endpoint.

Implements PROVIDERS.md section 4. Serve ``FakeGraph.app`` with ``aiohttp_server`` and
point ``TeamsConfig.login_base`` at ``{base}`` and ``graph_base`` at ``{base}/v1.0``.

``join`` plays someone opening the meeting in Teams, with the lobby's rules: the
organiser, and co-organisers, are let in; the lobby scope decides who else bypasses it
(``invited``: the meeting's attendees, signed in as themselves); everyone else waits in
the lobby until a co-organiser or the organiser present ``admit`` them. Evolvable enum
members (``coorganizer``, ``invited``) are refused without ``Prefer:
include-unknown-enum-members``, as Graph does.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_EVOLVABLE = {"coorganizer", "invited", "organizationExcludingGuests"}


@dataclass
class TeamsSeat:
    """Someone in a Teams meeting: signed in as ``upn`` (None: an anonymous guest)."""

    name: str
    upn: str | None
    state: str  # in_meeting | lobby
    role: str = "attendee"


@dataclass
class Attendee:
    email: str
    display_name: str
    role: str
    intervals: Sequence[tuple[str, str]]


@dataclass
class FakeGraph:
    tenant_id: str = "tenant-1"
    client_id: str = "app-1"
    client_secret: str = "app-secret"
    organizer_user_id: str = "organizer-1"
    token_lifetime_s: int = 3599
    conference_id_key: str = "conferenceId"  # the docs sample spells it "ConferenceId"
    fail_status: int | None = None
    hang: bool = False

    token_requests: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    report_requests: list[dict[str, str]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    seats: dict[str, list[TeamsSeat]] = field(default_factory=dict)
    app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self._conference_ids = itertools.count(412_345_001)
        self._released = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        meetings = "/v1.0/users/{user}/onlineMeetings"
        self.app.router.add_post(meetings, self._create)
        self.app.router.add_get(meetings + "/{meeting}/attendanceReports", self._list_reports)
        self.app.router.add_get(
            meetings + "/{meeting}/attendanceReports/{report}", self._get_report
        )
        self.app.on_shutdown.append(self._release_hung)

    def add_attendance_report(
        self, meeting_id: str, *, start: str, end: str, attendees: Sequence[Attendee]
    ) -> str:
        """Record a finished session of ``meeting_id`` as Teams would report it."""
        report_id = f"report-{len(self.reports.get(meeting_id, [])) + 1}"
        records = [
            {
                "id": f"{person.email}",
                "emailAddress": person.email,
                "totalAttendanceInSeconds": 0,
                "role": person.role,
                "identity": {
                    "id": f"aad-{index}",
                    "displayName": person.display_name,
                    "tenantId": self.tenant_id,
                },
                "attendanceIntervals": [
                    {"joinDateTime": joined, "leaveDateTime": left, "durationInSeconds": 0}
                    for joined, left in person.intervals
                ],
                "registrationId": None,
            }
            for index, person in enumerate(attendees)
        ]
        self.reports.setdefault(meeting_id, []).append(
            {
                "id": report_id,
                "totalParticipantCount": len(attendees),
                "meetingStartDateTime": start,
                "meetingEndDateTime": end,
                "attendanceRecords": records,
            }
        )
        return report_id

    # ------------------------------------------------------------------ handlers

    def join(self, join_url: str, *, name: str, upn: str | None = None) -> TeamsSeat:
        """Someone opens ``join_url`` (signed in as ``upn``, or anonymously)."""
        meeting = next(m for m in self.meetings.values() if m["joinWebUrl"] == join_url)
        role = self._role(meeting, upn)
        scope = meeting["lobbyBypassSettings"]["scope"]
        invited = role != "attendee" or self._attendee(meeting, upn) is not None
        bypass = role in ("organizer", "coorganizer") or (scope == "invited" and invited)
        bypass = bypass or scope == "everyone"
        seat = TeamsSeat(name, upn, "in_meeting" if bypass else "lobby", role)
        self.seats.setdefault(meeting["id"], []).append(seat)
        return seat

    def phone_line(self, number: str, digits: str) -> bool:
        """A call to the toll number keys the conference ID and ``#``: the caller waits in
        the lobby unless dial-in callers bypass it. True: answered."""
        conference_id = digits.strip("w").split("#", 1)[0].strip("w")
        for meeting in self.meetings.values():
            audio = meeting["audioConferencing"]
            toll = "+" + "".join(ch for ch in audio["tollNumber"] if ch.isdigit())
            if toll == number and audio[self.conference_id_key] == conference_id:
                bypass = meeting["lobbyBypassSettings"].get("isDialInBypassEnabled")
                seat = TeamsSeat("Phone", None, "in_meeting" if bypass else "lobby")
                self.seats.setdefault(meeting["id"], []).append(seat)
                return True
        return False

    def admit(self, meeting_id: str, name: str) -> None:
        """Admit ``name`` from the lobby: only an organiser or co-organiser in the meeting can."""
        seats = self.seats.get(meeting_id, [])
        hosts = [s for s in seats if s.state == "in_meeting" and s.role != "attendee"]
        if not hosts:
            raise PermissionError("nobody in the meeting may admit from the lobby")
        for seat in seats:
            if seat.name == name and seat.state == "lobby":
                seat.state = "in_meeting"

    def _role(self, meeting: dict[str, Any], upn: str | None) -> str:
        if upn is not None and upn == meeting["participants"]["organizer"]["upn"]:
            return "organizer"
        attendee = self._attendee(meeting, upn)
        return str(attendee.get("role", "attendee")) if attendee else "attendee"

    @staticmethod
    def _attendee(meeting: dict[str, Any], upn: str | None) -> dict[str, Any] | None:
        if upn is None:
            return None
        attendees = meeting["participants"].get("attendees") or []
        return next((a for a in attendees if a.get("upn") == upn), None)

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if request.match_info["tenant"] != self.tenant_id:
            return web.json_response({"error": "invalid_tenant"}, status=400)
        if form.get("grant_type") != "client_credentials" or form.get("scope") != GRAPH_SCOPE:
            return web.json_response({"error": "invalid_request"}, status=400)
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return web.json_response(
                {"error": "invalid_client", "error_description": "AADSTS7000215"}, status=401
            )
        token = secrets.token_urlsafe(16)
        self.valid_tokens.add(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_s,
                "ext_expires_in": self.token_lifetime_s,
                "access_token": token,
            }
        )

    async def _guard(self, request: web.Request) -> web.Response | None:
        if self.hang:
            await self._released.wait()
        if self.fail_status is not None:
            return _graph_error("ServiceUnavailable", self.fail_status)
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid_tokens:
            return _graph_error("InvalidAuthenticationToken", 401)
        if request.match_info["user"] != self.organizer_user_id:
            # No application access policy grants the app this user.
            return _graph_error("Forbidden", 403)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        body = await request.json()
        evolvable = request.headers.get("Prefer") == "include-unknown-enum-members"
        attendees = list((body.get("participants") or {}).get("attendees") or [])
        used = {a.get("role") for a in attendees} | {
            (body.get("lobbyBypassSettings") or {}).get("scope")
        }
        if used & _EVOLVABLE and not evolvable:
            return _graph_error("BadRequest", 400)
        self.created.append(body)
        meeting_id = "MSo1N2Y5ZGFj" + secrets.token_hex(8)
        conference_id = str(next(self._conference_ids))
        meeting = {
            "id": meeting_id,
            "creationDateTime": "2025-01-01T00:00:00.0000000Z",
            "startDateTime": body.get("startDateTime"),
            "endDateTime": body.get("endDateTime"),
            "joinWebUrl": f"https://teams.example/l/meetup-join/{meeting_id}",
            "subject": body.get("subject"),
            "chatInfo": {"threadId": "19:meeting@thread.v2", "messageId": "0"},
            "participants": {
                "organizer": {
                    "identity": {"user": {"id": self.organizer_user_id, "displayName": "Org"}},
                    "upn": "organizer@example.org",
                },
                "attendees": attendees,
            },
            "joinMeetingIdSettings": {
                "isPasscodeRequired": True,
                "joinMeetingId": "1234567890",
                "passcode": "aB3dE",
            },
            "lobbyBypassSettings": body.get(
                "lobbyBypassSettings", {"scope": "organization", "isDialInBypassEnabled": True}
            ),
            "audioConferencing": {
                "tollNumber": "+44 20 3443 8850",
                "tollFreeNumber": None,
                self.conference_id_key: conference_id,
                "dialinUrl": "https://dialin.teams.example/",
            },
        }
        self.meetings[meeting_id] = meeting
        return web.json_response(meeting, status=201)

    async def _list_reports(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        meeting_id = request.match_info["meeting"]
        if meeting_id not in self.meetings:
            return _graph_error("NotFound", 404)
        summaries = [
            {key: value for key, value in report.items() if key != "attendanceRecords"}
            for report in self.reports.get(meeting_id, [])
        ]
        return web.json_response({"@odata.context": "fake", "value": summaries})

    async def _get_report(self, request: web.Request) -> web.Response:
        refused = await self._guard(request)
        if refused is not None:
            return refused
        self.report_requests.append(dict(request.query))
        reports = self.reports.get(request.match_info["meeting"], [])
        report = next((r for r in reports if r["id"] == request.match_info["report"]), None)
        if report is None:
            return _graph_error("NotFound", 404)
        if request.query.get("$expand") != "attendanceRecords":
            report = {key: value for key, value in report.items() if key != "attendanceRecords"}
        return web.json_response(report)

    async def _release_hung(self, app: web.Application) -> None:
        self._released.set()


def _graph_error(code: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": code}}, status=status)
