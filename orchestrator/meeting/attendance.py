"""Attendance: who came, when, for how long and how, merged from every source.

Facts arrive as ``ParticipantEvent`` rows from four places: join-link clicks, provider
call-backs (video), the phone bridge, and the mediator's own marks. A call-back carries a
``dedup_key``; the same fact delivered twice is stored once (the column is unique and the
insert skips a duplicate), so retries never double-count. The summary is derived from
the rows each time: nothing is kept that could drift from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from orchestrator.cases import links
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.models import (
    Channel,
    Link,
    LinkScope,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    MeetingTransition,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    PartyRole,
    Room,
    time_ordered_id,
)
from orchestrator.meeting.rooms import PRESENT, check_move, current_states, events_of

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
        current = current_states(await events_of(session, meeting.id), [party])[party.id]
        check_move(current.status, status)  # the person's table (rooms.PARTICIPANT_TRANSITIONS)
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
    events = await events_of(session, meeting.id)
    parties = list(
        (
            await session.scalars(
                select(Party)
                .where(col(Party.case_id) == meeting.case_id)
                .order_by(col(Party.created_at))
            )
        ).all()
    )
    rooms = {
        room.id: room.label
        for room in (
            await session.scalars(select(Room).where(col(Room.meeting_id) == meeting.id))
        ).all()
    }
    ended = await session.scalar(
        select(MeetingTransition.at)
        .where(
            col(MeetingTransition.meeting_id) == meeting.id,
            col(MeetingTransition.to_status) == MeetingStatus.closed,
        )
        .limit(1)
    )
    until = min(now, ended) if ended is not None else now
    by_party: dict[uuid.UUID, list[ParticipantEvent]] = {}
    unidentified = 0
    for event in events:
        if event.party_id is None:
            if event.mediator_id is None:
                unidentified += 1
            continue
        by_party.setdefault(event.party_id, []).append(event)
    out = []
    for party in parties:
        mine = by_party.get(party.id, [])
        if party.removed_at is not None and not mine:
            continue
        status = mine[-1].status if mine else ParticipantStatus.not_signed_in
        joined = next((e.at for e in mine if e.status in PRESENT), None)
        left = (
            mine[-1].at
            if mine
            and status
            in (
                ParticipantStatus.left,
                ParticipantStatus.disconnected,
            )
            else None
        )
        channels = [e.channel for e in mine if e.channel is not None]
        seconds = _seconds_present(mine, until)
        out.append(
            PartyAttendance(
                party_id=party.id,
                role=party.role.value,
                status=status,
                joined_at=joined,
                left_at=left,
                seconds_present=seconds,
                channel=channels[-1] if channels else None,
                attended=joined is not None,
                events=[
                    EventView(
                        at=e.at,
                        kind=event_kind(e),
                        status=e.status,
                        source=e.source,
                        channel=e.channel,
                        room=rooms.get(e.room_id) if e.room_id else None,
                        note=e.note if e.source == "mediator" else None,
                    )
                    for e in mine
                ],
            )
        )
    return AttendanceSummary(meeting_id=meeting.id, parties=out, unidentified_events=unidentified)


# ---------------------------------------------------------------------------- join clicks


class RoomNotReady(InvalidState):
    """The provider room has not been created yet (the outbox is still working on it)."""

    code = "room_not_ready"


@dataclass(frozen=True)
class JoinTarget:
    """What a verified join click needs to send the person to their own room."""

    meeting_id: uuid.UUID
    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    participant_ref: str
    display_name: str
    provider_room: dict[str, Any]
    click: dict[str, object]  # the event row to record before answering


_CLICK_QUERY = (
    sa.select(
        col(Link.scope),
        col(Link.case_id),
        col(Link.party_id),
        col(Link.mediator_id),
        col(Link.meeting_sequence),
        col(Link.expires_at),
        col(Link.revoked_at),
        col(Meeting.id),
        col(Meeting.case_id),
        col(Meeting.status),
        col(Meeting.sequence),
        col(Meeting.start_at),
        col(Meeting.end_at),
        col(Meeting.mode),
        col(Meeting.provider_room),
        col(Party.case_id),
        col(Party.removed_at),
        col(Party.name),
        col(Party.role),
        col(Party.participant_ref),
        col(Mediator.name),
    )
    .select_from(Link)
    .join(Meeting, col(Meeting.id) == col(Link.meeting_id))
    .outerjoin(Party, col(Party.id) == col(Link.party_id))
    .outerjoin(Mediator, col(Mediator.id) == col(Link.mediator_id))
    .where(col(Link.id) == sa.bindparam("link_id"))
)


def display_name(name: str, role: str) -> str:
    """What the provider shows the mediator: a first name and a role, nothing more."""
    first = (name.split() or ["Guest"])[0][:40]
    return f"{first} ({role.replace('_', ' ')})"


def mediator_ref(mediator_id: uuid.UUID) -> str:
    """The opaque participant id the mediator is known by to providers."""
    return "m" + mediator_id.hex


_CAUCUS_QUERY = sa.select(col(Room.party_ids), col(Room.provider_room)).where(
    col(Room.meeting_id) == sa.bindparam("meeting_id"),
    col(Room.kind) == "caucus",
    col(Room.closed_at).is_(None),
)


@dataclass(frozen=True)
class JoinFacts:
    """What the database says about one join link, before any time-dependent check.

    Read by ``load_join_facts`` with one indexed query (plus the open caucus rooms while a
    session runs); ``JoinFacts.target`` then asks ``links.verdict``, the rule
    ``links.resolve`` applies too. Kept by the click path's short-lived cache
    (orchestrator.meeting.link_cache): nothing here depends on ``now``.
    """

    link: links.LinkState
    party: links.PartyState | None
    meeting: links.MeetingState
    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    meeting_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    mode: MeetingMode
    provider_room: dict[str, Any] | None  # the caucus room when the party is in one
    participant_ref: str
    display_name: str

    def closes_at(self, *, grace: timedelta) -> datetime:
        """When the meeting's join window closes (as ``joining.join_closes_at``)."""
        return self.end_at + grace

    def target(self, *, now: datetime, opens_before: timedelta) -> JoinTarget:
        """The room this click goes to, or LinkInvalid / InvalidState / RoomNotReady."""
        party_id = self.party_id
        links.ensure_live(links.verdict(self.link, party=self.party, meeting=self.meeting, now=now))
        if self.mode not in (MeetingMode.video, MeetingMode.hybrid):
            raise InvalidState("this meeting has no video room")
        if now < self.start_at - opens_before:
            raise InvalidState("the video room is not open yet")
        if self.meeting.status is MeetingStatus.closed and party_id is not None:
            raise InvalidState("this meeting has ended")
        if not self.provider_room:
            raise RoomNotReady("the video room is being prepared; please try again in a minute")
        click = event_row(
            meeting_id=self.meeting_id,
            party_id=party_id,
            mediator_id=self.mediator_id if party_id is None else None,
            status=ParticipantStatus.joining,
            source="link",
            channel=Channel.video,
            at=now,
        )
        return JoinTarget(
            meeting_id=self.meeting_id,
            party_id=party_id,
            mediator_id=self.mediator_id if party_id is None else None,
            participant_ref=self.participant_ref,
            display_name=self.display_name,
            provider_room=self.provider_room,
            click=click,
        )


