"""What the parties take away: the written agreement, its agreed actions, each party's
answer to it, and the feedback they give afterwards."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import json_field, new_id, ts_field


class Agreement(SQLModel, table=True):
    """The written agreement of one meeting, as the mediator drafted it (one per meeting)."""

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", unique=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    version: int = 1  # each revision asks everyone again
    issues: list[str] = json_field([])
    agreed_text: str = ""
    # The party ids asked to confirm this version.
    asked: list[str] = json_field([])
    drafted_by: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id")
    sent_at: datetime = ts_field(default_now=True)
    final_at: datetime | None = ts_field(nullable=True)
    document_path: str | None = Field(default=None, max_length=500)
    sha256: str | None = Field(default=None, max_length=64)


class AgreementAction(SQLModel, table=True):
    """One "who will do what by when" of an agreement."""

    __tablename__ = "agreement_action"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    position: int = 0
    owner_party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    owner_label: str = Field(default="", max_length=200)  # the owner's name, as printed
    action: str = Field(max_length=1000)
    due_on: date | None = Field(default=None, index=True)


class AgreementResponse(SQLModel, table=True):
    """One party's answer to one version: it is what was agreed, or what is wrong."""

    __tablename__ = "agreement_response"
    __table_args__ = (sa.UniqueConstraint("agreement_id", "party_id", "version"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    agreement_id: uuid.UUID = Field(foreign_key="agreement.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id")
    version: int
    confirmed: bool
    comment: str | None = None
    answered_at: datetime = ts_field(default_now=True)


class Feedback(SQLModel, table=True):
    """One party's feedback on one meeting; its role is kept so figures outlive the name."""

    __table_args__ = (sa.UniqueConstraint("meeting_id", "party_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    case_id: uuid.UUID = Field(foreign_key="case.id", index=True)
    party_id: uuid.UUID | None = Field(default=None, foreign_key="party.id")
    role: str = Field(max_length=40)
    satisfaction: int  # 1 (very dissatisfied) to 5 (very satisfied)
    listened: str = Field(max_length=10)  # yes | partly | no
    comment: str | None = None
    may_quote: bool = False
    answered_at: datetime = ts_field(default_now=True)
