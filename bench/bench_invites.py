"""Render and send invites through SmtpMailBackend against raw aiosmtplib, in one run.

1,000 bookings x 5 recipients: each invite is built (build_request + build_invite_message),
stored in the outbox's form and delivered from it to a local aiosmtpd through SmtpMailBackend. The baseline sends the same
pre-rendered bytes over one raw aiosmtplib connection to the same server. Target ratio >= 0.5.

    .venv/bin/python bench/bench_invites.py [--bookings 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from aiosmtpd.controller import Controller

from calendars.imip import build_invite_message
from calendars.invite_spec import Attendee, EventSpec, JoinDetails, Organizer, uid_for_meeting
from calendars.invite_text import when_text
from calendars.invites import build_request
from integrations.mail_smtp import SmtpConfig, SmtpMailBackend

LONDON = ZoneInfo("Europe/London")
RECIPIENTS = 5


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


class EphemeralController(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        # aiosmtpd types the server as AbstractServer; every loop's server has ``sockets``.
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


def booking(n: int) -> EventSpec:
    start = datetime(2026, 3, 2, 10, tzinfo=LONDON) + timedelta(days=n % 300, hours=n % 5)
    return EventSpec(
        uid=uid_for_meeting(f"meeting-{n}", "mediate.example"),
        sequence=0,
        start=start,
        end=start + timedelta(hours=3),
        tzid="Europe/London",
        summary="SEND mediation meeting",
        description="Please have your EHC plan and any reports to hand.",
        organizer=Organizer("Mediation Service", "mediation@mediate.example"),
        attendees=[
            Attendee(
                f"Person {n}-{r}",
                f"p{n}-{r}@example.com",
                "CHAIR" if r == 0 else ("REQ-PARTICIPANT" if r < 3 else "OPT-PARTICIPANT"),
            )
            for r in range(RECIPIENTS)
        ],
        dtstamp=datetime(2026, 3, 1, tzinfo=UTC),
    )


def render(spec: EventSpec, recipient: Attendee, key: str) -> Message:
    """Build one recipient's own invite with their own join link."""
    mine = replace(
        spec,
        join=JoinDetails(
            url=f"https://mediate.example/j/{key}",
            dial_in_number="+44 20 7946 0000",
            dial_in_pin="482913",
        ),
    )
    when = when_text(mine)
    return build_invite_message(
        method="REQUEST",
        ics=build_request(mine),
        subject=f"Invitation: {mine.summary}",
        from_name="Mediation Service",
        from_addr="mediation@mediate.example",
        to_name=recipient.name,
        to_addr=recipient.email,
        text_body=f"You are invited: {when}.",
        html_body=f"<p>You are invited: {when}.</p>",
        message_id_key=key,
        domain="mediate.example",
        date=mine.dtstamp,
    )


async def run_backend(port: int, bookings: int) -> tuple[float, list[tuple[str, str, bytes]]]:
    """Render every invite and deliver it the way the service does; return seconds and bytes.

    The service renders each invite once, in the booking's transaction, into the stored
    outbox form (``outbox.email_payload``), and delivers those bytes as they are
    (``send_raw``): that is the path timed here, rendering included.
    """
    from orchestrator.messaging.outbox import email_bytes, email_payload

    backend = SmtpMailBackend(SmtpConfig(host="127.0.0.1", port=port))
    sent: list[tuple[str, str, bytes]] = []
    began = time.perf_counter()
    try:
        for n in range(bookings):
            spec = booking(n)
            for r, recipient in enumerate(spec.attendees):
                key = f"outbox-{n}-{r}"
                payload = email_payload(render(spec, recipient, key), to=[recipient.email])
                data = email_bytes(payload)
                await backend.send_raw(
                    data, sender=payload["from"], recipients=payload["to"], idempotency_key=key
                )
                sent.append((recipient.email, key, data))
    finally:
        await backend.close()
    return time.perf_counter() - began, sent


