"""Tell one person something after the meeting, each way they are reached: a mail to an
address, and a text where the service texts them (``channels.texts_person``).

Both go through the outbox under the caller's key (the text under ``text:<key>``), so a
repeated event or a retried transaction tells nobody twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.models import Party
from orchestrator.core.settings import Settings
from orchestrator.messaging import text_messages
from orchestrator.messaging.channels import texts_person
from orchestrator.messaging.outgoing_mail import send_plain


def has_a_link_way(party: Party, settings: Settings) -> bool:
    """True when a link can reach this person: by mail, or by a text (not by post)."""
    return party.removed_at is None and (bool(party.email) or texts_person(party, settings))


async def tell(
    session: AsyncSession,
    *,
    party: Party,
    kind: str,
    key: str,
    context: dict[str, Any],
    settings: Settings,
    now: datetime,
    meeting_id: uuid.UUID | None,
    mail: bool = True,
) -> bool:
    """Queue the ``kind`` mail (unless ``mail`` is False) and text; True if either was new."""
    queued = False
    if mail and party.email:
        queued = await send_plain(
            session,
            kind=kind,
            key=key,
            to_name=party.name,
            to_addr=party.email,
            context=context,
            settings=settings,
            now=now,
            case_id=party.case_id,
            meeting_id=meeting_id,
            easy_read=party.easy_read,
            language=party.language,
        )
    if texts_person(party, settings):
        texted = await text_messages.queue_text(
            session,
            party=party,
            kind=kind,
            key=f"text:{key}",
            context=context,
            settings=settings,
            now=now,
            meeting_id=meeting_id,
        )
        queued = queued or texted
    return queued
