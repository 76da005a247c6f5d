"""Running the room: the meeting and participant state machines, lobby, caucus, recall.

Both machines are explicit transition tables; every change is a row with its time and
source (``MeetingTransition`` for the meeting, ``ParticipantEvent`` for people). Rooms of
a meeting are rows too: the joint room, made at booking, and caucus rooms the mediator
opens for some parties. Phone participants move between rooms through the bridge (one
conference per room); video participants are sent to their current room by their own
join link. ``room_state`` tells a console who is where.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.cases import lifecycle
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    CaseStatusCause,
    Channel,
    Meeting,
    MeetingStatus,
    MeetingTransition,
    OutboxKind,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    Room,
    StaffUser,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.outbox import enqueue

MS = MeetingStatus
PS = ParticipantStatus

# The meeting's life: scheduled -> in session <-> paused -> closed; scheduled -> cancelled.
MEETING_TRANSITIONS: Mapping[MeetingStatus, frozenset[MeetingStatus]] = {
    MS.scheduled: frozenset({MS.in_session, MS.cancelled}),
    MS.in_session: frozenset({MS.paused, MS.closed}),
    MS.paused: frozenset({MS.in_session, MS.closed}),
    MS.closed: frozenset(),
    MS.cancelled: frozenset(),
}

# A person's way through a meeting (DOMAIN.md): not signed in -> joining -> in lobby ->
# in session <-> in caucus -> left / disconnected, and back in after a drop.
PARTICIPANT_TRANSITIONS: Mapping[ParticipantStatus, frozenset[ParticipantStatus]] = {
    PS.not_signed_in: frozenset({PS.joining, PS.in_lobby, PS.in_session, PS.left}),
    PS.joining: frozenset({PS.joining, PS.in_lobby, PS.in_session, PS.left, PS.disconnected}),
    PS.in_lobby: frozenset({PS.in_session, PS.in_caucus, PS.left, PS.disconnected}),
    PS.in_session: frozenset({PS.in_caucus, PS.left, PS.disconnected}),
    PS.in_caucus: frozenset({PS.in_session, PS.in_caucus, PS.left, PS.disconnected}),
    PS.left: frozenset({PS.joining, PS.in_lobby, PS.in_session, PS.in_caucus}),
    PS.disconnected: frozenset({PS.joining, PS.in_lobby, PS.in_session, PS.in_caucus, PS.left}),
}

PRESENT = frozenset({PS.in_session, PS.in_caucus})

# Video providers whose attendance comes from a report read after the meeting, not from
# call-backs while it runs.
ATTENDANCE_REPORT_PROVIDERS = frozenset({"teams"})
# When to read that report: this long after the meeting ends, then again after each
# following wait while it has not appeared (Graph publishes it some minutes after a
# session ends); after the last, the case timeline records that none came (~4 hours).
ATTENDANCE_REPORT_WAITS: tuple[timedelta, ...] = tuple(
    timedelta(minutes=minutes) for minutes in (10, 10, 20, 40, 60, 120)
)


def can_move(current: ParticipantStatus, to: ParticipantStatus) -> bool:
    return to in PARTICIPANT_TRANSITIONS[current]


def check_move(current: ParticipantStatus, to: ParticipantStatus) -> None:
    """Refuse (InvalidState, 409) a move of a person the table does not allow.

    Staying where one is (a move between rooms in the same state, a mark repeated) is
    no change of state. Only the mediator's commands are checked: a provider's call-back
    or a click says what did happen, and the record keeps it.
    """
    if to is not current and not can_move(current, to):
        raise InvalidState(
            f"a participant who is {_words(current)} cannot become {_words(to)}",
            details={"status": current.value, "requested": to.value},
        )


def _words(status: ParticipantStatus) -> str:
    return status.value.replace("_", " ")


# ---------------------------------------------------------------------------- meeting


async def record_transition(
    session: AsyncSession,
    *,
    meeting: Meeting,
    to: MeetingStatus,
    source: str,
    now: datetime,
    from_status: MeetingStatus | None = None,
    actor_id: uuid.UUID | None = None,
) -> MeetingTransition:
    row = MeetingTransition(
        meeting_id=meeting.id,
        from_status=from_status,
        to_status=to,
        source=source,
        actor_id=actor_id,
        at=now,
    )
    session.add(row)
    return row


async def transition(
    session: AsyncSession,
    *,
    meeting: Meeting,
    to: MeetingStatus,
    source: str,
    now: datetime,
    actor_id: uuid.UUID | None = None,
) -> Meeting:
    """Move the meeting to ``to`` if the table allows it; InvalidState otherwise."""
    current = meeting.status
    if to not in MEETING_TRANSITIONS[current]:
        raise InvalidState(
            f"a meeting that is {current.value} cannot become {to.value}",
            details={"from": current.value, "to": to.value},
        )
    meeting.status = to
    meeting.updated_at = now
    await record_transition(
        session,
        meeting=meeting,
        to=to,
        from_status=current,
        source=source,
        now=now,
        actor_id=actor_id,
    )
    await session.flush()
    return meeting


async def closed_at(session: AsyncSession, meeting_id: uuid.UUID) -> datetime | None:
    return await session.scalar(
        select(MeetingTransition.at)
        .where(
            col(MeetingTransition.meeting_id) == meeting_id,
            col(MeetingTransition.to_status) == MS.closed,
        )
        .order_by(col(MeetingTransition.at).desc())
        .limit(1)
    )


async def outcome_window_open(
    session: AsyncSession, *, meeting: Meeting, now: datetime, settings: Settings
) -> bool:
    """True while the mediator may still record the outcome of a closed session."""
    if meeting.status in (MS.in_session, MS.paused):
        return True
    if meeting.status is not MS.closed:
        return False
    ended = await closed_at(session, meeting.id)
    return ended is not None and now <= ended + timedelta(minutes=settings.join_grace_minutes)


# ---------------------------------------------------------------------------- rooms


async def main_room(session: AsyncSession, meeting_id: uuid.UUID) -> Room:
    room = await session.scalar(
        select(Room).where(col(Room.meeting_id) == meeting_id, col(Room.kind) == "main")
    )
    if room is None:
        raise NotFound("room", meeting_id)
    return room


async def list_rooms(session: AsyncSession, meeting_id: uuid.UUID) -> list[Room]:
    query = select(Room).where(col(Room.meeting_id) == meeting_id).order_by(col(Room.created_at))
    return list((await session.scalars(query)).all())


async def get_room(session: AsyncSession, meeting: Meeting, room_id: uuid.UUID) -> Room:
    room = await session.get(Room, room_id)
    if room is None or room.meeting_id != meeting.id:
        raise NotFound("room", room_id)
    return room


async def room_of_party(
    session: AsyncSession, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> Room | None:
    """The open caucus room a party has been sent to, if any."""
    for room in await list_rooms(session, meeting_id):
        if room.kind == "caucus" and room.closed_at is None and str(party_id) in room.party_ids:
            return room
    return None


# ---------------------------------------------------------------------------- people


@dataclass(frozen=True)
class ParticipantState:
    """Where one person is now."""

    party_id: uuid.UUID | None
    mediator_id: uuid.UUID | None
    status: ParticipantStatus
    room_id: uuid.UUID | None
    channel: Channel | None
    since: datetime | None
    call_id: str | None = None


@dataclass
class RoomState:
    """The live picture of a meeting for the mediator's console: who is where."""

    meeting_id: uuid.UUID
    status: MeetingStatus
    rooms: list[Room]
    participants: list[ParticipantState] = field(default_factory=list)

    def in_room(self, room_id: uuid.UUID) -> list[ParticipantState]:
        return [p for p in self.participants if p.room_id == room_id]