async def load_join_facts(connection: AsyncConnection, *, link_id: str) -> JoinFacts:
    """One indexed read (Core only) of a join link, its meeting, party and caucus room.

    Reads what ``links.resolve`` reads without the ORM, because this is the busiest path of
    the service. Raises LinkInvalid only when the link does not exist (or is of another
    scope).
    """
    row = (await connection.execute(_CLICK_QUERY, {"link_id": link_id})).first()
    if row is None or row[0] != LinkScope.join_room:
        raise links.refusal(links.Verdict.unknown)
    (
        _scope,
        link_case,
        party_id,
        mediator_id,
        link_sequence,
        expires_at,
        revoked_at,
        meeting_id,
        meeting_case,
        status,
        sequence,
        start_at,
        end_at,
        mode,
        provider_room,
        party_case,
        party_removed,
        party_name,
        party_role,
        party_ref,
        mediator_name,
    ) = row
    if party_id is not None and status in (MeetingStatus.in_session, MeetingStatus.paused):
        caucuses = await connection.execute(_CAUCUS_QUERY, {"meeting_id": meeting_id})
        for members, caucus_room in caucuses.all():
            if str(party_id) in (members or []) and caucus_room:
                provider_room = caucus_room
    if party_id is not None:
        ref = str(party_ref or "")
        name = display_name(party_name or "", PartyRole(party_role).value if party_role else "")
    elif mediator_id is not None:
        ref = mediator_ref(mediator_id)
        name = display_name(mediator_name or "Mediator", "mediator")
    else:
        raise links.refusal(links.Verdict.unknown)
    return JoinFacts(
        link=links.LinkState(
            case_id=link_case,
            revoked=revoked_at is not None,
            expires_at=expires_at,
            party_id=party_id,
            meeting_id=meeting_id,
            meeting_sequence=link_sequence,
        ),
        # The outer join gives no case when the party's row is gone.
        party=(
            links.PartyState(case_id=party_case, removed=party_removed is not None)
            if party_case is not None
            else None
        ),
        meeting=links.MeetingState(
            case_id=meeting_case, status=MeetingStatus(status), sequence=sequence
        ),
        party_id=party_id,
        mediator_id=mediator_id,
        meeting_id=meeting_id,
        start_at=start_at,
        end_at=end_at,
        mode=MeetingMode(mode),
        provider_room=provider_room,
        participant_ref=ref,
        display_name=name,
    )
