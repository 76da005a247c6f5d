"""Bounces as mail servers send them: RFC 3464 reports about our own outgoing mail."""

from __future__ import annotations

from email.parser import HeaderParser

from sqlmodel import col, select

from orchestrator.core.db import Database
from orchestrator.core.models import OutboxKind, OutboxMessage

TOKEN = "inbound-mail-token"


def dsn(
    *,
    recipient: str,
    message_id: str,
    action: str = "failed",
    status: str = "5.1.1",
    original: str | None = None,
) -> bytes:
    """A delivery-status report as Postfix writes one, the original's headers returned."""
    return (
        "From: MAILER-DAEMON@mx.family.example\r\n"
        "To: mediation@localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.family.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{original or recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "\r\n"
        "--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n"
        f"To: {recipient}\r\n"
        "Subject: Your meeting\r\n"
        "--B--\r\n"
    ).encode()


async def message_id_to(db: Database, address: str) -> str:
    """The Message-ID of the newest email the service queued to this address."""
    async with db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.email)
            .order_by(col(OutboxMessage.created_at).desc())
        )
        for message in rows.all():
            if address in message.payload.get("to", []):
                headers = HeaderParser().parsestr(str(message.payload["raw"]), headersonly=True)
                return str(headers["Message-ID"])
    raise AssertionError(f"no mail to {address}")