async def events_of(session: AsyncSession, meeting_id: uuid.UUID) -> list[ParticipantEvent]:
    query = (
        select(ParticipantEvent)
        .where(col(ParticipantEvent.meeting_id) == meeting_id)
        .order_by(col(ParticipantEvent.at), col(ParticipantEvent.id))
    )
    return list((await session.scalars(query)).all())


def current_states(
    events: Sequence[ParticipantEvent], parties: Sequence[Party]
) -> dict[uuid.UUID, ParticipantState]:
    """Each party's latest status from its events (not signed in when there are none)."""
    states: dict[uuid.UUID, ParticipantState] = {
        p.id: ParticipantState(p.id, None, PS.not_signed_in, None, None, None) for p in parties
    }
    calls: dict[uuid.UUID, str] = {}
    for event in events:
        if event.party_id is None:
            continue
        if event.call_id:
            calls[event.party_id] = event.call_id
        states[event.party_id] = ParticipantState(
            party_id=event.party_id,
            mediator_id=None,
            status=event.status,
            room_id=event.room_id,
            channel=event.channel,
            since=event.at,
            call_id=calls.get(event.party_id),
        )
    return states


async def _parties(session: AsyncSession, case_id: uuid.UUID) -> list[Party]:
    query = (
        select(Party)
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at))
    )
    return list((await session.scalars(query)).all())


