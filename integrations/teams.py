"""Microsoft Teams meetings through Microsoft Graph ``onlineMeetings`` (client credentials).

Decisions (see PROVIDERS.md section 4):
- Meetings are created for one organiser account (an application access policy must
  allow the app to act for it) with a generic subject. That account is a service
  account, nobody at the meeting: the mediator is made **co-organiser**
  (``participants.attendees`` with role ``coorganizer``, their UPN from
  ``RoomSpec.host_account``) and the lobby is bypassed only by those invited, which is
  the mediator alone (``scope`` ``invited``, an evolvable value sent with ``Prefer:
  include-unknown-enum-members``); everyone else, dial-in callers included, waits in the
  lobby for the mediator to admit them. Without a host account the lobby is bypassed by
  the organiser only (``organizer``), as before.
- Everyone gets the meeting's ``joinWebUrl``; Teams has no per-person link.
- Graph sends no live join/leave call-backs here. ``attendance`` reads the attendance
  reports after the meeting. Records carry e-mail addresses and display names; neither
  leaves this module. A caller that knows which e-mail belongs to which participant
  may pass ``refs_by_email`` to fill ``participant_ref``; otherwise it stays None.
- Graph offers no "end for everyone" for online meetings, so ``end_room`` does nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from integrations.base import (
    AttendanceKind,
    AttendanceSignal,
    JoinIdentity,
    PhoneEntry,
    ProviderRoom,
    RoomSpec,
    VideoProvider,
)
from integrations.errors import ProviderUnavailable
from integrations.oauth import ClientCredentials, Clock, TokenRequest

PROVIDER = "teams"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Graph takes and returns evolvable enum members (``coorganizer``, ``invited``) only with this.
EVOLVABLE_ENUMS = "include-unknown-enum-members"
_REPORT_BOUNDS: tuple[tuple[AttendanceKind, str], ...] = (
    ("room_started", "meetingStartDateTime"),
    ("room_ended", "meetingEndDateTime"),
)


@dataclass(frozen=True)
class TeamsConfig:
    """An Entra ID app registration, the organiser it acts for, and where Graph lives."""

    tenant_id: str
    client_id: str
    client_secret: str
    organizer_user_id: str
    login_base: str = "https://login.microsoftonline.com"
    graph_base: str = "https://graph.microsoft.com/v1.0"
    timeout_s: float = 10


class TeamsProvider(VideoProvider):
    """Teams online meetings: created ahead of time, attendance read from reports."""

    name = "teams"

    def __init__(
        self, config: TeamsConfig, session: aiohttp.ClientSession, *, clock: Clock = time.monotonic
    ) -> None:
        self._config = config
        self._api = ClientCredentials(
            session,
            TokenRequest(
                url=f"{config.login_base}/{config.tenant_id}/oauth2/v2.0/token",
                form={
                    "client_id": config.client_id,
                    "client_secret": config.client_secret,
                    "scope": GRAPH_SCOPE,
                    "grant_type": "client_credentials",
                },
            ),
            provider=PROVIDER,
            timeout_s=config.timeout_s,
            clock=clock,
        )

    @property
    def _meetings_url(self) -> str:
        organizer = quote(self._config.organizer_user_id, safe="")
        return f"{self._config.graph_base}/users/{organizer}/onlineMeetings"

    async def create_room(self, spec: RoomSpec) -> ProviderRoom:
        """Create the online meeting for ``spec`` and keep its join and dial-in details.

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        body: dict[str, Any] = {
            "subject": spec.title,
            "startDateTime": _graph_time(spec.start),
            "endDateTime": _graph_time(spec.end),
            "lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False},
            "recordAutomatically": False,
        }
        if spec.host_account:
            body["participants"] = {
                "attendees": [{"upn": spec.host_account, "role": "coorganizer"}]
            }
            body["lobbyBypassSettings"]["scope"] = "invited"
        response = await self._api.request(
            "POST", self._meetings_url, json=body, headers={"Prefer": EVOLVABLE_ENUMS}
        )
        meeting = response.body
        if not isinstance(meeting, dict) or "id" not in meeting or "joinWebUrl" not in meeting:
            raise ProviderUnavailable("Graph answered without id/joinWebUrl", provider=PROVIDER)
        audio = meeting.get("audioConferencing") or {}
        conference_id = audio.get("conferenceId") or audio.get("ConferenceId")
        return ProviderRoom(
            provider=PROVIDER,
            room_id=str(meeting["id"]),
            data={"id": str(meeting["id"]), "joinWebUrl": str(meeting["joinWebUrl"])},
            dial_in_number=audio.get("tollNumber") or audio.get("tollFreeNumber"),
            dial_in_pin=str(conference_id) if conference_id else None,
        )

    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Return the meeting's ``joinWebUrl``; the lobby holds everyone but the organiser."""
        return str(room.data["joinWebUrl"])

    def phone_entry(self, room: ProviderRoom) -> PhoneEntry | None:
        """The meeting's audio conferencing: its toll number and conference ID."""
        if not room.dial_in_number or not room.dial_in_pin:
            return None
        number = "+" + "".join(ch for ch in room.dial_in_number if ch.isdigit())
        return PhoneEntry(address=number, digits=f"wwwwww{room.dial_in_pin}#")

    async def attendance(
        self, room: ProviderRoom, *, refs_by_email: Mapping[str, str] | None = None
    ) -> list[AttendanceSignal]:
        """Read every attendance report of the meeting as joined/left signals.

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """
        refs = {email.lower(): ref for email, ref in (refs_by_email or {}).items()}
        reports_url = f"{self._meetings_url}/{quote(room.room_id, safe='')}/attendanceReports"
        signals: list[AttendanceSignal] = []
        for report_id in await self._report_ids(reports_url):
            response = await self._api.request(
                "GET",
                f"{reports_url}/{quote(report_id, safe='')}",
                params={"$expand": "attendanceRecords"},
            )
            report = response.body if isinstance(response.body, dict) else {}
            signals.extend(_signals_from_report(room.room_id, report_id, report, refs))
        return signals

    async def _report_ids(self, url: str) -> list[str]:
        ids: list[str] = []
        next_url: str | None = url
        while next_url:
            response = await self._api.request("GET", next_url)
            page = response.body if isinstance(response.body, dict) else {}
            ids.extend(str(item["id"]) for item in page.get("value", []) if "id" in item)
            next_url = page.get("@odata.nextLink")
        return ids


