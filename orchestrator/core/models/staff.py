"""Who works the service: staff accounts, their sessions and API tokens, and the mediators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

from orchestrator.core.models.columns import enum_field, json_field, new_id, ts_field
from orchestrator.core.models.values import (
    CalendarConfig,
    ClockTime,
    EmailAddress,
    PersonName,
    Weekday,
)
from orchestrator.core.models.vocabularies import StaffRole


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    role: StaffRole = enum_field(StaffRole)
    password_hash: str | None = None
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = ts_field(nullable=True)
    created_at: datetime = ts_field(default_now=True)
    # The one set-password link that works now (its ``jti``); None once used or replaced.
    set_password_link: str | None = Field(default=None, max_length=32)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    label: str = Field(default="", max_length=200)
    created_at: datetime = ts_field(default_now=True)
    last_used_at: datetime | None = ts_field(nullable=True)
    revoked_at: datetime | None = ts_field(nullable=True)


class StaffSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds the id, the row holds the rest."""

    __tablename__ = "staff_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie value
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = ts_field(default_now=True)
    expires_at: datetime = ts_field()


# ============================================================================ mediators


class WorkingHours(SQLModel):
    """Local working hours per ISO weekday (1=Monday); missing days are not worked."""

    days: dict[int, tuple[str, str]] = {
        1: ("09:00", "17:00"),
        2: ("09:00", "17:00"),
        3: ("09:00", "17:00"),
        4: ("09:00", "17:00"),
        5: ("09:00", "17:00"),
    }


class MediatorBase(SQLModel):
    name: PersonName = Field(max_length=200)
    email: EmailAddress = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    max_sessions_per_day: int = Field(default=1, ge=1, le=6)
    buffer_minutes: int = Field(default=30, ge=0, le=240)


class MediatorCreate(MediatorBase):
    model_config = SQLModelConfig(extra="forbid")

    calendar: CalendarConfig | None = None
    working_hours: dict[Weekday, tuple[ClockTime, ClockTime]] | None = Field(
        default=None,
        schema_extra={
            "json_schema_extra": {"propertyNames": {"enum": [str(d) for d in range(1, 8)]}}
        },
    )
    user_id: uuid.UUID | None = None


class Mediator(MediatorBase, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(max_length=320, index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="staff_user.id", index=True)
    calendar: dict[str, Any] | None = json_field(None)
    working_hours: dict[str, Any] | None = json_field(None)
    active: bool = True
    created_at: datetime = ts_field(default_now=True)


class MediatorPublic(MediatorBase):
    # As stored: a name kept before names were checked must still be shown, not a 500.
    name: str
    email: str
    id: uuid.UUID
    user_id: uuid.UUID | None
    has_calendar: bool
    working_hours: dict[str, Any] | None
    active: bool


class AssignMediator(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    mediator_id: uuid.UUID