async def room_state(session: AsyncSession, meeting: Meeting) -> RoomState:
    """Who is where right now: every current party's status and room."""
    parties = await _parties(session, meeting.case_id)
    states = current_states(await events_of(session, meeting.id), parties)
    return RoomState(
        meeting_id=meeting.id,
        status=meeting.status,
        rooms=await list_rooms(session, meeting.id),
        participants=[states[p.id] for p in parties],
    )


async def _party_of_case(session: AsyncSession, meeting: Meeting, party_id: uuid.UUID) -> Party:
    party = await session.get(Party, party_id)
    if party is None or party.case_id != meeting.case_id or party.removed_at is not None:
        raise NotFound("party", party_id)
    return party


def _event(
    meeting: Meeting,
    party_id: uuid.UUID,
    status: ParticipantStatus,
    *,
    now: datetime,
    source: str = "mediator",
    room_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    note: str | None = None,
) -> ParticipantEvent:
    return ParticipantEvent(
        meeting_id=meeting.id,
        party_id=party_id,
        status=status,
        room_id=room_id,
        channel=channel,
        source=source,
        note=note,
        at=now,
    )


def _require_running(meeting: Meeting) -> None:
    if meeting.status not in (MS.in_session, MS.paused):
        raise InvalidState("the session has not started or is over")


async def _queue_provider_call(
    session: AsyncSession,
    *,
    meeting: Meeting,
    action: str,
    key: str,
    now: datetime,
    not_before: datetime | None = None,
    **details: Any,
) -> None:
    """Queue one provider call of ``meeting`` in the caller's transaction, once per ``key``."""
    await enqueue(
        session,
        kind=OutboxKind.provider_call,
        topic=action,
        idempotency_key=f"{action}:{key}",
        payload={"action": action, "meeting_id": str(meeting.id), **details},
        now=now,
        not_before=not_before,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
    )


async def _move_party(
    session: AsyncSession,
    *,
    meeting: Meeting,
    party: Party,
    state: ParticipantState,
    present_as: ParticipantStatus,
    room: Room,
    note: str,
    now: datetime,
) -> None:
    """Put the party in ``room``, their phone call (if any) with them.

    Someone present there takes ``present_as``; someone not present keeps their status.
    """
    to = present_as if state.status in PRESENT else state.status
    check_move(state.status, to)
    session.add(
        _event(meeting, party.id, to, now=now, room_id=room.id, channel=state.channel, note=note)
    )
    await _move_phone_call(session, meeting=meeting, party=party, state=state, room=room, now=now)


async def _move_phone_call(
    session: AsyncSession,
    *,
    meeting: Meeting,
    party: Party,
    state: ParticipantState,
    room: Room,
    now: datetime,
) -> None:
    """Queue the bridge call that moves a live phone call into ``room``'s conference."""
    if state.channel is not Channel.phone or not state.call_id or state.status not in PRESENT:
        return
    await _queue_provider_call(
        session,
        meeting=meeting,
        action="move_call",
        key=f"{state.call_id}:{room.id}:{now.timestamp()}",
        now=now,
        room_id=str(room.id),
        call_id=state.call_id,
        conference=room.room_key,
        label=party.participant_ref,
    )


async def track_conference(session: AsyncSession, *, room_key: str, sid: str, live: bool) -> None:
    """Remember the phone bridge's live conference of the room keyed ``room_key``.

    The bridge's call-backs say when a room's conference goes live (someone joins, even
    a lobby waiting for the mediator) and when it is over; the room keeps the newest live
    one so that ending the session can end it, and forgets it once it has ended (a caucus
    room emptied by moving its callers back ends by itself). Each change is one UPDATE,
    the clearing one conditional on the SID, so a late end never clears a newer conference.
    """
    by_key = col(Room.room_key) == room_key
    if live:
        statement = update(Room).where(by_key).values(conference_sid=sid[:64])
    else:
        statement = (
            update(Room).where(by_key, col(Room.conference_sid) == sid).values(conference_sid=None)
        )
    await session.execute(statement)


