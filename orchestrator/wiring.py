"""Who reacts to what: every event subscriber and every outbox handler, in one place.

A use-case emits a domain event inside its transaction (``booking.book`` emits
``MeetingBooked``); the subscribers below turn it into outbox rows that commit with it:

- ``invitations``: a meeting booked, moved or cancelled, a party added or removed → the
  calendar invitations (iMIP), updates and cancellations.
- ``notices``: a case created, a party added, a mediator assigned → the notices by email.
- ``reminders``: any change of a meeting or its people → the reminder plan, re-derived.
- ``meeting_texts``: a meeting booked, moved or cancelled → text messages to phone people
  and those with only a mobile (when GOV.UK Notify is configured).
- ``meeting_letters``: a meeting booked or moved → a letter to people with neither email
  nor a mobile (when Notify is configured to post letters).
- ``webhooks``: every event → one signed delivery per subscribing case-system endpoint.

The dispatcher then delivers each row by its kind (``outbox_handlers``). The web service
(``orchestrator.web.app``) and the commands (``orchestrator mail ingest``) build the same
bus, so a reply piped in by a mail server queues exactly what one posted to the service does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import aiohttp

from integrations.base import MailBackend
from orchestrator.core.db import Database
from orchestrator.core.events import EventBus
from orchestrator.core.metrics import Metrics
from orchestrator.core.models import OutboxKind
from orchestrator.core.settings import Settings
from orchestrator.meeting.provider_calls import ProviderCalls
from orchestrator.meeting.providers import Providers
from orchestrator.messaging import (
    invitations,
    meeting_letters,
    meeting_texts,
    notices,
    reminders,
    webhook_deliveries,
    webhook_events,
)
from orchestrator.messaging.letters import letter_handler
from orchestrator.messaging.mail_backend import build_notify_client
from orchestrator.messaging.outbox import Handler, mail_handler
from orchestrator.messaging.reminders import ChangeHook
from orchestrator.messaging.text_messages import text_handler


def build_bus(settings: Settings, *, on_reminder_change: ChangeHook | None = None) -> EventBus:
    """The event bus with every subscriber; ``on_reminder_change`` wakes a running scheduler."""
    bus = EventBus(settings)
    invitations.install(bus)
    notices.install(bus)
    reminders.install(bus, on_change=on_reminder_change)
    meeting_texts.install(bus)
    meeting_letters.install(bus)
    bus.subscribe_all(webhook_events.on_event)
    return bus


def outbox_handlers(
    *,
    db: Database,
    settings: Settings,
    clock: Callable[[], datetime],
    metrics: Metrics,
    mail: MailBackend,
    http: aiohttp.ClientSession,
    providers: Providers,
) -> dict[OutboxKind, Handler]:
    """Who delivers each kind of outbox row (text messages only when Notify can send them)."""
    handlers: dict[OutboxKind, Handler] = {
        OutboxKind.email: mail_handler(mail),
        OutboxKind.webhook: webhook_deliveries.delivery_handler(db=db, http=http, clock=clock),
        OutboxKind.provider_call: ProviderCalls(
            db=db, providers=providers, settings=settings, clock=clock, metrics=metrics
        ),
    }
    notify = build_notify_client(settings, http)
    if notify is not None and settings.notify_sms_template_id:
        handlers[OutboxKind.sms] = text_handler(
            notify, template_id=settings.notify_sms_template_id, db=db, clock=clock
        )
    if notify is not None and settings.sends_letters:
        handlers[OutboxKind.letter] = letter_handler(notify, db=db, clock=clock)
    return handlers
