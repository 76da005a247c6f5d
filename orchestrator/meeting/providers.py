"""Video and phone providers chosen by configuration, built once per app and reused.

A short name (``jitsi``, ``bbb``, ``zoom``, ``teams``; ``twilio`` for the phone bridge)
picks a built-in adapter configured from its block of settings. Anything else must be a
dotted ``package.module:Class`` whose constructor takes ``(settings, http)``. The
adapters never see the orchestrator: each gets its own config dataclass here.

Stored room data is kept as a plain dict (``room_to_dict``) so join URLs are rebuilt at
click time from the database alone, with no remote call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.base import AttendanceSignal, PhoneBridge, ProviderRoom, RoomSpec, VideoProvider
from integrations.errors import (
    PluginLoadError,
    ProviderAuthError,
    ProviderRejected,
    ProviderUnavailable,
)
from integrations.loader import load_plugin
from orchestrator.core.db import Database
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.metrics import Metrics
from orchestrator.core.models import Meeting, MeetingStatus, OutboxMessage, Room
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.meeting import rooms
from orchestrator.meeting.attendance_signals import record_signals, refs_by_email

VIDEO_BUILTINS = {
    "jitsi": "integrations.jitsi:JitsiProvider",
    "bbb": "integrations.bbb:BigBlueButtonProvider",
    "zoom": "integrations.zoom:ZoomProvider",
    "teams": "integrations.teams:TeamsProvider",
}
PHONE_BUILTINS = {"twilio": "integrations.twilio_bridge:TwilioBridge"}
ROOM_TITLE = "Mediation meeting"  # generic: nothing about the case reaches a provider

# Hook paths the providers call us on (relative to settings.base_url).
BBB_CALLBACK_PATH = "/hooks/bbb/events"
TWILIO_VOICE_PATH = "/hooks/twilio/voice"
TWILIO_PIN_PATH = "/hooks/twilio/pin"
TWILIO_STATUS_PATH = "/hooks/twilio/status"


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _require(settings: Settings, name: str, *fields: str) -> None:
    missing = [f"ORCH_{f.upper()}" for f in fields if not getattr(settings, f)]
    if missing:
        raise PluginLoadError(f"the {name} provider needs " + ", ".join(missing))


def _jitsi(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.jitsi import JitsiConfig, JitsiProvider

    token = _secret(settings.jitsi_event_sync_token)
    return JitsiProvider(
        JitsiConfig(
            base_url=settings.jitsi_base_url,
            app_id=settings.jitsi_app_id,
            app_secret=_secret(settings.jitsi_app_secret) or None,
            audience=settings.jitsi_audience,
            event_sync_header_value=f"Bearer {token}" if token else None,
            muc_domain=settings.jitsi_muc_domain,
            dial_in_number=settings.jitsi_dial_in_number,
        ),
        http,
    )


def _bbb(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.bbb import BbbConfig, BigBlueButtonProvider

    _require(settings, "bbb", "bbb_shared_secret")
    return BigBlueButtonProvider(
        BbbConfig(
            base_url=settings.bbb_base_url,
            shared_secret=_secret(settings.bbb_shared_secret),
            checksum_algorithm=settings.bbb_checksum_algorithm,
            callback_url=settings.base_url + BBB_CALLBACK_PATH,
            webhook_bearer=settings.bbb_webhook_bearer,
        ),
        http,
    )


def _zoom(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.zoom import ZoomConfig, ZoomProvider

    _require(
        settings,
        "zoom",
        "zoom_account_id",
        "zoom_client_id",
        "zoom_client_secret",
        "zoom_webhook_secret_token",
    )
    return ZoomProvider(
        ZoomConfig(
            account_id=settings.zoom_account_id or "",
            client_id=settings.zoom_client_id or "",
            client_secret=_secret(settings.zoom_client_secret),
            webhook_secret_token=_secret(settings.zoom_webhook_secret_token),
            user_id=settings.zoom_user_id,
            oauth_url=settings.zoom_oauth_url,
            api_base=settings.zoom_api_base,
            timezone=settings.timezone,
        ),
        http,
    )


def _teams(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.teams import TeamsConfig, TeamsProvider

    _require(
        settings,
        "teams",
        "teams_tenant_id",
        "teams_client_id",
        "teams_client_secret",
        "teams_organizer_user_id",
    )
    return TeamsProvider(
        TeamsConfig(
            tenant_id=settings.teams_tenant_id or "",
            client_id=settings.teams_client_id or "",
            client_secret=_secret(settings.teams_client_secret),
            organizer_user_id=settings.teams_organizer_user_id or "",
            login_base=settings.teams_login_base,
            graph_base=settings.teams_graph_base,
        ),
        http,
    )


def _twilio(settings: Settings, http: aiohttp.ClientSession) -> PhoneBridge:
    from integrations.twilio_bridge import TwilioBridge, TwilioConfig

    _require(settings, "twilio", "twilio_account_sid", "twilio_auth_token", "phone_dial_in_number")
    return TwilioBridge(
        TwilioConfig(
            account_sid=settings.twilio_account_sid or "",
            auth_token=_secret(settings.twilio_auth_token),
            phone_number=settings.phone_dial_in_number or "",
            api_base=settings.twilio_api_base,
        ),
        http,
    )


_VIDEO_FACTORIES: Mapping[str, Callable[[Settings, aiohttp.ClientSession], VideoProvider]] = {
    "jitsi": _jitsi,
    "bbb": _bbb,
    "zoom": _zoom,
    "teams": _teams,
}


def build_video(name: str, settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    """Build the video provider ``name``. Raises PluginLoadError when it cannot be built."""
    factory = _VIDEO_FACTORIES.get(name)
    if factory is not None:
        try:
            return factory(settings, http)
        except ValueError as exc:
            raise PluginLoadError(f"the {name} provider is misconfigured: {exc}") from exc
    cls: Any = load_plugin("video", name, VIDEO_BUILTINS, VideoProvider)
    return cls(settings, http)  # type: ignore[no-any-return]


def build_phone(name: str, settings: Settings, http: aiohttp.ClientSession) -> PhoneBridge:
    """Build the phone bridge ``name``. Raises PluginLoadError when it cannot be built."""
    if name == "twilio":
        return _twilio(settings, http)
    cls: Any = load_plugin("phone", name, PHONE_BUILTINS, PhoneBridge)
    return cls(settings, http)  # type: ignore[no-any-return]


class Providers:
    """The providers of one app, built on first use and kept for its lifetime."""

    def __init__(self, settings: Settings, http: Callable[[], aiohttp.ClientSession]) -> None:
        self.settings = settings
        self._http = http
        self._video: dict[str, VideoProvider] = {}
        self._phone: PhoneBridge | None = None

    def video_names(self) -> list[str]:
        """The providers this service may use: the chosen one, then the fallback."""
        names = [self.settings.video_provider]
        fallback = self.settings.fallback_video_provider
        if fallback and fallback not in names:
            names.append(fallback)
        return names

    def video(self, name: str | None = None) -> VideoProvider:
        """The video provider ``name`` (default: the configured one)."""
        name = name or self.settings.video_provider
        provider = self._video.get(name)
        if provider is None:
            provider = build_video(name, self.settings, self._http())
            self._video[name] = provider
        return provider

    def phone(self) -> PhoneBridge:
        """The configured phone bridge. Raises PluginLoadError when none is configured."""
        if not self.settings.phone_bridge:
            raise PluginLoadError("no phone bridge is configured (ORCH_PHONE_BRIDGE)")
        if self._phone is None:
            self._phone = build_phone(self.settings.phone_bridge, self.settings, self._http())
        return self._phone

    def check_video(self, name: str) -> None:
        """Refuse (ValidationFailed) a provider that is not configured or cannot be built."""
        if name not in self.video_names() and name not in VIDEO_BUILTINS:
            raise ValidationFailed(f"unknown video provider {name!r}", details={"provider": name})
        try:
            self.video(name)
        except PluginLoadError as exc:
            raise ValidationFailed(str(exc), details={"provider": name}) from None


def room_to_dict(room: ProviderRoom) -> dict[str, Any]:
    """The stored form of a provider room."""
    return {
        "provider": room.provider,
        "room_id": room.room_id,
        "data": dict(room.data),
        "dial_in_number": room.dial_in_number,
        "dial_in_pin": room.dial_in_pin,
    }


def room_from_dict(stored: Mapping[str, Any]) -> ProviderRoom:
    """A provider room back from its stored form."""
    return ProviderRoom(
        provider=str(stored["provider"]),
        room_id=str(stored["room_id"]),
        data=dict(stored.get("data") or {}),
        dial_in_number=stored.get("dial_in_number"),
        dial_in_pin=stored.get("dial_in_pin"),
    )


# ---------------------------------------------------------------------------- outbox


class ProviderCalls:
    """Delivers ``provider_call`` outbox rows: create rooms and caucus rooms, end, move calls,
    end phone conferences, read attendance reports.

    Runs with no transaction open while it talks to the provider, then stores the result.
    ProviderUnavailable is retried by the dispatcher with backoff; once the room has waited
    ``provider_fallback_after_minutes`` the fallback provider is used instead, and the join
    links keep working because they are ours. ProviderAuthError stops (the row is marked
    failed), with a timeline entry and the dependency gauge down so someone is alerted.
    """

    def __init__(
        self,
        *,
        db: Database,
        providers: Providers,
        settings: Settings,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.providers = providers
        self.settings = settings
        self.clock = clock
        self.metrics = metrics

    async def __call__(self, message: OutboxMessage) -> int | None:
        action = str(message.payload.get("action", ""))
        handler = {
            "create_room": self.create_room,
            "create_caucus": self.create_caucus,
            "end_room": self.end_room,
            "move_call": self.move_call,
            "end_conference": self.end_conference,
            "fetch_attendance": self.fetch_attendance,
        }.get(action)
        if handler is None:
            raise ProviderRejected(f"unknown provider call {action!r}")
        await handler(message)
        return None

    def _gauge(self, name: str, up: bool) -> None:
        if self.metrics is not None:
            self.metrics.dependency_up.labels(f"video:{name}").set(1 if up else 0)

    async def _load(self, message: OutboxMessage) -> tuple[Meeting, Room] | None:
        async with self.db.read() as session:
            meeting = await session.get(Meeting, uuid.UUID(message.payload["meeting_id"]))
            room = await session.get(Room, uuid.UUID(message.payload["room_id"]))
        if meeting is None or room is None or meeting.status is MeetingStatus.cancelled:
            return None
        return meeting, room

    async def _note(self, meeting: Meeting, kind: str, summary: str, **details: Any) -> None:
        async with self.db.write() as session:
            add_timeline(
                session,
                case_id=meeting.case_id,
                meeting_id=meeting.id,
                kind=kind,
                summary=summary,
                at=self.clock(),
                actor="system",
                details=details or None,
            )

    async def create_room(self, message: OutboxMessage) -> None:
        loaded = await self._load(message)
        if loaded is None:
            return
        meeting, room = loaded
        if int(message.payload.get("sequence", meeting.sequence)) != meeting.sequence:
            return  # the meeting moved since; a newer row creates its room
        moved_to = message.payload.get("room_key")
        if moved_to is not None and moved_to != meeting.room_key:
            return  # the room moved again since; a newer row creates it
        spec = RoomSpec(
            room_key=meeting.room_key,
            title=ROOM_TITLE,
            start=meeting.start_at,
            end=meeting.end_at,
            pin=meeting.dial_in_pin,
            lobby=True,
        )
        primary = str(message.payload.get("provider") or self.settings.video_provider)
        name = primary
        try:
            created = await self.providers.video(primary).create_room(spec)
        except ProviderAuthError as exc:
            self._gauge(primary, False)
            await self._note(
                meeting,
                "meeting.room_failed",
                f"The {primary} video provider refused our credentials; the room was not made",
                provider=primary,
            )
            raise exc
        except ProviderUnavailable:
            self._gauge(primary, False)
            fallback = self.settings.fallback_video_provider
            deadline = message.created_at + timedelta(
                minutes=self.settings.provider_fallback_after_minutes
            )
            if not fallback or fallback == primary or self.clock() < deadline:
                raise
            name = fallback
            created = await self.providers.video(fallback).create_room(
                replace(spec, pin=_pin_for(fallback, spec.pin))
            )
            await self._note(
                meeting,
                "meeting.room_fallback",
                f"The {primary} video provider was unavailable; the room is on {fallback}",
                provider=fallback,
            )
        self._gauge(name, True)
        stored = room_to_dict(created)
        async with self.db.write() as session:
            fresh_meeting = await session.get(Meeting, meeting.id)
            fresh_room = await session.get(Room, room.id)
            if fresh_meeting is None or fresh_room is None:
                return
            # The joint room's provider room is the meeting's (its Room row keeps only the
            # provider's id of it, for call-backs): one copy, decision record 012.
            fresh_room.provider_room_id = created.room_id.lower()
            fresh_meeting.provider = name
            fresh_meeting.provider_room = stored
            if created.dial_in_pin and not fresh_meeting.dial_in_pin:
                fresh_meeting.dial_in_pin = created.dial_in_pin[:12]
            fresh_meeting.updated_at = self.clock()
            if moved_to is not None:  # open caucus rooms follow their new parent
                await rooms.queue_caucus_rooms(session, meeting=fresh_meeting, now=self.clock())
            add_timeline(
                session,
                case_id=meeting.case_id,
                meeting_id=meeting.id,
                kind="meeting.room_ready",
                summary=f"Video room ready on {name}",
                at=self.clock(),
                actor="system",
            )
            if rooms.reads_attendance_report(fresh_meeting):
                # For a meeting that simply runs out, with nobody pressing "end" here.
                await rooms.queue_attendance_read(
                    session,
                    meeting=fresh_meeting,
                    after="scheduled_end",
                    due=fresh_meeting.end_at + rooms.ATTENDANCE_REPORT_WAITS[0],
                    now=self.clock(),
                )

    async def create_caucus(self, message: OutboxMessage) -> None:
        loaded = await self._load(message)
        if loaded is None:
            return
        meeting, room = loaded
        if not meeting.provider_room or room.closed_at is not None:
            return
        if room.provider_room:
            return  # made already (a repeated row)
        parent = room_from_dict(meeting.provider_room)
        spec = RoomSpec(
            room_key=room.room_key,
            title=ROOM_TITLE,
            start=meeting.start_at,
            end=meeting.end_at,
            lobby=False,
            parent=parent,
        )
        created = await self.providers.video(parent.provider).create_caucus(parent, spec)
        async with self.db.write() as session:
            fresh = await session.get(Room, room.id)
            if fresh is not None:
                fresh.provider_room = room_to_dict(created)
                fresh.provider_room_id = created.room_id.lower()

    async def end_room(self, message: OutboxMessage) -> None:
        """End the room's provider room, or the one it had before it moved (in the row)."""
        moved_from = message.payload.get("provider_room")
        if moved_from:
            stored = room_from_dict(moved_from)
        else:
            async with self.db.read() as session:
                room = await session.get(Room, uuid.UUID(message.payload["room_id"]))
                if room is None:
                    return
                meeting = await session.get(Meeting, room.meeting_id)
            found = (
                room.provider_room if room.kind == "caucus" else meeting and meeting.provider_room
            )
            if not found:
                return
            stored = room_from_dict(found)
        await self.providers.video(stored.provider).end_room(stored)

    async def move_call(self, message: OutboxMessage) -> None:
        bridge = self.providers.phone()
        payload = message.payload
        await bridge.move_call(
            str(payload["call_id"]),
            str(payload["conference"]),
            **_move_kwargs(bridge, self.settings, str(payload.get("label", ""))),
        )

    async def end_conference(self, message: OutboxMessage) -> None:
        """End a room's phone conference, unless the bridge has reported it over already.

        Its end call-back clears the room's conference, so a repeated delivery (or a
        conference that ended by itself) sends nothing.
        """
        sid = str(message.payload["conference_sid"])
        async with self.db.read() as session:
            room = await session.get(Room, uuid.UUID(message.payload["room_id"]))
        if room is None or room.conference_sid != sid:
            return
        await self.providers.phone().end_conference(sid)

    async def fetch_attendance(self, message: OutboxMessage) -> None:
        """Read the meeting's attendance report into its record, or look again later.

        A report that has not appeared yet is looked for again after the next wait of
        ``rooms.ATTENDANCE_REPORT_WAITS`` (a new row, due then: waiting for Graph to write
        its report is not a failure to retry); after the last wait the case timeline says
        that none came. Errors from the provider go to the dispatcher like any other.
        """
        payload = message.payload
        async with self.db.read() as session:
            meeting = await session.get(Meeting, uuid.UUID(payload["meeting_id"]))
            if meeting is None or meeting.provider_room is None:
                return
            if not _report_wanted(meeting, payload):
                return
            refs = await refs_by_email(session, meeting)
        room = room_from_dict(meeting.provider_room)
        signals = await self._read_report(meeting, room, refs)
        if signals is None:
            return
        people = [s for s in signals if s.kind in ("joined", "left")]
        async with self.db.write() as session:
            if people:
                added = await record_signals(
                    session, people, source=room.provider, settings=self.settings
                )
                if added:
                    add_timeline(
                        session,
                        case_id=meeting.case_id,
                        meeting_id=meeting.id,
                        kind="meeting.attendance_read",
                        summary=f"Attendance read from {room.provider}: {added} joins and leaves",
                        at=self.clock(),
                        actor="system",
                        details={"provider": room.provider, "events": added},
                    )
                return
            await self._look_again(session, meeting, provider=room.provider, payload=payload)

    async def _read_report(
        self, meeting: Meeting, room: ProviderRoom, refs: Mapping[str, str]
    ) -> list[AttendanceSignal] | None:
        """The provider's report as signals; None when the provider keeps no reports."""
        provider = self.providers.video(room.provider)
        try:
            signals = await provider.attendance(room, refs_by_email=refs)
        except ProviderAuthError:
            self._gauge(room.provider, False)
            await self._note(
                meeting,
                "meeting.attendance_failed",
                f"The {room.provider} video provider refused our credentials; "
                "attendance was not read",
                provider=room.provider,
            )
            raise
        except ProviderUnavailable:
            self._gauge(room.provider, False)
            raise
        if signals is not None:
            self._gauge(room.provider, True)
        return signals

    async def _look_again(
        self, session: AsyncSession, meeting: Meeting, *, provider: str, payload: Mapping[str, Any]
    ) -> None:
        """Queue the next read of a report that has not appeared, or record that none came."""
        now = self.clock()
        look = int(payload.get("look", 0)) + 1
        if look < len(rooms.ATTENDANCE_REPORT_WAITS):
            await rooms.queue_attendance_read(
                session,
                meeting=meeting,
                after=str(payload.get("after", "session_end")),
                due=now + rooms.ATTENDANCE_REPORT_WAITS[look],
                now=now,
                look=look,
            )
            return
        add_timeline(
            session,
            case_id=meeting.case_id,
            meeting_id=meeting.id,
            kind="meeting.attendance_missing",
            summary=f"The {provider} video provider published no attendance report; "
            "attendance is as recorded here",
            at=now,
            actor="system",
            details={"provider": provider},
        )


def _report_wanted(meeting: Meeting, payload: Mapping[str, Any]) -> bool:
    """False when the read a row was queued for is moot.

    The meeting was cancelled, or moved (a new provider meeting, read by the rows queued
    with its room), or, for the rows queued for the scheduled end, the mediator ended the
    session here: the rows queued then read the report.
    """
    if meeting.status is MeetingStatus.cancelled or not rooms.reads_attendance_report(meeting):
        return False
    if int(payload.get("sequence", -1)) != meeting.sequence:
        return False
    return not (payload.get("after") == "scheduled_end" and meeting.status is MeetingStatus.closed)


def _pin_for(provider: str, pin: str | None) -> str | None:
    """BigBlueButton takes only five-digit voice bridges; others take any PIN."""
    if provider == "bbb" and pin is not None and not (len(pin) == 5 and pin[0] != "0"):
        return None
    return pin


def _move_kwargs(bridge: PhoneBridge, settings: Settings, label: str) -> dict[str, Any]:
    from integrations.twilio_bridge import TwilioBridge

    if isinstance(bridge, TwilioBridge):
        return {"label": label, "status_callback_url": settings.base_url + TWILIO_STATUS_PATH}
    return {}
