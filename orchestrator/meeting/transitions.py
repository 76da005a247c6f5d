"""The meeting's and each person's state machines, as explicit transition tables.

Every change is a row with its time and source: ``MeetingTransition`` for the meeting,
``ParticipantEvent`` for people. The meeting goes scheduled -> in session <-> paused ->
closed (or scheduled -> cancelled); a person goes not signed in -> joining -> in lobby ->
in session <-> in caucus -> left / disconnected (DOMAIN.md). Only the mediator's commands
are checked against the person's table; what a provider or a click reports is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import InvalidState
from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingStatus,
    MeetingTransition,
    ParticipantEvent,
    ParticipantStatus,
    in_words,
)
from orchestrator.core.records import add_timeline

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
            f"a participant who is {in_words(current)} cannot become {in_words(to)}",
            details={"status": current.value, "requested": to.value},
        )


def require_running(meeting: Meeting) -> None:
    """Refuse (InvalidState) a command for the people in a session not running now."""
    if meeting.status not in (MS.in_session, MS.paused):
        raise InvalidState("the session has not started or is over")


def person_event(
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
    """The row of one change of a party's status (the mediator's, unless ``source`` says)."""
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
            f"a meeting that is {in_words(current)} cannot become {in_words(to)}",
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
    """When the meeting's session was closed; None while it has not been."""
    return await session.scalar(
        select(MeetingTransition.at)
        .where(
            col(MeetingTransition.meeting_id) == meeting_id,
            col(MeetingTransition.to_status) == MS.closed,
        )
        .order_by(col(MeetingTransition.at).desc())
        .limit(1)
    )


def note_on_timeline(
    session: AsyncSession,
    meeting: Meeting,
    *,
    kind: str,
    summary: str,
    at: datetime,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry about ``meeting`` to its case's timeline (in the caller's transaction)."""
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind=kind,
        summary=summary,
        at=at,
        actor=actor,
        details=details,
    )
