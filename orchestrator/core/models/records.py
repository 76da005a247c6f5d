"""The service's memory: each case's timeline, and the staff audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import json_field, new_id, ts_field


class TimelineEntry(SQLModel, table=True):
    """The case's one record of everything that happened, in order."""

    __tablename__ = "timeline_entry"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id")
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    kind: str = Field(max_length=60)
    summary: str = Field(max_length=500)
    actor: str | None = Field(default=None, max_length=100)
    details: dict[str, Any] | None = json_field(None)
    at: datetime = ts_field(default_now=True, index=True)


class AuditEvent(SQLModel, table=True):
    """Who on the staff did or looked at what: one row per authenticated staff request."""

    __tablename__ = "audit_event"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id", index=True)
    action: str = Field(max_length=100)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=64, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    details: dict[str, Any] | None = json_field(None)
    at: datetime = ts_field(default_now=True, index=True)
