"""Mail from the service: rendered in the caller's transaction and queued once under its key.

Every message leaves from the service's own address, with a Message-ID made in its domain
from the idempotency key, so a retried transaction or a repeated event never queues the
same mail twice. ``send_plain`` is the ordinary mail (notices, reminders, chasers); the
calendar invitations are packaged in ``itip_mail`` on the same envelope and queued through
``queue_email``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email.message import Message
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.imip import build_plain_message
from orchestrator.cases import links
from orchestrator.core.models import Case, LinkScope, OutboxKind, OutboxMessage, Party
from orchestrator.core.settings import Settings
from orchestrator.mail_templates import RenderedMail, render_mail
from orchestrator.messaging import outbox


class Envelope(TypedDict):
    """What every mail of the service carries besides its content type: the message builders'
    shared keyword arguments."""

    subject: str
    from_name: str
    from_addr: str
    to_name: str
    to_addr: str
    text_body: str
    html_body: str
    message_id_key: str
    domain: str
    date: datetime


def mail_domain(settings: Settings) -> str:
    """The host name of the organiser address: Message-IDs are made in it."""
    return settings.mail_from.rsplit("@", 1)[-1].lower() or "localhost"


def organizer_name(settings: Settings) -> str:
    return settings.mail_from_name or settings.service_name


def envelope(
    settings: Settings, *, to_name: str, to_addr: str, body: RenderedMail, key: str, now: datetime
) -> Envelope:
    """From the service to one person, its Message-ID made from ``key``, dated ``now``."""
    return Envelope(
        subject=body.subject,
        from_name=organizer_name(settings),
        from_addr=settings.mail_from,
        to_name=to_name,
        to_addr=to_addr,
        text_body=body.text,
        html_body=body.html,
        message_id_key=key,
        domain=mail_domain(settings),
        date=now,
    )


async def already_queued(session: AsyncSession, key: str) -> bool:
    """True when a message with this idempotency key is in the outbox already."""
    found = await session.scalar(
        select(OutboxMessage.id).where(col(OutboxMessage.idempotency_key) == key)
    )
    return found is not None


async def queue_email(
    session: AsyncSession,
    message: Message,
    *,
    to_addr: str,
    key: str,
    topic: str,
    now: datetime,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None,
) -> None:
    """Put one built mail in the outbox, for one address, under its idempotency key."""
    row = outbox_email(
        message,
        to_addr=to_addr,
        key=key,
        topic=topic,
        now=now,
        case_id=case_id,
        meeting_id=meeting_id,
    )
    await outbox.enqueue_all(session, [row])


async def send_plain(
    session: AsyncSession,
    *,
    kind: str,
    key: str,
    to_name: str,
    to_addr: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None = None,
    easy_read: bool = False,
    language: str | None = None,
) -> bool:
    """Render and queue an ordinary mail (notices, reminders, chasers); False if queued before."""
    if await already_queued(session, key):
        return False
    message = plain_message(
        kind=kind,
        key=key,
        to_name=to_name,
        to_addr=to_addr,
        context=context,
        settings=settings,
        now=now,
        easy_read=easy_read,
        language=language,
    )
    await queue_email(
        session,
        message,
        to_addr=to_addr,
        key=key,
        topic=kind,
        now=now,
        case_id=case_id,
        meeting_id=meeting_id,
    )
    return True


async def send_own_link(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    scope: LinkScope,
    kind: str,
    key: str,
    url_name: str,
    settings: Settings,
    now: datetime,
    short: bool = False,
    context: dict[str, Any] | None = None,
) -> bool:
    """Issue one party their own link of ``scope`` and email it (once per ``key``); the
    mail's template gets it as ``url_name`` (by its short alias when ``short``)."""
    if party.email is None or await already_queued(session, key):
        return False
    link = await links.issue(
        session,
        case_id=case.id,
        scope=scope,
        now=now,
        ttl=timedelta(days=settings.link_ttl_days),
        party_id=party.id,
    )
    secret = settings.secret_key.get_secret_value()
    url = (links.short_url_for if short else links.url_for)(
        link, base_url=settings.base_url, secret=secret
    )
    return await send_plain(
        session,
        kind=kind,
        key=key,
        to_name=party.name,
        to_addr=party.email,
        context={
            "recipient_name": party.name,
            "reference": case.reference,
            url_name: url,
            **(context or {}),
        },
        settings=settings,
        now=now,
        case_id=case.id,
        easy_read=party.easy_read,
        language=party.language,
    )


def plain_message(
    *,
    kind: str,
    key: str,
    to_name: str,
    to_addr: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    easy_read: bool = False,
    language: str | None = None,
) -> Message:
    """Render an ordinary mail, from the service to one person, its Message-ID from ``key``."""
    values = {"service_name": settings.service_name, "help_line": settings.help_line}
    values.update(context)
    body = render_mail(kind, values, easy_read=easy_read, language=language)
    return build_plain_message(
        **envelope(settings, to_name=to_name, to_addr=to_addr, body=body, key=key, now=now)
    )


def outbox_email(
    message: Message,
    *,
    to_addr: str,
    key: str,
    topic: str,
    now: datetime,
    case_id: uuid.UUID | None,
    meeting_id: uuid.UUID | None,
) -> OutboxMessage:
    """The outbox row that sends a built mail to one address (for ``outbox.enqueue_all``)."""
    return OutboxMessage(
        kind=OutboxKind.email,
        topic=topic,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[to_addr]),
        next_attempt_at=now,
        created_at=now,
        case_id=case_id,
        meeting_id=meeting_id,
    )
