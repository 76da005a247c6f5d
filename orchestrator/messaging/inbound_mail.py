"""Mail sent to the organiser address: a bounce about our own mail, or a calendar reply.

The inbound-mail hook and ``orchestrator mail ingest`` both hand each raw message here, so
a message piped in by a mail server does exactly what one posted to the service does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.events import EventBus
from orchestrator.messaging import bounces, replies


async def ingest(session: AsyncSession, raw: bytes, *, now: datetime, bus: EventBus) -> str:
    """Apply one raw message; say what came of it. Raises bounces.MalformedReport."""
    report = bounces.read_report(raw)
    if report is not None:
        return await bounces.record_bounce(session, report, now=now)
    return (await replies.ingest_mail(session, raw, now=now, bus=bus)).outcome
