"""Domain events: what happened to a case, told to whoever must react, in the same transaction.

Use-cases ``emit`` events; capabilities subscribe to them (invites react to a booking,
reminders to a reschedule, write-back webhooks to everything). Subscribers run inside the
emitting transaction, so their outbox rows commit or roll back with the change itself.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.settings import Settings


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event; ``name`` is the stable name used in webhooks."""

    name: ClassVar[str] = "event"
    case_id: uuid.UUID
    at: datetime

    def data(self) -> dict[str, Any]:
        """The event's own fields (ids only; never personal data)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key in ("case_id", "at"):
                continue
            out[key] = str(value) if isinstance(value, uuid.UUID) else value
        return out


@dataclass(frozen=True)
class CaseCreated(DomainEvent):
    name: ClassVar[str] = "case.created"


@dataclass(frozen=True)
class PartyAdded(DomainEvent):
    name: ClassVar[str] = "party.added"
    party_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class PartyRemoved(DomainEvent):
    name: ClassVar[str] = "party.removed"
    party_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class MeetingBooked(DomainEvent):
    name: ClassVar[str] = "meeting.booked"
    meeting_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class MeetingRescheduled(DomainEvent):
    name: ClassVar[str] = "meeting.rescheduled"
    meeting_id: uuid.UUID = field(default_factory=uuid.uuid4)
    previous_start: str = ""


@dataclass(frozen=True)
class MeetingCancelled(DomainEvent):
    name: ClassVar[str] = "meeting.cancelled"
    meeting_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class MediatorAssigned(DomainEvent):
    name: ClassVar[str] = "case.mediator_assigned"
    mediator_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class PartyReplied(DomainEvent):
    name: ClassVar[str] = "party.replied"
    party_id: uuid.UUID = field(default_factory=uuid.uuid4)
    meeting_id: uuid.UUID | None = None
    answer: str = ""
    poll_id: uuid.UUID | None = None  # set when the answer is to an availability poll


@dataclass(frozen=True)
class AttendanceFinal(DomainEvent):
    name: ClassVar[str] = "attendance.final"
    meeting_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class OutcomeRecorded(DomainEvent):
    name: ClassVar[str] = "outcome.recorded"
    meeting_id: uuid.UUID = field(default_factory=uuid.uuid4)
    result: str = ""


@dataclass(frozen=True)
class CertificateIssued(DomainEvent):
    name: ClassVar[str] = "certificate.issued"
    certificate_id: uuid.UUID = field(default_factory=uuid.uuid4)
    kind: str = ""


@dataclass(frozen=True)
class EventContext:
    """What subscribers may need beyond the session: settings and the time."""

    settings: Settings
    now: datetime


Subscriber = Callable[[AsyncSession, Any, EventContext], Awaitable[None]]


class EventBus:
    """Synchronous, in-transaction fan-out of domain events to subscribers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._subscribers: dict[type[DomainEvent], list[Subscriber]] = defaultdict(list)
        self._everything: list[Subscriber] = []

    def subscribe(self, event_type: type[DomainEvent], subscriber: Subscriber) -> None:
        self._subscribers[event_type].append(subscriber)

    def subscribe_all(self, subscriber: Subscriber) -> None:
        self._everything.append(subscriber)

    async def emit(self, session: AsyncSession, event: DomainEvent) -> None:
        """Run every subscriber of ``event`` in the caller's transaction, in order."""
        context = EventContext(settings=self.settings, now=event.at)
        for subscriber in self._subscribers.get(type(event), []):
            await subscriber(session, event, context)
        for subscriber in self._everything:
            await subscriber(session, event, context)
