"""``orchestrator mail ingest < message.eml``: apply a calendar reply piped in by a mail server.

The reply reaches the same subscribers as one posted to the service (``orchestrator.wiring``),
so an acceptance queues the same webhooks and reminders either way.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from orchestrator.cli.runner import load_settings, run_with_database
from orchestrator.core.db import Database


def ingest() -> None:
    """Read one raw message from stdin (a mail server's pipe) and apply it if it is a reply."""
    from orchestrator.messaging.replies import ReplyResult, ingest_mail
    from orchestrator.wiring import build_bus

    settings = load_settings()
    raw = sys.stdin.buffer.read(settings.inbound_mail_max_bytes + 1)
    if len(raw) > settings.inbound_mail_max_bytes:
        sys.exit("message is too large")
    bus = build_bus(settings)

    async def work(db: Database) -> ReplyResult:
        async with db.write() as session:
            return await ingest_mail(session, raw, now=datetime.now(UTC), bus=bus)

    result = run_with_database(work, settings=settings)
    print(result.outcome)
