"""Text messages: their short words, queued once in the outbox with a delivery row, and sent.

The words are Jinja templates in ``mail_templates/sms/`` (``invite``, ``reminder``,
``cancel``), plain text of a few lines that name no one: no child, no case reference,
only what the person needs to come (the time, the number and their PIN, or the place).
Each text is queued under an idempotency key with a ``Delivery`` row for its person;
the outbox hands it to GOV.UK Notify's generic SMS template as its ``((body))``, with the
key as Notify's ``reference`` so the delivery receipt finds the row again.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from integrations.notify import NotifyClient, NotifyError, Sent
from orchestrator.core.db import Database
from orchestrator.core.models import Delivery, DeliveryStatus, OutboxKind, OutboxMessage, Party
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import TEMPLATES
from orchestrator.messaging import outbox
from orchestrator.messaging.channels import mobile_number
from orchestrator.messaging.outbox import Clock, Handler
from orchestrator.messaging.outgoing_mail import already_queued


@lru_cache(maxsize=2)
def words_environment(folder: str = "sms") -> jinja2.Environment:
    """The plain-text templates of one folder (``sms``, ``letters``), with gettext installed."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / folder)),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # noqa: S701 - a text message is never read as markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def render_text(kind: str, context: dict[str, Any]) -> str:
    """The words of one text message, its blank lines and trailing spaces taken out."""
    text = words_environment().get_template(f"{kind}.txt").render(context)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


async def queue_text(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    key: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    meeting_id: uuid.UUID | None = None,
) -> bool:
    """Render and queue one text to this person; False if queued before or no mobile."""
    number = mobile_number(party.phone)
    if number is None or await already_queued(session, key):
        return False
    values = {"service_name": settings.service_name, "help_line": settings.help_line}
    values.update(context)
    await queue_for(
        session,
        party=party,
        kind=OutboxKind.sms,
        key=key,
        payload={"to": number, "body": render_text(kind, values)},
        topic=f"text.{kind}",
        now=now,
        meeting_id=meeting_id,
    )
    return True


async def queue_for(
    session: AsyncSession,
    *,
    party: Party,
    kind: OutboxKind,
    key: str,
    payload: dict[str, Any],
    topic: str,
    now: datetime,
    meeting_id: uuid.UUID | None,
) -> OutboxMessage:
    """Queue one message to one person with the ``Delivery`` row its receipts will move on."""
    message = await outbox.enqueue(
        session,
        kind=kind,
        idempotency_key=key,
        payload=payload,
        now=now,
        topic=topic,
        case_id=party.case_id,
        meeting_id=meeting_id,
    )
    session.add(
        Delivery(
            message_id=message.id,
            case_id=party.case_id,
            party_id=party.id,
            channel=kind,
            updated_at=now,
        )
    )
    return message


def notify_handler(
    send: Callable[[OutboxMessage], Awaitable[Sent]], *, db: Database, clock: Clock
) -> Handler:
    """Deliver rows with ``send``; note Notify's id, or its refusal, on the delivery row.

    A 400 from Notify (not a mobile, a missing field, a PDF it cannot print) marks the row
    refused with its reason before the outbox marks the message failed; outages and 429s
    are retried by the outbox.
    """

    async def handle(message: OutboxMessage) -> int | None:
        try:
            sent = await send(message)
        except NotifyError as exc:
            await note_delivery(
                db, message, clock(), status=DeliveryStatus.refused, reason=str(exc)
            )
            raise
        await note_delivery(
            db, message, clock(), status=DeliveryStatus.sending, provider_id=sent.id
        )
        return 201

    return handle


def text_handler(client: NotifyClient, *, template_id: str, db: Database, clock: Clock) -> Handler:
    """Deliver ``sms`` rows through Notify's generic text template."""

    async def send(message: OutboxMessage) -> Sent:
        return await client.send_sms(
            phone_number=str(message.payload["to"]),
            template_id=template_id,
            personalisation={"body": str(message.payload["body"])},
            reference=message.idempotency_key,
        )

    return notify_handler(send, db=db, clock=clock)


async def note_delivery(
    db: Database,
    message: OutboxMessage,
    now: datetime,
    *,
    status: DeliveryStatus,
    provider_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Move a queued delivery on (a receipt that arrived first is not overwritten)."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if provider_id is not None:
        values["provider_id"] = provider_id[:64]
    if reason is not None:
        values["reason"] = reason[:300]
    async with db.write() as session:
        await session.execute(
            update(Delivery)
            .where(
                col(Delivery.message_id) == message.id,
                col(Delivery.status) == DeliveryStatus.queued,
            )
            .values(**values)
        )
