"""The outbox: side effects written in the caller's transaction, delivered afterwards.

A use-case calls ``enqueue`` inside its own transaction, so the email, webhook or provider
call exists exactly when the change that caused it does. The ``Dispatcher`` then claims
due rows atomically (a conditional UPDATE that only one worker or replica can win),
delivers them with no transaction open, and records the result: sent, retried later with
exponential backoff and jitter, or stopped for a person to look at.

Delivery is at-least-once at the wire and made exactly-once for the receiver by the
idempotency key: the mail file name and Message-ID, the webhook event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.base import MailBackend
from integrations.errors import IntegrationError
from orchestrator.core import bulk_insert
from orchestrator.core.db import (
    Database,
    after_transaction,
    is_unavailable,
    log_failure,
)
from orchestrator.core.errors import NotFound
from orchestrator.core.metrics import Metrics
from orchestrator.core.models import OutboxKind, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- waking up

# Dispatchers running in this process; each is woken when a transaction that queued a
# message commits, so a message goes out at once rather than at the next poll - and never
# before the row it needs is visible (a wake before the commit finds nothing to claim).
_RUNNING: set[Dispatcher] = set()
_QUEUED = "outbox.queued"


def _queued(session: AsyncSession) -> None:
    after_transaction(session, _QUEUED, _wake_if_committed)


def _wake_if_committed(committed: bool) -> None:
    if committed:
        for dispatcher in list(_RUNNING):
            dispatcher.wake()


Clock = Callable[[], datetime]
Handler = Callable[[OutboxMessage], Awaitable[int | None]]
OUTBOX_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]


async def enqueue(
    session: AsyncSession,
    *,
    kind: OutboxKind,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
    topic: str = "",
    case_id: uuid.UUID | None = None,
    meeting_id: uuid.UUID | None = None,
    endpoint_id: uuid.UUID | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue a side effect in the caller's transaction; the same key twice is one message.

    One ``INSERT ... ON CONFLICT DO NOTHING``: a key queued before (by this transaction or
    a concurrent one that committed first) is left as it is, and that message is returned.
    """
    message = OutboxMessage(
        kind=kind,
        topic=topic,
        idempotency_key=idempotency_key,
        payload=payload,
        next_attempt_at=not_before or now,
        created_at=now,
        case_id=case_id,
        meeting_id=meeting_id,
        endpoint_id=endpoint_id,
    )
    if not await enqueue_all(session, [message]):
        existing = await session.scalar(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key) == idempotency_key)
        )
        assert existing is not None
        return existing
    return message


async def enqueue_all(session: AsyncSession, messages: list[OutboxMessage]) -> set[uuid.UUID]:
    """Queue many messages in one statement; a key queued before is left as it is.

    Returns the ids of the messages actually queued.
    """
    queued = await bulk_insert.insert_new(session, messages)
    if queued:
        _queued(session)
    return queued


def email_payload(message: Message, *, to: list[str]) -> dict[str, Any]:
    """The stored form of a fully rendered message: retries send exactly these bytes."""
    sender = parseaddr(str(message.get("From", "")))[1]
    return {
        "to": to,
        "from": sender,
        "raw": message.as_bytes().decode("utf-8", errors="surrogateescape"),
    }


def email_bytes(payload: Mapping[str, Any]) -> bytes:
    """The stored message, byte for byte as it was rendered."""
    return str(payload["raw"]).encode("utf-8", errors="surrogateescape")


def email_from_payload(payload: Mapping[str, Any]) -> EmailMessage:
    parsed = message_from_bytes(email_bytes(payload), policy=policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


def mail_handler(backend: MailBackend) -> Handler:
    """Deliver ``email`` rows through a mail backend: the stored bytes, not re-rendered."""

    async def handle(message: OutboxMessage) -> int | None:
        payload = message.payload
        if payload.get("from"):
            await backend.send_raw(
                email_bytes(payload),
                sender=str(payload["from"]),
                recipients=[str(to) for to in payload["to"]],
                idempotency_key=message.idempotency_key,
            )
        else:  # a row stored without its envelope sender: read it from the message
            await backend.send(email_from_payload(payload), idempotency_key=message.idempotency_key)
        return None

    return handle


@dataclass
class DeliveryPolicy:
    max_attempts: int = 12
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    lease_s: float = 300.0
    batch_size: int = 10  # a replica killed mid-batch resends at most this many (same Message-ID)

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** max(attempts - 1, 0)))
        return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


