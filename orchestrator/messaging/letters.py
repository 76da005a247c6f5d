"""Letters by post, for people with neither an email address nor a mobile.

A letter's words are Jinja templates in ``mail_templates/letters/`` (``poll``, ``meeting``,
``certificate``): a heading line, then paragraphs parted by blank lines. ``queue_letter``
lays it out as a PDF (``letter_pdf``) in the caller's transaction and queues it once under
its idempotency key, with a ``Delivery`` row for its person, like a text message; the
outbox posts the same bytes to GOV.UK Notify as a precompiled letter (the key is Notify's
``reference``), so an outage delays a letter but never sends it twice. The address is in
the PDF only: never in a log line, a timeline entry or the outbox's other columns.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from integrations.notify import NotifyClient, Sent
from orchestrator.cases import timeline
from orchestrator.core.db import Database
from orchestrator.core.models import OutboxKind, OutboxMessage, Party
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.letter_pdf import LetterText, render_letter
from orchestrator.messaging.outbox import Clock, Handler
from orchestrator.messaging.outgoing_mail import already_queued
from orchestrator.messaging.text_messages import notify_handler, queue_for, words_environment

# What each letter is, as the case page and the timeline name it.
LETTER_WORDS = {
    "poll": "asking when they can meet",
    "meeting": "with the meeting's details",
    "certificate": "with the certificate",
}


def address_of(party: Party) -> list[str]:
    """The lines Notify prints on the envelope: the name, the address, the postcode last."""
    lines = (party.postal_address or "").splitlines()
    return [party.name, *[line for line in lines if line.strip()], party.postcode or ""]


def letter_words(kind: str, context: dict[str, Any]) -> tuple[str, list[str]]:
    """The heading and the paragraphs of one letter, from its template."""
    text = words_environment("letters").get_template(f"{kind}.txt").render(context)
    blocks = [block.strip() for block in text.split("\n\n")]
    blocks = [block for block in blocks if block]
    return blocks[0], blocks[1:]


async def queue_letter(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    key: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    meeting_id: uuid.UUID | None = None,
    enclosure: Sequence[Any] = (),
) -> bool:
    """Lay out and queue one letter to this person; False if it was queued before."""
    if await already_queued(session, key):
        return False
    values = {"service_name": settings.service_name, "help_line": settings.help_line}
    values.update(name=party.name, **context)
    heading, paragraphs = letter_words(kind, values)
    pdf = render_letter(
        LetterText(
            address=address_of(party),
            dated=wording.date_only(now, zone=settings.timezone),
            heading=heading,
            paragraphs=paragraphs,
            service_name=settings.service_name,
            enclosure=enclosure,
        )
    )
    await queue_for(
        session,
        party=party,
        kind=OutboxKind.letter,
        key=key,
        payload={
            "pdf": base64.b64encode(pdf).decode("ascii"),
            "postage": settings.notify_letter_postage,
        },
        topic=f"letter.{kind}",
        now=now,
        meeting_id=meeting_id,
    )
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        meeting_id=meeting_id,
        kind="letter.queued",
        summary=f"A letter {LETTER_WORDS[kind]} queued for "
        f"{timeline.a_party(party.role, first=False)}",
        at=now,
    )
    return True


def letter_handler(client: NotifyClient, *, db: Database, clock: Clock) -> Handler:
    """Post ``letter`` rows through Notify as precompiled letters, the stored PDF as it is."""

    async def send(message: OutboxMessage) -> Sent:
        return await client.send_precompiled_letter(
            pdf=base64.b64decode(str(message.payload["pdf"])),
            reference=message.idempotency_key,
            postage=str(message.payload.get("postage") or "second"),
        )

    return notify_handler(send, db=db, clock=clock)
