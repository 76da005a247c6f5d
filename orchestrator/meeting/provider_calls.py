"""Calling the providers: delivering the ``provider_call`` rows the rooms queued.

``provider_queue`` writes a row for each call a change in the room needs; the outbox
dispatcher hands each row to ``ProviderCalls``, which asks the adapter chosen by
``providers.Providers`` and stores what came back: the provider room (made on the
fallback provider when the chosen one stays unavailable), a caucus room, an ended room,
a moved phone call, an ended conference, an attendance report.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.base import AttendanceSignal, PhoneBridge, ProviderRoom, RoomSpec
from integrations.errors import ProviderAuthError, ProviderRejected, ProviderUnavailable
from orchestrator.core.db import Database
from orchestrator.core.metrics import Metrics
from orchestrator.core.models import Meeting, MeetingStatus, OutboxMessage, Room
from orchestrator.core.settings import Settings
from orchestrator.meeting import phone_lines, provider_queue
from orchestrator.meeting.attendance_signals import record_signals, refs_by_email
from orchestrator.meeting.providers import (
    ROOM_TITLE,
    TWILIO_STATUS_PATH,
    Providers,
    room_from_dict,
    room_to_dict,
)
from orchestrator.meeting.transitions import note_on_timeline


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
            "bridge_line": self.bridge_line,
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
        """Note on the case timeline, in a transaction of its own."""
        async with self.db.write() as session:
            self._entry(session, meeting, kind, summary, **details)

    def _entry(
        self,
        session: AsyncSession,
        meeting: Meeting,
        kind: str,
        summary: str,
        *,
        at: datetime | None = None,
        **details: Any,
    ) -> None:
        """Note on the case timeline in ``session``: the system's entry, made now or ``at``."""
        note_on_timeline(
            session,
            meeting,
            kind=kind,
            summary=summary,
            at=at or self.clock(),
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
            host_account=await phone_lines.host_account(self.db, meeting),
        )
        primary = str(message.payload.get("provider") or self.settings.video_provider)
        name, created = await self._make_room(message, meeting, spec, primary=primary)
        self._gauge(name, True)
        await self._store_room(meeting, room, created, name=name, moved=moved_to is not None)

    async def _make_room(
        self, message: OutboxMessage, meeting: Meeting, spec: RoomSpec, *, primary: str
    ) -> tuple[str, ProviderRoom]:
        """Make the room; return the name of the provider it is on, and the room.

        On ``primary``, or on the fallback once ``primary`` has been unavailable for
        ``provider_fallback_after_minutes`` since the row was queued.
        """
        try:
            return primary, await self.providers.video(primary).create_room(spec)
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
        created = await self.providers.video(fallback).create_room(
            replace(spec, pin=_pin_for(fallback, spec.pin))
        )
        await self._note(
            meeting,
            "meeting.room_fallback",
            f"The {primary} video provider was unavailable; the room is on {fallback}",
            provider=fallback,
        )
        return fallback, created

    async def _store_room(
        self, meeting: Meeting, room: Room, created: ProviderRoom, *, name: str, moved: bool
    ) -> None:
        """Keep the new provider room on the meeting, and queue what follows from it."""
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
            if moved:  # open caucus rooms follow their new parent
                await provider_queue.queue_caucus_rooms(
                    session, meeting=fresh_meeting, now=self.clock()
                )
            self._entry(session, meeting, "meeting.room_ready", f"Video room ready on {name}")
            if provider_queue.reads_attendance_report(fresh_meeting):
                # For a meeting that simply runs out, with nobody pressing "end" here.
                await provider_queue.queue_attendance_read(
                    session,
                    meeting=fresh_meeting,
                    after="scheduled_end",
                    due=fresh_meeting.end_at + provider_queue.ATTENDANCE_REPORT_WAITS[0],
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

    async def bridge_line(self, message: OutboxMessage) -> None:
        status_url = self.settings.base_url + TWILIO_STATUS_PATH
        await phone_lines.place_bridge_line(
            self.db, self.providers, message, status_callback_url=status_url
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
        ``provider_queue.ATTENDANCE_REPORT_WAITS`` (a new row, due then: waiting for Graph to
        write its report is not a failure to retry); after the last wait the case timeline
        says that none came. Errors from the provider go to the dispatcher like any other.
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
                    self._entry(
                        session,
                        meeting,
                        "meeting.attendance_read",
                        f"Attendance read from {room.provider}: {added} joins and leaves",
                        provider=room.provider,
                        events=added,
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
        if look < len(provider_queue.ATTENDANCE_REPORT_WAITS):
            await provider_queue.queue_attendance_read(
                session,
                meeting=meeting,
                after=str(payload.get("after", "session_end")),
                due=now + provider_queue.ATTENDANCE_REPORT_WAITS[look],
                now=now,
                look=look,
            )
            return
        self._entry(
            session,
            meeting,
            "meeting.attendance_missing",
            f"The {provider} video provider published no attendance report; "
            "attendance is as recorded here",
            at=now,
            provider=provider,
        )


def _report_wanted(meeting: Meeting, payload: Mapping[str, Any]) -> bool:
    """False when the read a row was queued for is moot.

    The meeting was cancelled, or moved (a new provider meeting, read by the rows queued
    with its room), or, for the rows queued for the scheduled end, the mediator ended the
    session here: the rows queued then read the report.
    """
    if meeting.status is MeetingStatus.cancelled or not provider_queue.reads_attendance_report(
        meeting
    ):
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
