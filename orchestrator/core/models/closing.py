"""How a case ends: the meeting's outcome, the certificate, and the preparation papers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import enum_field, json_field, new_id, ts_field
from orchestrator.core.models.vocabularies import CertificateKind, OutcomeResult


class Outcome(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", unique=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    result: OutcomeResult = enum_field(OutcomeResult)
    issues: list[dict[str, Any]] = json_field([])
    agreement_text: str | None = None
    next_steps: list[dict[str, Any]] = json_field([])
    notes: str | None = None
    # Who attended, as confirmed with the outcome: [{party_id, role, attended, seconds, channel}].
    attendance: list[dict[str, Any]] = json_field([])
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id")
    recorded_at: datetime = ts_field(default_now=True)


class Certificate(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id")
    kind: CertificateKind = enum_field(CertificateKind)
    number: str = Field(max_length=40, unique=True)
    event_date: date
    due_date: date
    issued_at: datetime = ts_field(default_now=True)
    appeal_deadline: date | None = None
    document_path: str | None = Field(default=None, max_length=500)
    sha256: str | None = Field(default=None, max_length=64)


class Document(SQLModel, table=True):
    """A party's case summary or Child's View, stored privately under the data dir."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id", index=True)
    kind: str = Field(max_length=40)  # case_summary | childs_view
    text: str | None = None
    filename: str | None = Field(default=None, max_length=255)
    content_type: str | None = Field(default=None, max_length=100)
    size_bytes: int | None = None
    storage_path: str | None = Field(default=None, max_length=500)
    shared_with: list[str] = json_field([])
    created_at: datetime = ts_field(default_now=True)