def _signals_from_report(
    room_id: str, report_id: str, report: Mapping[str, Any], refs: Mapping[str, str]
) -> list[AttendanceSignal]:
    signals: list[AttendanceSignal] = []
    for kind, field in _REPORT_BOUNDS:
        at = _parse_time(report.get(field))
        if at is not None:
            key = f"teams:{room_id}:{report_id}:{kind}"
            signals.append(AttendanceSignal(room_id=room_id, kind=kind, at=at, dedup_key=key))
    for number, record in enumerate(report.get("attendanceRecords") or []):
        identity = record.get("identity") or {}
        email = str(record.get("emailAddress") or "").lower()
        # Record ids can be e-mail addresses: only a digest goes into dedup keys.
        raw_id = record.get("id") or identity.get("id") or email or f"record{number}"
        who = hashlib.sha256(str(raw_id).encode()).hexdigest()[:16]
        ref = refs.get(email) if email else None
        for interval in record.get("attendanceIntervals") or []:
            for kind, field in (("joined", "joinDateTime"), ("left", "leaveDateTime")):
                at = _parse_time(interval.get(field))
                if at is None:
                    continue
                key = f"teams:{room_id}:{report_id}:{who}:{interval[field]}:{kind}"
                signal = AttendanceSignal(
                    room_id=room_id, kind=kind, at=at, dedup_key=key, participant_ref=ref
                )
                signals.append(signal)
    return signals


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
