"""A booked meeting, each change of its state, its rooms, and who was in them when.

Who attended is worked out from the participant events (link clicks, provider call-backs,
mediator marks), not stored beside the meeting.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import (
    enum_field,
    json_field,
    new_id,
    time_ordered_id,
    ts_field,
)
from orchestrator.core.models.vocabularies import (
    Channel,
    MeetingMode,
    MeetingStatus,
    ParticipantStatus,
)


class Meeting(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id", index=True)
    start_at: datetime = ts_field(index=True)
    end_at: datetime = ts_field()
    mode: MeetingMode = enum_field(MeetingMode)
    status: MeetingStatus = enum_field(MeetingStatus, MeetingStatus.scheduled, index=True)
    provider: str | None = Field(default=None, max_length=40)
    # The joint room's provider room, its one copy (None while it is made or moved).
    provider_room: dict[str, Any] | None = json_field(None)
    room_key: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=64)
    dial_in_pin: str | None = Field(default=None, max_length=12)
    # The mediator's own PIN on the phone bridge (starts and ends the conference).
    mediator_pin: str | None = Field(default=None, max_length=12, index=True)
    venue: dict[str, Any] | None = json_field(None)
    venue_key: str | None = Field(default=None, max_length=200, index=True)
    ical_uid: str = Field(max_length=255, unique=True)
    # The meeting's version: a reschedule bumps it, and older join and RSVP links die.
    sequence: int = 0
    # The iTIP SEQUENCE of the newest calendar message about the meeting (the API's and the
    # webhooks' ``sequence``): every REQUEST or CANCEL that changes anyone's copy takes the
    # next one, so no number is used twice.
    calendar_sequence: int = 0
    cancel_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)


class MeetingTransition(SQLModel, table=True):
    """One row per change of meeting state: when, from what, to what, and why."""

    __tablename__ = "meeting_transition"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    from_status: MeetingStatus | None = enum_field(MeetingStatus, None)
    to_status: MeetingStatus = enum_field(MeetingStatus)
    source: str = Field(max_length=40)
    actor_id: uuid.UUID | None = None
    at: datetime = ts_field(default_now=True)


class Room(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    kind: str = Field(max_length=10)  # main | caucus
    label: str = Field(max_length=100)
    # A caucus room's provider room; the joint room's is ``Meeting.provider_room`` (None here).
    provider_room: dict[str, Any] | None = json_field(None)
    room_key: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=64, index=True)
    # The provider's own id of the room, so call-backs find it (indexed; no JSON lookups).
    provider_room_id: str | None = Field(default=None, max_length=200, index=True)
    # Parties sent to this room (caucus rooms); the joint room holds everyone else.
    party_ids: list[str] = json_field([])
    # The phone bridge's live conference for this room, from its status call-backs (None
    # when none is live), so ending the session can end it for the callers still on it.
    conference_sid: str | None = Field(default=None, max_length=64)
    created_at: datetime = ts_field(default_now=True)
    closed_at: datetime | None = ts_field(nullable=True)


class ParticipantEvent(SQLModel, table=True):
    """Attendance is derived from these: link clicks, provider call-backs, mediator marks."""

    __tablename__ = "participant_event"
    # Every read is one meeting's events in time order; one index serves it, and the
    # busiest write of the service (a join click) keeps one index fewer to maintain.
    __table_args__ = (sa.Index("ix_participant_event_meeting_at", "meeting_id", "at"),)

    id: uuid.UUID = Field(default_factory=time_ordered_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id")
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    mediator_id: uuid.UUID | None = Field(default=None, foreign_key="mediator.id")
    status: ParticipantStatus = enum_field(ParticipantStatus)
    room_id: uuid.UUID | None = Field(default=None, foreign_key="room.id")
    channel: Channel | None = enum_field(Channel, None)
    source: str = Field(max_length=40)  # link | jitsi | bbb | zoom | teams | twilio | mediator
    dedup_key: str | None = Field(default=None, max_length=255, unique=True)
    # The phone bridge's id of the call (so a live call can be moved between rooms).
    call_id: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = ts_field(default_now=True)