class Dispatcher:
    """Claims due outbox rows and hands each to the handler for its kind."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[OutboxKind, Handler],
        *,
        clock: Clock,
        metrics: Metrics | None = None,
        policy: DeliveryPolicy | None = None,
        worker_id: str | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.clock = clock
        self.metrics = metrics
        self.policy = policy or DeliveryPolicy()
        self.worker_id = worker_id or uuid.uuid4().hex
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now rather than at the next poll (call after a commit that enqueued)."""
        self._wake.set()

    async def claim(self) -> list[OutboxMessage]:
        """Take up to a batch of due rows for this worker; another worker can't take them."""
        now = self.clock()
        due = and_(
            col(OutboxMessage.status) == OutboxStatus.pending,
            col(OutboxMessage.next_attempt_at) <= now,
            or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now),
            col(OutboxMessage.kind).in_(list(self.handlers)),
        )
        async with self.db.write() as session:
            ids = (
                await session.scalars(
                    select(OutboxMessage.id)
                    .where(due)
                    .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.created_at))
                    .limit(self.policy.batch_size)
                )
            ).all()
            if not ids:
                return []
            lease = now + timedelta(seconds=self.policy.lease_s)
            # One conditional UPDATE: a row another worker took in between no longer matches.
            await session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids), due)
                .values(claimed_by=self.worker_id, claimed_until=lease)
            )
            claimed = (
                await session.scalars(
                    select(OutboxMessage).where(
                        col(OutboxMessage.id).in_(ids),
                        col(OutboxMessage.claimed_by) == self.worker_id,
                        col(OutboxMessage.claimed_until) == lease,
                    )
                )
            ).all()
        return list(claimed)

    async def _finish(self, results: list[tuple[OutboxMessage, dict[str, Any]]]) -> None:
        """Record the outcome of a batch in one transaction, one executemany per outcome shape.

        Rows that ended the same way (sent; failed and retried; dead) set the same columns,
        so each group is one UPDATE statement run for all its rows.
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for message, values in results:
            params = {f"v_{name}": value for name, value in values.items()}
            params["k_id"] = message.id
            groups.setdefault(tuple(sorted(values)), []).append(params)
        async with self.db.write() as session:
            for columns, rows in groups.items():
                statement = (
                    update(OUTBOX_TABLE)
                    .where(
                        OUTBOX_TABLE.c.id == bindparam("k_id"),
                        OUTBOX_TABLE.c.claimed_by == self.worker_id,
                    )
                    .values(
                        claimed_by=None,
                        claimed_until=None,
                        **{name: bindparam(f"v_{name}") for name in columns},
                    )
                )
                await session.execute(statement, rows)

    async def attempt(self, message: OutboxMessage) -> dict[str, Any]:
        """Run one claimed message through its handler; return the row's new values."""
        handler = self.handlers[message.kind]
        attempts = message.attempts + 1
        values: dict[str, Any]
        try:
            status_code = await handler(message)
        except IntegrationError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            code = getattr(exc, "status", None)
            values = {"attempts": attempts, "last_error": error, "last_status_code": code}
            if exc.retryable and attempts < self.policy.max_attempts:
                values["next_attempt_at"] = self.clock() + self.policy.backoff(attempts)
            else:
                values["status"] = OutboxStatus.dead if exc.retryable else OutboxStatus.failed
            log.warning(
                "outbox %s delivery of %s failed (%s), attempt %d",
                message.kind.value,
                message.id,
                type(exc).__name__,
                attempts,
            )
        except Exception as exc:  # a bug in a handler must not stop the dispatcher
            log_failure(log, exc, "outbox handler failed on %s", message.id)
            values = {
                "attempts": attempts,
                "last_error": f"internal error: {type(exc).__name__}",
                "next_attempt_at": self.clock() + self.policy.backoff(attempts),
            }
            if attempts >= self.policy.max_attempts:
                values["status"] = OutboxStatus.dead
        else:
            values = {
                "attempts": attempts,
                "status": OutboxStatus.sent,
                "sent_at": self.clock(),
                "last_error": None,
                "last_status_code": status_code,
            }
        if self.metrics is not None:
            result = values.get("status", OutboxStatus.pending)
            self.metrics.outbox_delivered.labels(message.kind.value, result.value).inc()
        return values

    async def deliver(self, message: OutboxMessage) -> OutboxStatus:
        """Attempt one claimed message and record what happened."""
        values = await self.attempt(message)
        await self._finish([(message, values)])
        status: OutboxStatus = values.get("status", OutboxStatus.pending)
        return status

    async def run_once(self) -> int:
        """Deliver everything due now; return how many messages were attempted."""
        total = 0
        while True:
            held_until = self.clock() + timedelta(seconds=self.policy.lease_s)
            batch = await self.claim()
            if not batch:
                return total
            # Different messages go out concurrently; each one is still attempted once, and
            # the whole batch's results are written in one transaction.
            outcomes = await asyncio.gather(*(self.attempt(message) for message in batch))
            await self._record(list(zip(batch, outcomes, strict=True)), held_until=held_until)
            total += len(batch)

    async def _record(
        self, results: list[tuple[OutboxMessage, dict[str, Any]]], *, held_until: datetime
    ) -> None:
        """Write a batch's results, waiting out a database outage while the lease holds.

        The messages have gone out: were their results dropped, the rows would be sent
        again once the lease ran out. Until then no other worker can take them, so
        waiting for the database to come back keeps "sent once" through a restart.
        """
        while True:
            try:
                await self._finish(results)
                return
            except Exception as exc:
                if not is_unavailable(exc) or self.clock() >= held_until:
                    raise
                log.warning("outbox: database unreachable; keeping %d results", len(results))
            await asyncio.sleep(self.poll_s)

    async def run_forever(self) -> None:
        _RUNNING.add(self)
        try:
            await self._run_forever()
        finally:
            _RUNNING.discard(self)

    async def _run_forever(self) -> None:
        while True:
            self._wake.clear()  # before the pass: a commit during it wakes the next one
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarting, for instance: try again shortly
                log_failure(log, exc, "outbox dispatcher pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.kind, func.count())
        .where(col(OutboxMessage.status) == OutboxStatus.pending)
        .group_by(OutboxMessage.kind)
    )
    return {kind.value if hasattr(kind, "value") else str(kind): n for kind, n in rows.all()}


async def redeliver(
    session: AsyncSession, *, message_id: uuid.UUID, now: datetime
) -> OutboxMessage:
    """Put a failed or dead message back in the queue (by hand, after fixing the cause)."""
    message = await session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("outbox message", message_id)
    message.status = OutboxStatus.pending
    message.next_attempt_at = now
    message.claimed_by = None
    message.claimed_until = None
    _queued(session)
    await session.flush()
    return message
