"""What the service sends: invitations and reminders, the outbox, and webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import enum_field, json_field, new_id, ts_field
from orchestrator.core.models.vocabularies import (
    DeliveryStatus,
    OutboxKind,
    OutboxStatus,
    PartStat,
)


class Invitation(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "party_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    partstat: PartStat = enum_field(PartStat, PartStat.needs_action)
    last_sequence_sent: int | None = None
    # The DTSTAMP of the newest REQUEST this person was sent (replies older than it are stale).
    last_request_at: datetime | None = ts_field(nullable=True)
    responded_at: datetime | None = ts_field(nullable=True)
    cancelled_at: datetime | None = ts_field(nullable=True)
    # The party's own PIN on the phone bridge, when the meeting uses one.
    phone_pin: str | None = Field(default=None, max_length=12, index=True)


class Reminder(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "party_id", "kind"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    meeting_id: uuid.UUID | None = Field(default=None, foreign_key="meeting.id", index=True)
    poll_id: uuid.UUID | None = Field(default=None, foreign_key="poll.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    kind: str = Field(max_length=40)  # e.g. before:10080, chase_poll:1
    due_at: datetime = ts_field(index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = ts_field(nullable=True)
    sent_at: datetime | None = ts_field(nullable=True)
    cancelled_at: datetime | None = ts_field(nullable=True)


class OutboxMessage(SQLModel, table=True):
    """A side effect written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: OutboxKind = enum_field(OutboxKind, index=True)
    topic: str = Field(default="", max_length=80)
    idempotency_key: str = Field(max_length=200, unique=True)
    payload: dict[str, Any] = json_field({})
    status: OutboxStatus = enum_field(OutboxStatus, OutboxStatus.pending, index=True)
    attempts: int = 0
    next_attempt_at: datetime = ts_field(default_now=True, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = ts_field(nullable=True)
    sent_at: datetime | None = ts_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)
    last_status_code: int | None = None
    case_id: uuid.UUID | None = Field(default=None, index=True)
    meeting_id: uuid.UUID | None = Field(default=None, index=True)
    endpoint_id: uuid.UUID | None = Field(default=None, index=True)
    created_at: datetime = ts_field(default_now=True)


class Delivery(SQLModel, table=True):
    """One message to one person and what its carrier reported: staff see who was not reached.

    Made with the outbox row (same transaction); Notify's receipts move its status on,
    matched by the outbox idempotency key we send as Notify's ``reference``.
    """

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_id: uuid.UUID = Field(foreign_key="outbox_message.id", unique=True)
    case_id: uuid.UUID = Field(index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    channel: OutboxKind = enum_field(OutboxKind)
    status: DeliveryStatus = enum_field(DeliveryStatus, DeliveryStatus.queued)
    provider_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=300)
    updated_at: datetime = ts_field(default_now=True)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    events: list[str] = json_field([])
    description: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = ts_field(default_now=True)


class WebhookAttempt(SQLModel, table=True):
    """One delivery attempt of a webhook outbox row: the endpoint's delivery log."""

    __tablename__ = "webhook_attempt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_id: uuid.UUID = Field(foreign_key="outbox_message.id", index=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id", index=True)
    at: datetime = ts_field(default_now=True)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    delivered: bool = False
