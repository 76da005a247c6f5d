"""What one join link tells the click path, read in one indexed query, and where it leads.

The join click (``/j/{token}/video``) is the busiest path of the service, so
``load_join_facts`` reads the link, its meeting, party or mediator (and the open caucus
rooms while a session runs) with Core only, into ``JoinFacts``: nothing in them depends on
the time, so the click path's cache (``link_cache``) may keep them. ``JoinFacts.target``
then checks them against ``now`` and names the room the person is sent to, with the
click's event row to record. How a person is known to providers (``display_name``,
``mediator_ref``) is decided here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from orchestrator.cases import links
from orchestrator.core.errors import InvalidState
from orchestrator.core.models import (
    Channel,
    Link,
    LinkScope,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    ParticipantStatus,
    Party,
    PartyRole,
    Room,
    role_words,
)
from orchestrator.meeting.attendance import event_row


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
    """What the provider shows the mediator: a first name and a role in words, nothing more."""
    first = (name.split() or ["Guest"])[0][:40]
    return f"{first} ({role})"


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
    facts = _facts_of_row(row)
    running = (MeetingStatus.in_session, MeetingStatus.paused)
    if facts.party_id is not None and facts.meeting.status in running:
        caucus = await _caucus_room(connection, facts.meeting_id, facts.party_id)
        if caucus is not None:
            facts = replace(facts, provider_room=caucus)
    return facts


async def _caucus_room(
    connection: AsyncConnection, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> dict[str, Any] | None:
    """The provider room of the open caucus room the party is in, if it has one yet."""
    found = None
    caucuses = await connection.execute(_CAUCUS_QUERY, {"meeting_id": meeting_id})
    for members, caucus_room in caucuses.all():
        if str(party_id) in (members or []) and caucus_room:
            found = caucus_room
    return found


def _facts_of_row(row: Sequence[Any]) -> JoinFacts:
    """The facts of one ``_CLICK_QUERY`` row, with the meeting's own (joint) room."""
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
    if party_id is not None:
        ref = str(party_ref or "")
        role = role_words(PartyRole(party_role)) if party_role else ""
        name = display_name(party_name or "", role)
    else:
        ref, name = _mediator_known_as(mediator_id, mediator_name)
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


def _mediator_known_as(mediator_id: uuid.UUID | None, name: str | None) -> tuple[str, str]:
    """The mediator's participant ref and shown name; LinkInvalid for a link of no one."""
    if mediator_id is None:
        raise links.refusal(links.Verdict.unknown)
    return mediator_ref(mediator_id), display_name(name or "Mediator", "mediator")
