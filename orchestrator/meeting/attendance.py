"""Attendance: who came, when, for how long and how, merged from every source.

Facts arrive as ``ParticipantEvent`` rows from four places: join-link clicks, provider
call-backs (video), the phone bridge, and the mediator's own marks. A call-back carries a
``dedup_key``; the same fact delivered twice is stored once (the column is unique and the
insert skips a duplicate), so retries never double-count. The summary is derived from
the rows each time: nothing is kept that could drift from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import NotFound, ValidationFailed
from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingStatus,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    time_ordered_id,
)
from orchestrator.meeting import rooms, transitions
from orchestrator.meeting.transitions import PRESENT, check_move

EVENT_TABLE = ParticipantEvent.__table__  # type: ignore[attr-defined]

# How each event reads in the attendance list.
_KIND_BY_STATUS = {
    ParticipantStatus.joining: "link_opened",
    ParticipantStatus.in_lobby: "waiting",
    ParticipantStatus.in_session: "joined",
    ParticipantStatus.in_caucus: "moved",
    ParticipantStatus.left: "left",
    ParticipantStatus.disconnected: "disconnected",
    ParticipantStatus.not_signed_in: "not_signed_in",
}


def event_row(
    *,
    meeting_id: uuid.UUID,
    status: ParticipantStatus,
    source: str,
    at: datetime,
    party_id: uuid.UUID | None = None,
    mediator_id: uuid.UUID | None = None,
    room_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    dedup_key: str | None = None,
    call_id: str | None = None,
    note: str | None = None,
) -> dict[str, object]:
    """The column values of one event, for a Core insert (the click path skips the ORM)."""
    return {
        "id": time_ordered_id(),
        "meeting_id": meeting_id,
        "party_id": party_id,
        "mediator_id": mediator_id,
        "status": status,
        "room_id": room_id,
        "channel": channel,
        "source": source,
        "dedup_key": dedup_key[:255] if dedup_key else None,
        "call_id": call_id,
        "note": note,
        "at": at,
    }


def _dialect(executor: AsyncSession | AsyncConnection) -> str:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name
    return executor.bind.dialect.name if executor.bind is not None else "sqlite"


async def append(executor: AsyncSession | AsyncConnection, row: dict[str, object]) -> bool:
    """Store one event; a duplicate ``dedup_key`` is skipped. True when it was new."""
    if row.get("dedup_key") is None:
        await executor.execute(insert(EVENT_TABLE), [row])
        return True
    dialect = _dialect(executor)
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        builder(EVENT_TABLE).values(**row).on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    result = await executor.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark(
    session: AsyncSession,
    *,
    meeting: Meeting,
    party_id: uuid.UUID,
    status: ParticipantStatus,
    now: datetime,
    note: str | None = None,
) -> ParticipantEvent:
    """The mediator's own record of a party's status (it wins as the latest fact)."""
    if meeting.status is MeetingStatus.cancelled:
        raise ValidationFailed("the meeting was cancelled")
    party = await session.get(Party, party_id)
    if party is None or party.case_id != meeting.case_id:
        raise NotFound("party", party_id)
    if status is not ParticipantStatus.not_signed_in:  # "did not attend" corrects the record
        current = rooms.current_states(await rooms.events_of(session, meeting.id), [party])[
            party.id
        ]
        check_move(
            current.status, status
        )  # the person's table (transitions.PARTICIPANT_TRANSITIONS)
    event = ParticipantEvent(
        meeting_id=meeting.id,
        party_id=party.id,
        status=status,
        source="mediator",
        note=(note or "")[:1000] or None,
        at=now,
    )
    session.add(event)
    await session.flush()
    return event


# ---------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class EventView:
    at: datetime
    kind: str
    status: ParticipantStatus
    source: str
    channel: Channel | None
    room: str | None
    note: str | None


@dataclass
class PartyAttendance:
    party_id: uuid.UUID
    role: str
    status: ParticipantStatus
    joined_at: datetime | None
    left_at: datetime | None
    seconds_present: int
    channel: Channel | None
    attended: bool
    events: list[EventView] = field(default_factory=list)


@dataclass
class AttendanceSummary:
    meeting_id: uuid.UUID
    parties: list[PartyAttendance]
    unidentified_events: int = 0


_ROOM_ACTIONS = {
    "admitted": "admitted",
    "moved to caucus": "moved",
    "back to joint room": "moved",
    "session ended": "left",
}


def event_kind(event: ParticipantEvent) -> str:
    """How an event reads: link opened, joined, left, admitted, moved, marked by mediator."""
    if event.source == "mediator":
        return _ROOM_ACTIONS.get(event.note or "", "marked_by_mediator")
    if event.source == "link" and event.status in PRESENT:
        return "link_opened"  # a click of someone let in: it sends them in, a provider sees it
    return _KIND_BY_STATUS[event.status]


def _seconds_present(events: Sequence[ParticipantEvent], until: datetime) -> int:
    total = 0.0
    entered: datetime | None = None
    for event in events:
        if event.status in PRESENT:
            if entered is None:
                entered = event.at
        elif entered is not None:
            total += max(0.0, (event.at - entered).total_seconds())
            entered = None
    if entered is not None:
        total += max(0.0, (until - entered).total_seconds())
    return int(total)


async def summary(session: AsyncSession, *, meeting: Meeting, now: datetime) -> AttendanceSummary:
    """Per party: status, first joined, last left, seconds present, channel, and the events."""
    events = await rooms.events_of(session, meeting.id)
    parties = (
        await session.scalars(
            select(Party)
            .where(col(Party.case_id) == meeting.case_id)
            .order_by(col(Party.created_at))
        )
    ).all()
    labels = {room.id: room.label for room in await rooms.list_rooms(session, meeting.id)}
    ended = await transitions.closed_at(session, meeting.id)
    until = min(now, ended) if ended is not None else now
    by_party, unidentified = _events_by_party(events)
    out = [
        _party_attendance(party, by_party.get(party.id, []), until=until, room_labels=labels)
        for party in parties
        # A party removed from the case is listed only if they had come.
        if party.removed_at is None or party.id in by_party
    ]
    return AttendanceSummary(meeting_id=meeting.id, parties=out, unidentified_events=unidentified)


def _events_by_party(
    events: Sequence[ParticipantEvent],
) -> tuple[dict[uuid.UUID, list[ParticipantEvent]], int]:
    """Each party's events, and how many events no one could be told for (not the mediator)."""
    by_party: dict[uuid.UUID, list[ParticipantEvent]] = {}
    unidentified = 0
    for event in events:
        if event.party_id is None:
            if event.mediator_id is None:
                unidentified += 1
            continue
        by_party.setdefault(event.party_id, []).append(event)
    return by_party, unidentified


def _party_attendance(
    party: Party,
    mine: Sequence[ParticipantEvent],
    *,
    until: datetime,
    room_labels: Mapping[uuid.UUID, str],
) -> PartyAttendance:
    """One party's attendance from their events, counting presence up to ``until``."""
    status = mine[-1].status if mine else ParticipantStatus.not_signed_in
    joined = next((e.at for e in mine if e.status in PRESENT), None)
    gone = status in (ParticipantStatus.left, ParticipantStatus.disconnected)
    channels = [e.channel for e in mine if e.channel is not None]
    return PartyAttendance(
        party_id=party.id,
        role=party.role.value,
        status=status,
        joined_at=joined,
        left_at=mine[-1].at if mine and gone else None,
        seconds_present=_seconds_present(mine, until),
        channel=channels[-1] if channels else None,
        attended=joined is not None,
        events=[
            EventView(
                at=e.at,
                kind=event_kind(e),
                status=e.status,
                source=e.source,
                channel=e.channel,
                room=room_labels.get(e.room_id) if e.room_id else None,
                note=e.note if e.source == "mediator" else None,
            )
            for e in mine
        ],
    )