async def _end_conference(
    session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime
) -> None:
    """Queue the bridge call that ends ``room``'s live phone conference, if it has one.

    Keyed by the conference, so it is queued once; the delivery skips a conference whose
    end the bridge has reported meanwhile, so a repeated delivery sends nothing.
    """
    if room.conference_sid is None:
        return
    await _queue_provider_call(
        session,
        meeting=meeting,
        action="end_conference",
        key=room.conference_sid,
        now=now,
        room_id=str(room.id),
        conference_sid=room.conference_sid,
    )


async def move_room(session: AsyncSession, *, meeting: Meeting, now: datetime) -> bool:
    """Give the meeting a new provider room, so that room URLs handed out so far lead nowhere.

    A Jitsi token (or a BigBlueButton join URL) someone was handed at a click stays valid
    for its room until the join window closes; withdrawing their link cannot recall it. So
    the meeting gets a new room key, hence a new provider room: the outbox creates it (and
    the open caucus rooms beside it) and ends the old one where the provider can. Everyone
    else's join link resolves the current room at their next click. Until the new room is
    made, a click answers "being prepared". False when there is no room to move.
    """
    if meeting.status not in (MS.scheduled, MS.in_session, MS.paused) or not meeting.provider_room:
        return False
    old = dict(meeting.provider_room)
    main = await main_room(session, meeting.id)
    meeting.room_key = uuid.uuid4().hex
    meeting.provider_room = None
    meeting.updated_at = now
    for room in await list_rooms(session, meeting.id):
        if room.kind == "caucus" and room.closed_at is None and room.provider_room:
            room.provider_room = None  # made again beside the new room, once it exists
    await _queue_provider_call(
        session,
        meeting=meeting,
        action="end_room",
        key=f"{main.id}:{old.get('room_id')}",
        now=now,
        room_id=str(main.id),
        provider_room=old,
    )
    await _queue_provider_call(
        session,
        meeting=meeting,
        action="create_room",
        key=f"{main.id}:{meeting.room_key}",
        now=now,
        room_id=str(main.id),
        provider=str(old.get("provider") or meeting.provider or ""),
        sequence=meeting.sequence,
        room_key=meeting.room_key,
    )
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.room_moved",
        summary="Video room moved to a new address; the links still in use follow it",
        at=now,
        actor="system",
    )
    await session.flush()
    return True


async def queue_caucus_rooms(session: AsyncSession, *, meeting: Meeting, now: datetime) -> None:
    """Queue the creation of the open caucus rooms that have no provider room yet."""
    for room in await list_rooms(session, meeting.id):
        if room.kind == "caucus" and room.closed_at is None and not room.provider_room:
            await _queue_provider_call(
                session,
                meeting=meeting,
                action="create_caucus",
                key=f"{room.id}:{room.room_key}",
                now=now,
                room_id=str(room.id),
            )


def reads_attendance_report(meeting: Meeting) -> bool:
    """True when the meeting's video room reports attendance only after the meeting."""
    room = meeting.provider_room or {}
    return room.get("provider") in ATTENDANCE_REPORT_PROVIDERS


async def queue_attendance_read(
    session: AsyncSession,
    *,
    meeting: Meeting,
    after: str,
    due: datetime,
    now: datetime,
    look: int = 0,
) -> None:
    """Queue a read of the provider's attendance report of ``meeting``, not before ``due``.

    ``after`` names what it follows: ``session_end`` (the mediator ended the session) or
    ``scheduled_end`` (queued with the room, for a meeting nobody ends here); ``look``
    counts the reads before it. Keyed by all of these and the meeting's sequence, so each
    is queued once and a moved meeting's reads are told apart.
    """
    await _queue_provider_call(
        session,
        meeting=meeting,
        action="fetch_attendance",
        key=f"{meeting.id}:{meeting.sequence}:{after}:{look}",
        now=now,
        not_before=due,
        sequence=meeting.sequence,
        after=after,
        look=look,
    )


