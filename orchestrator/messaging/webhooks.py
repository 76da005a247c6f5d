"""Write-back: signed webhooks to external case systems, with a delivery log per endpoint.

An administrator registers an endpoint (URL, secret, event types). Every domain event that
an endpoint subscribes to becomes one outbox row in the transaction of the change itself;
the dispatcher then POSTs it signed (``integrations.casework_webhook``), retrying with
backoff. Each attempt is logged; a failed or dead delivery can be sent again by hand with
the same event id and body. Bodies carry ids, references and the facts the event reports,
never a person's name or contact details (``docs/webhooks.md``).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import aiohttp
from pydantic import WithJsonSchema, field_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel._compat import SQLModelConfig
from yarl import URL

from integrations.base import WebhookDelivery
from integrations.casework_webhook import (
    EVENT_TYPES,
    EventType,
    HttpCaseworkSink,
    WebhookRejected,
    encode_event,
)
from integrations.errors import IntegrationError
from orchestrator.closing.certificates import issued_on
from orchestrator.core.db import Database
from orchestrator.core.errors import NotFound, ValidationFailed
from orchestrator.core.events import (
    AttendanceFinal,
    CertificateIssued,
    DomainEvent,
    EventContext,
    MeetingRescheduled,
    OutcomeRecorded,
    PartyReplied,
)
from orchestrator.core.models import (
    Case,
    Certificate,
    Meeting,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Party,
    PollAnswer,
    PollAnswerValue,
    WebhookAttempt,
    WebhookEndpoint,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging.outbox import Handler, enqueue
from orchestrator.messaging.outbox import redeliver as outbox_redeliver

# ---------------------------------------------------------------------------- schemas


def known_events(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    return sorted(set(value), key=EVENT_TYPES.index)


# One event type by name; the schema lists them so a client (and a fuzzer) knows.
EventName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(EVENT_TYPES)})]


class WebhookEndpointCreate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    events: list[EventName] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field(default="", max_length=200)
    # Leave out to have one generated (it is shown once, in the answer).
    secret: str | None = Field(default=None, min_length=16, max_length=200)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return known_events(value)


class WebhookEndpointUpdate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = None

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else known_events(value)


class WebhookEndpointPublic(SQLModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str


class WebhookEndpointList(SQLModel):
    endpoints: list[WebhookEndpointPublic]


class DeliveryAttemptPublic(SQLModel):
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


class WebhookDeliveryPublic(SQLModel):
    message_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str
    event_type: str
    case_id: uuid.UUID | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    log: list[DeliveryAttemptPublic]


class WebhookDeliveryList(SQLModel):
    deliveries: list[WebhookDeliveryPublic]


# ---------------------------------------------------------------------------- endpoints


def _check_url(url: str, settings: Settings) -> str:
    parsed = URL(url)
    allowed = ("https",) if settings.env == "production" else ("https", "http")
    if parsed.scheme not in allowed or not parsed.host:
        raise ValidationFailed(
            "url must be an https:// URL"
            if settings.env == "production"
            else "url must be an http(s) URL",
            details={"field": "url"},
        )
    return url


def endpoint_public(endpoint: WebhookEndpoint) -> WebhookEndpointPublic:
    return WebhookEndpointPublic.model_validate(endpoint, from_attributes=True)


async def register_endpoint(
    session: AsyncSession, *, data: WebhookEndpointCreate, now: datetime, settings: Settings
) -> WebhookEndpoint:
    """Register a case system's endpoint; a secret is generated unless one is given."""
    endpoint = WebhookEndpoint(
        url=_check_url(data.url, settings),
        secret=data.secret or "whsec_" + secrets.token_urlsafe(32),
        events=list(data.events),
        description=data.description,
        created_at=now,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))
    return list((await session.scalars(query)).all())