async def run_baseline(port: int, rendered: list[tuple[str, str, bytes]]) -> float:
    """Send the pre-rendered bytes over one raw aiosmtplib connection."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    began = time.perf_counter()
    await client.connect()
    try:
        for to_addr, _key, data in rendered:
            await client.sendmail("mediation@mediate.example", [to_addr], data)
    finally:
        await client.quit()
    return time.perf_counter() - began


async def run_outbox(port: int, rendered: list[tuple[str, str, bytes]]) -> tuple[float, int]:
    """Deliver the same bytes the way the orchestrator does: outbox rows, claimed in batches by
    the Dispatcher, sent through SmtpMailBackend. Returns seconds and how many were sent."""
    import tempfile
    from pathlib import Path

    from sqlalchemy import insert

    from orchestrator.core.db import connect
    from orchestrator.core.migrate import upgrade_sync
    from orchestrator.core.models import OutboxKind, OutboxMessage
    from orchestrator.messaging.outbox import DeliveryPolicy, Dispatcher, mail_handler

    with tempfile.TemporaryDirectory(prefix="bench-invites-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'outbox.db'}"
        await asyncio.to_thread(upgrade_sync, url)
        db = connect(url)
        now = datetime.now(UTC)
        rows = [
            {
                "id": uuid.uuid4(),
                "kind": OutboxKind.email,
                "topic": "invite.request",
                "idempotency_key": key,
                # The stored form outbox.email_payload writes: envelope and rendered bytes.
                "payload": {
                    "to": [to_addr],
                    "from": "mediation@mediate.example",
                    "raw": data.decode("utf-8", "surrogateescape"),
                },
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for to_addr, key, data in rendered
        ]
        async with db.write() as session:
            for i in range(0, len(rows), 1000):
                await session.execute(insert(OutboxMessage), rows[i : i + 1000])
        backend = SmtpMailBackend(SmtpConfig(host="127.0.0.1", port=port))
        dispatcher = Dispatcher(
            db,
            {OutboxKind.email: mail_handler(backend)},
            clock=lambda: datetime.now(UTC),
            policy=DeliveryPolicy(batch_size=200),
        )
        began = time.perf_counter()
        sent = await dispatcher.run_once()
        elapsed = time.perf_counter() - began
        await backend.close()
        await db.dispose()
    return elapsed, sent


async def main(bookings: int) -> None:
    handler = CountingHandler()
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        # The backend's clock includes rendering (that is the work measured); the baseline
        # gets the very same messages already flattened to bytes.
        backend_s, rendered = await run_backend(controller.port, bookings)
        baseline_s = await run_baseline(controller.port, rendered)
        outbox_s, outbox_sent = await run_outbox(controller.port, rendered)
    finally:
        controller.stop()
    messages = len(rendered)
    assert outbox_sent == messages, "the outbox must deliver every message"
    assert handler.count == 3 * messages, "every message must have been delivered three times"
    backend_rate = messages / backend_s
    baseline_rate = messages / baseline_s
    print(f"messages per side: {messages} ({bookings} bookings x {RECIPIENTS} recipients)")
    print(f"render + SmtpMailBackend: {backend_rate:8.0f} msg/s ({backend_s:.2f} s)")
    print(f"raw aiosmtplib baseline : {baseline_rate:8.0f} msg/s ({baseline_s:.2f} s)")
    outbox_rate = messages / outbox_s
    print(f"outbox delivery (stored): {outbox_rate:8.0f} msg/s ({outbox_s:.2f} s)")
    ratio = backend_rate / baseline_rate
    verdict = "OK" if ratio >= 0.5 else "BELOW"
    print(f"ratio render+send/raw   : {ratio:.2f} (target >= 0.50) {verdict}")
    delivery = outbox_rate / baseline_rate
    verdict = "OK" if delivery >= 0.5 else "BELOW"
    print(f"ratio outbox/raw        : {delivery:.2f} (target >= 0.50) {verdict}")
    render_ms = (backend_s - messages / baseline_rate) / messages * 1000
    print(f"rendering per message   : {render_ms:.2f} ms (done once, in the booking transaction)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1000)
    asyncio.run(main(parser.parse_args().bookings))
