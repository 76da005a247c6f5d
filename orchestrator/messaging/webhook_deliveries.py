"""Delivering webhooks: the dispatcher's POST, a log of every attempt, and redelivery by hand.

The dispatcher POSTs each ``webhook`` outbox row signed (``integrations.casework_webhook``),
retrying with backoff. Each attempt is logged per endpoint; a failed or dead delivery can
be sent again by hand with the same event id and body.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from integrations.base import WebhookDelivery
from integrations.casework_webhook import HttpCaseworkSink, WebhookRejected
from integrations.errors import IntegrationError
from orchestrator.core.db import Database
from orchestrator.core.errors import NotFound
from orchestrator.core.models import (
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    WebhookAttempt,
    WebhookEndpoint,
)
from orchestrator.messaging.outbox import Handler
from orchestrator.messaging.outbox import redeliver as outbox_redeliver


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