async def update_endpoint(
    session: AsyncSession,
    *,
    endpoint: WebhookEndpoint,
    data: WebhookEndpointUpdate,
    settings: Settings,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events or description, or switch it off and on."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        _check_url(changes["url"], settings)
    for key, value in changes.items():
        setattr(endpoint, key, value)
    await session.flush()
    return endpoint


# ---------------------------------------------------------------------------- events → rows


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meeting_data(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": str(meeting.id),
        "start": _when(meeting.start_at),
        "end": _when(meeting.end_at),
        "mode": meeting.mode.value,
        "status": meeting.status.value,
        "sequence": meeting.calendar_sequence,
    }


async def poll_answer_counts(
    session: AsyncSession, poll_id: uuid.UUID, party_id: uuid.UUID
) -> dict[str, Any]:
    """How many offered times one party said yes, if need be and no to (not which ones)."""
    rows = await session.scalars(
        select(PollAnswer.answer).where(
            col(PollAnswer.poll_id) == poll_id, col(PollAnswer.party_id) == party_id
        )
    )
    answers = list(rows.all())
    counts: dict[str, Any] = {"id": str(poll_id)}
    counts.update({value.value: answers.count(value) for value in PollAnswerValue})
    return counts


async def event_data(session: AsyncSession, event: DomainEvent) -> dict[str, Any] | None:
    """The ``data`` of an event's webhook body: ids, references and facts; nothing personal."""
    case = await session.get(Case, event.case_id)
    if case is None:
        return None
    data: dict[str, Any] = {"case": {"id": str(case.id), "reference": case.reference}}
    if event.name == "case.created":
        data["case"].update(kind=case.kind.value, local_authority=case.local_authority)
    meeting_id = getattr(event, "meeting_id", None)
    if isinstance(meeting_id, uuid.UUID):
        meeting = await session.get(Meeting, meeting_id)
        if meeting is not None:
            data["meeting"] = _meeting_data(meeting)
    if isinstance(event, MeetingRescheduled) and event.previous_start:
        data["previous_start"] = event.previous_start
    if isinstance(event, PartyReplied):
        party = await session.get(Party, event.party_id)
        data["party"] = {"id": str(event.party_id), "role": party.role.value if party else None}
        data["answer"] = event.answer
        if event.poll_id is not None:
            data["poll"] = await poll_answer_counts(session, event.poll_id, event.party_id)
    if isinstance(event, AttendanceFinal | OutcomeRecorded):
        outcome = await session.scalar(
            select(Outcome).where(col(Outcome.meeting_id) == event.meeting_id)
        )
        if outcome is not None and isinstance(event, AttendanceFinal):
            data["attendance"] = [
                {
                    "party_id": row["party_id"],
                    "role": row["role"],
                    "attended": row["attended"],
                    "seconds_present": row["seconds_present"],
                    "channel": row["channel"],
                }
                for row in outcome.attendance
            ]
        if outcome is not None and isinstance(event, OutcomeRecorded):
            data["outcome"] = {
                "id": str(outcome.id),
                "result": outcome.result.value,
                "issues": len(outcome.issues),
                "issues_agreed": sum(1 for i in outcome.issues if i.get("agreed")),
                "next_steps": len(outcome.next_steps),
                "recorded_at": _when(outcome.recorded_at),
            }
    if isinstance(event, CertificateIssued):
        certificate = await session.get(Certificate, event.certificate_id)
        if certificate is not None:
            day = issued_on(certificate, case)
            data["certificate"] = {
                "id": str(certificate.id),
                "number": certificate.number,
                "kind": certificate.kind.value,
                "event_date": certificate.event_date.isoformat(),
                "due_date": certificate.due_date.isoformat(),
                "issued_at": _when(certificate.issued_at),
                "on_time": day <= certificate.due_date,
                "appeal_deadline": (
                    certificate.appeal_deadline.isoformat() if certificate.appeal_deadline else None
                ),
            }
            if certificate.meeting_id is not None and "meeting" not in data:
                meeting = await session.get(Meeting, certificate.meeting_id)
                if meeting is not None:
                    data["meeting"] = _meeting_data(meeting)
    return data


async def on_event(session: AsyncSession, event: DomainEvent, context: EventContext) -> None:
    """Queue one signed delivery per active endpoint that subscribes to this event."""
    if event.name not in EVENT_TYPES:
        return
    endpoints = [
        endpoint
        for endpoint in (
            await session.scalars(
                select(WebhookEndpoint).where(col(WebhookEndpoint.active).is_(True))
            )
        ).all()
        if event.name in endpoint.events
    ]
    if not endpoints:
        return
    data = await event_data(session, event)
    if data is None:
        return
    event_id = "evt_" + uuid.uuid4().hex
    body = encode_event(
        event_id=event_id,
        event_type=cast(EventType, event.name),
        occurred_at=event.at,
        data=data,
    )
    meeting_id = getattr(event, "meeting_id", None)
    for endpoint in endpoints:
        await enqueue(
            session,
            kind=OutboxKind.webhook,
            topic=event.name,
            idempotency_key=f"webhook-{endpoint.id.hex}-{event_id}",
            payload={"event_id": event_id, "type": event.name, "body": body.decode()},
            now=context.now,
            case_id=event.case_id,
            meeting_id=meeting_id if isinstance(meeting_id, uuid.UUID) else None,
            endpoint_id=endpoint.id,
        )


# ---------------------------------------------------------------------------- delivery


def delivery_handler(
    *, db: Database, http: aiohttp.ClientSession, clock: Callable[[], datetime]
) -> Handler:
    """Deliver ``webhook`` outbox rows to their endpoint and log every attempt."""
    sink = HttpCaseworkSink(http)

    async def handle(message: OutboxMessage) -> int | None:
        async with db.read() as session:
            endpoint = (
                await session.get(WebhookEndpoint, message.endpoint_id)
                if message.endpoint_id
                else None
            )
        if endpoint is None:
            raise WebhookRejected("the endpoint no longer exists")
        now = clock()
        try:
            if not endpoint.active:
                raise WebhookRejected("the endpoint is switched off")
            status = await sink.deliver(
                WebhookDelivery(
                    url=endpoint.url,
                    secret=endpoint.secret,
                    event_id=str(message.payload["event_id"]),
                    body=str(message.payload["body"]).encode(),
                ),
                now=now,
            )
        except IntegrationError as exc:
            await _log(db, message, endpoint, now, getattr(exc, "status", None), str(exc))
            raise
        await _log(db, message, endpoint, now, status, None)
        return status

    return handle


async def _log(
    db: Database,
    message: OutboxMessage,
    endpoint: WebhookEndpoint,
    at: datetime,
    status: int | None,
    error: str | None,
) -> None:
    async with db.write() as session:
        session.add(
            WebhookAttempt(
                message_id=message.id,
                endpoint_id=endpoint.id,
                at=at,
                status_code=status,
                error=error[:1000] if error else None,
                delivered=error is None,
            )
        )


async def deliveries(
    session: AsyncSession, *, endpoint_id: uuid.UUID, limit: int = 200
) -> list[WebhookDeliveryPublic]:
    """The endpoint's delivery log, newest first, each with its attempts."""
    messages = (
        await session.scalars(
            select(OutboxMessage)
            .where(
                col(OutboxMessage.endpoint_id) == endpoint_id,
                col(OutboxMessage.kind) == OutboxKind.webhook,
            )
            .order_by(col(OutboxMessage.created_at).desc())
            .limit(limit)
        )
    ).all()
    attempts: dict[uuid.UUID, list[DeliveryAttemptPublic]] = {m.id: [] for m in messages}
    if messages:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.message_id).in_(list(attempts)))
            .order_by(col(WebhookAttempt.at))
        )
        for row in rows:
            attempts[row.message_id].append(
                DeliveryAttemptPublic.model_validate(row, from_attributes=True)
            )
    return [
        WebhookDeliveryPublic(
            message_id=m.id,
            endpoint_id=endpoint_id,
            event_id=str(m.payload.get("event_id", "")),
            event_type=str(m.payload.get("type", m.topic)),
            case_id=m.case_id,
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            sent_at=m.sent_at,
            last_status_code=m.last_status_code,
            last_error=m.last_error,
            created_at=m.created_at,
            log=attempts[m.id],
        )
        for m in messages
    ]


async def redeliver(
    session: AsyncSession, *, message_id: uuid.UUID, now: datetime
) -> OutboxMessage:
    """Send a delivery again by hand: same event id and body, a fresh signature, full retries."""
    message = await session.get(OutboxMessage, message_id)
    if message is None or message.kind is not OutboxKind.webhook:
        raise NotFound("webhook delivery", message_id)
    message = await outbox_redeliver(session, message_id=message_id, now=now)
    message.attempts = 0  # every attempt stays in the log; the retry budget starts again
    message.last_error = None
    await session.flush()
    return message
