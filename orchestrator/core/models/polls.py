"""Availability polls: the candidate times offered, and each party's answers to them."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import enum_field, json_field, new_id, ts_field
from orchestrator.core.models.vocabularies import PollAnswerValue


class Poll(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    duration_minutes: int
    window_start: datetime = ts_field()
    window_end: datetime = ts_field()
    candidates: list[str] = json_field([])  # ISO UTC starts
    created_at: datetime = ts_field(default_now=True)
    closed_at: datetime | None = ts_field(nullable=True)


class PollAnswer(SQLModel, table=True):
    __tablename__ = "poll_answer"
    __table_args__ = (sa.UniqueConstraint("poll_id", "party_id", "candidate_start"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    poll_id: uuid.UUID = Field(foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    candidate_start: datetime = ts_field()
    answer: PollAnswerValue = enum_field(PollAnswerValue)
    updated_at: datetime = ts_field(default_now=True)
    # Who typed the answer in for the party ("Sam (scheduler)"); None when they answered.
    entered_by: str | None = Field(default=None, max_length=200)


class PollResponse(SQLModel, table=True):
    """Per party per poll: when they answered, their note, and "none of these work, call me"."""

    __tablename__ = "poll_response"
    __table_args__ = (sa.UniqueConstraint("poll_id", "party_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    poll_id: uuid.UUID = Field(foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    note: str | None = Field(default=None, max_length=2000)
    answered_at: datetime | None = ts_field(nullable=True)
    chased_at: datetime | None = ts_field(nullable=True)
    chase_count: int = 0
    # "None of these work — please call me": an answer in its own right, not a missing one.
    call_me: bool = False
    # Who entered the answers for the party after a phone call; None when they answered.
    entered_by: str | None = Field(default=None, max_length=200)
