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
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from integrations.notify import NotifyClient, NotifyError
from orchestrator.core import languages
from orchestrator.core.db import Database
from orchestrator.core.models import Delivery, DeliveryStatus, OutboxKind, OutboxMessage, Party
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import TEMPLATES
from orchestrator.messaging import outbox
from orchestrator.messaging.channels import mobile_number
from orchestrator.messaging.outbox import Clock, Handler
from orchestrator.messaging.outgoing_mail import already_queued


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / "sms")),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # noqa: S701 - a text message is never read as markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    languages.install(env)
    return env


def render_text(kind: str, context: dict[str, Any], *, language: str | None = None) -> str:
    """The words of one text message in the person's language, blank lines taken out."""
    values = {**context, **languages.context_for(language)}
    text = _environment().get_template(f"{kind}.txt").render(values)
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
    message = await outbox.enqueue(
        session,
        kind=OutboxKind.sms,
        idempotency_key=key,
        payload={"to": number, "body": render_text(kind, values, language=party.language)},
        now=now,
        topic=f"text.{kind}",
        case_id=party.case_id,
        meeting_id=meeting_id,
    )
    session.add(
        Delivery(
            message_id=message.id,
            case_id=party.case_id,
            party_id=party.id,
            channel=OutboxKind.sms,
            updated_at=now,
        )
    )
    return True


def text_handler(client: NotifyClient, *, template_id: str, db: Database, clock: Clock) -> Handler:
    """Deliver ``sms`` rows through Notify; note Notify's id on the person's delivery row.

    A 400 from Notify (not a mobile, a missing field) marks the row refused with its reason
    before the outbox marks the message failed; outages and 429s are retried by the outbox.
    """

    async def handle(message: OutboxMessage) -> int | None:
        try:
            sent = await client.send_sms(
                phone_number=str(message.payload["to"]),
                template_id=template_id,
                personalisation={"body": str(message.payload["body"])},
                reference=message.idempotency_key,
            )
        except NotifyError as exc:
            await _note(db, message, clock(), status=DeliveryStatus.refused, reason=str(exc))
            raise
        await _note(db, message, clock(), status=DeliveryStatus.sending, provider_id=sent.id)
        return 201

    return handle


async def _note(
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
