"""``orchestrator mail ingest < message.eml``: apply a calendar reply (or a bounce) piped in
by a mail server.

The reply reaches the same subscribers as one posted to the service (``orchestrator.wiring``),
so an acceptance queues the same webhooks and reminders either way.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from orchestrator.cli.runner import load_settings, run_with_database
from orchestrator.core.db import Database


def ingest() -> None:
    """Read one raw message from stdin (a mail server's pipe); apply it if it is a reply."""
    from orchestrator.messaging import inbound_mail
    from orchestrator.messaging.bounces import MalformedReport
    from orchestrator.wiring import build_bus

    settings = load_settings()
    raw = sys.stdin.buffer.read(settings.inbound_mail_max_bytes + 1)
    if len(raw) > settings.inbound_mail_max_bytes:
        sys.exit("message is too large")
    bus = build_bus(settings)

    async def work(db: Database) -> str:
        async with db.write() as session:
            return await inbound_mail.ingest(session, raw, now=datetime.now(UTC), bus=bus)

    try:
        outcome = run_with_database(work, settings=settings)
    except MalformedReport:
        sys.exit("the delivery-status report could not be read")
    print(outcome)