def start_opens_at(meeting: Meeting, settings: Settings) -> datetime:
    """When the mediator may start the session: when joining opens for everyone."""
    return meeting.start_at - timedelta(minutes=settings.join_opens_minutes)


async def start(
    session: AsyncSession,
    *,
    meeting: Meeting,
    now: datetime,
    actor_id: uuid.UUID | None,
    settings: Settings,
) -> Meeting:
    """Open (or resume) the session; not before joining opens (InvalidState)."""
    opens = start_opens_at(meeting, settings)
    if meeting.status is MS.scheduled and now < opens:
        case = await session.get(Case, meeting.case_id)
        local = opens.astimezone(ZoneInfo(case.timezone if case else "Europe/London"))
        raise InvalidState(
            f"the session can be started from {wording.clock(local)} on "
            f"{wording.day_and_month(local)}, when joining opens "
            f"({settings.join_opens_minutes} minutes before the meeting)",
            details={"opens_at": opens.isoformat()},
        )
    await transition(
        session, meeting=meeting, to=MS.in_session, source="mediator", now=now, actor_id=actor_id
    )
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.started",
        summary="Session started",
        at=now,
    )
    return meeting


async def pause(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor_id: uuid.UUID | None
) -> Meeting:
    return await transition(
        session, meeting=meeting, to=MS.paused, source="mediator", now=now, actor_id=actor_id
    )


async def end(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor_id: uuid.UUID | None
) -> Meeting:
    """Close the session for everyone; people still present are marked as having left."""
    await transition(
        session, meeting=meeting, to=MS.closed, source="mediator", now=now, actor_id=actor_id
    )
    state = await room_state(session, meeting)
    for person in state.participants:
        if person.party_id is not None and person.status in (PRESENT | {PS.in_lobby}):
            check_move(person.status, PS.left)
            session.add(_event(meeting, person.party_id, PS.left, now=now, note="session ended"))
    for room in state.rooms:
        if room.closed_at is None:
            room.closed_at = now
        await _end_conference(session, meeting=meeting, room=room, now=now)
    if meeting.provider_room:
        main = await main_room(session, meeting.id)
        await _queue_provider_call(
            session,
            meeting=meeting,
            action="end_room",
            key=str(main.id),
            now=now,
            room_id=str(main.id),
        )
    if reads_attendance_report(meeting):
        await queue_attendance_read(
            session,
            meeting=meeting,
            after="session_end",
            due=now + ATTENDANCE_REPORT_WAITS[0],
            now=now,
        )
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.ended",
        summary="Session ended",
        at=now,
    )
    case = await session.get(Case, meeting.case_id)
    assert case is not None  # a meeting belongs to its case (foreign key)
    # The meeting took place: the case waits for its outcome (or, for an information
    # call, its certificate). A case already past that stays where it is.
    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.held,
        cause=CaseStatusCause.session_ended,
        actor=await _actor(session, actor_id),
        now=now,
    )
    if case.kind is CaseKind.mias:
        # An information call has no outcome to record: its end is what starts the
        # 3 working days of its certificate.
        case.certificate_event_on = now.astimezone(ZoneInfo(case.timezone)).date()
        case.updated_at = now
    await session.flush()
    return meeting


async def _actor(session: AsyncSession, user_id: uuid.UUID | None) -> str | None:
    """The staff user as the case records name them (role and id), like the API's actor."""
    user = await session.get(StaffUser, user_id) if user_id else None
    return f"{user.role.value}:{user.id}" if user else None


async def admit(
    session: AsyncSession, *, meeting: Meeting, party_id: uuid.UUID, now: datetime
) -> ParticipantEvent:
    """Let a party in from the lobby to the joint room."""
    _require_running(meeting)
    party = await _party_of_case(session, meeting, party_id)
    states = current_states(await events_of(session, meeting.id), [party])
    current = states[party.id]
    if current.status not in (PS.in_lobby, PS.joining):
        raise InvalidState(
            f"this party is not waiting to be admitted ({current.status.value})",
            details={"status": current.status.value},
        )
    check_move(current.status, PS.in_session)
    main = await main_room(session, meeting.id)
    event = _event(
        meeting,
        party.id,
        PS.in_session,
        now=now,
        room_id=main.id,
        channel=current.channel,
        note="admitted",
    )
    session.add(event)
    await session.flush()
    return event


async def open_caucus(
    session: AsyncSession,
    *,
    meeting: Meeting,
    label: str,
    party_ids: Sequence[uuid.UUID],
    now: datetime,
) -> Room:
    """Open a private room for some parties and send them there (phone calls move too)."""
    _require_running(meeting)
    if not party_ids:
        raise ValidationFailed("a caucus room needs at least one party")
    parties = [await _party_of_case(session, meeting, pid) for pid in dict.fromkeys(party_ids)]
    busy = {
        pid
        for room in await list_rooms(session, meeting.id)
        if room.kind == "caucus" and room.closed_at is None
        for pid in room.party_ids
    }
    clash = [str(p.id) for p in parties if str(p.id) in busy]
    if clash:
        raise InvalidState("a party is already in a caucus room", details={"party_ids": clash})
    room = Room(
        meeting_id=meeting.id,
        kind="caucus",
        label=label,
        party_ids=[str(p.id) for p in parties],
        created_at=now,
    )
    session.add(room)
    await session.flush()
    states = current_states(await events_of(session, meeting.id), parties)
    for party in parties:
        state = states[party.id]
        # Those present go in; someone still waiting (or not yet come) is sent there later.
        await _move_party(
            session,
            meeting=meeting,
            party=party,
            state=state,
            present_as=PS.in_caucus,
            room=room,
            note="moved to caucus",
            now=now,
        )
    if meeting.provider_room:
        await _queue_provider_call(
            session,
            meeting=meeting,
            action="create_caucus",
            key=str(room.id),
            now=now,
            room_id=str(room.id),
        )
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.caucus_opened",
        summary=f"Caucus room opened for {len(parties)} part{'y' if len(parties) == 1 else 'ies'}",
        at=now,
    )
    await session.flush()
    return room


async def close_caucus(
    session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime
) -> Room:
    """Close a caucus room; its parties go back to the joint room.

    Its phone conference is not ended through the bridge: once the moves (retried by the
    outbox while the bridge is down) take the last caller out, the bridge ends the empty
    conference itself. Ending it here would race those moves and cut off a caller whose
    move is still pending. A conference that lingers because someone could not be moved
    is ended with the others when the session ends.
    """
    if room.kind != "caucus":
        raise InvalidState("the joint room closes when the session ends")
    if room.closed_at is not None:
        raise InvalidState("this room is already closed")
    room.closed_at = now
    main = await main_room(session, meeting.id)
    ids = [uuid.UUID(pid) for pid in room.party_ids]
    parties = [p for p in await _parties(session, meeting.case_id) if p.id in ids]
    states = current_states(await events_of(session, meeting.id), parties)
    for party in parties:
        state = states[party.id]
        if state.room_id != room.id:
            continue
        await _move_party(
            session,
            meeting=meeting,
            party=party,
            state=state,
            present_as=PS.in_session,
            room=main,
            note="back to joint room",
            now=now,
        )
    await session.flush()
    return room


async def recall(session: AsyncSession, *, meeting: Meeting, now: datetime) -> list[Room]:
    """Bring everyone back to the joint room, closing every caucus room."""
    _require_running(meeting)
    closed = []
    for room in await list_rooms(session, meeting.id):
        if room.kind == "caucus" and room.closed_at is None:
            closed.append(await close_caucus(session, meeting=meeting, room=room, now=now))
    return closed


async def state_fingerprint(session: AsyncSession, meeting_id: uuid.UUID) -> str:
    """A cheap summary that changes whenever who-is-where in the meeting would."""
    meeting = await session.get(Meeting, meeting_id)
    events = await session.execute(
        select(func.count(), func.max(col(ParticipantEvent.at))).where(
            col(ParticipantEvent.meeting_id) == meeting_id
        )
    )
    count, last = events.one()
    room_rows = await session.execute(
        select(func.count(), func.count(col(Room.closed_at))).where(
            col(Room.meeting_id) == meeting_id
        )
    )
    opened, closed = room_rows.one()
    status = meeting.status.value if meeting else "gone"
    return f"{status}:{count}:{last}:{opened}:{closed}"
