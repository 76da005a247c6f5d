"""Bounces: RFC 3464 delivery-status reports that come back to the organiser address.

A mail server that cannot deliver our mail sends a ``multipart/report;
report-type=delivery-status`` to the envelope sender (our own address, so it arrives by the
inbound-mail hook). Its second part gives, per recipient, ``Final-Recipient``, ``Action``
and ``Status``; its third returns the original message, or its headers, with our
``Message-ID`` (each one unguessable, made from the outbox idempotency key).

A report counts only when its Message-ID is one we sent, to the address it says failed,
and that address is a person on that message's case: then ``Action: failed`` with a 5.x.x
status marks their delivery failed (``deliveries.email_failed``). Anything else (delays,
successes, other people's addresses, ids we never made) changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import DeliveryStatus, OutboxKind, OutboxMessage, Party
from orchestrator.messaging import deliveries

log = logging.getLogger(__name__)


class MalformedReport(ValueError):
    """A delivery-status report without the fields RFC 3464 requires."""


@dataclass(frozen=True)
class Failure:
    """One recipient a report says the message could not be delivered to."""

    addresses: tuple[str, ...]  # Final-Recipient, then Original-Recipient when it differs
    status: str  # "5.1.1"


@dataclass(frozen=True)
class Report:
    message_id: str | None
    failures: list[Failure]


def read_report(raw: bytes) -> Report | None:
    """The report in ``raw``; None when it is not a delivery-status report at all.

    Raises MalformedReport when it says it is one but lacks a per-recipient field.
    """
    mail = message_from_bytes(raw, policy=policy.compat32)
    report = next((p for p in mail.walk() if _is_report(p)), None)
    if report is None:
        return None
    parts = _parts(report)
    if not parts:
        raise MalformedReport("a report without parts")
    status = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
    if status is None:
        raise MalformedReport("a report without its delivery-status part")
    return Report(message_id=_original_id(parts, mail), failures=_failures(status))


def _parts(message: Message) -> list[Message]:
    payload = message.get_payload()
    if not isinstance(payload, list):
        return []
    return [part for part in payload if isinstance(part, Message)]


def _is_report(part: Message) -> bool:
    return (
        part.get_content_type() == "multipart/report"
        and str(part.get_param("report-type") or "").lower() == "delivery-status"
    )


def _failures(status: Message) -> list[Failure]:
    """Each recipient block whose Action is failed and Status permanent (5.x.x)."""
    blocks = _parts(status)
    if len(blocks) < 2:
        raise MalformedReport("no per-recipient fields")
    failures = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        recipient, action = block.get("Final-Recipient"), block.get("Action")
        code = str(block.get("Status") or "").strip()
        if not recipient or not action or not code:
            raise MalformedReport("Final-Recipient, Action and Status are required")
        addresses = tuple(
            dict.fromkeys(
                a for a in (_address(recipient), _address(block.get("Original-Recipient"))) if a
            )
        )
        if addresses and str(action).strip().lower() == "failed" and code.startswith("5."):
            failures.append(Failure(addresses, code[:20]))
    return failures


def _address(field: object) -> str | None:
    """The mailbox of an ``rfc822; someone@example.org`` field; None for another kind."""
    kind, _, address = str(field or "").partition(";")
    address = address.strip().strip("<>").lower()
    return address if kind.strip().lower() == "rfc822" and "@" in address else None


def _original_id(parts: list[Message], mail: Message) -> str | None:
    """Our Message-ID: from the returned message or its headers, else the report's reference."""
    for part in parts[2:]:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            original = inner[0] if isinstance(inner, list) and inner else None
        elif part.get_content_type() == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            original = message_from_bytes(bytes(text), policy=policy.compat32)
        else:
            continue
        if isinstance(original, Message) and original.get("Message-ID"):
            return str(original["Message-ID"]).strip()
    for header in ("In-Reply-To", "References"):
        value = str(mail.get(header) or "").split()
        if value:
            return value[0].strip()
    return None


async def record_bounce(session: AsyncSession, report: Report, *, now: datetime) -> str:
    """Mark the person's delivery failed for each failure the report proves; say what came of it.

    ``bounced`` when someone was marked, ``unknown_message`` when the id is not one of our
    messages to that address, ``not_a_failure`` when the report says nothing failed.
    """
    if not report.failures:
        return "not_a_failure"
    if not report.message_id:
        return "unknown_message"
    marked = 0
    for failure in report.failures:
        for address in failure.addresses:
            message = await _message_to(session, address, report.message_id)
            if message is None:
                continue
            delivery = await deliveries.email_failed(
                session,
                message=message,
                address=address,
                status=DeliveryStatus.permanent_failure,
                reason=f"bounced: {failure.status}",
                now=now,
            )
            if delivery is not None:
                marked += 1
                break
    if not marked:
        log.info("a bounce for a message we cannot match: ignored")
        return "unknown_message"
    return "bounced"


async def _message_to(session: AsyncSession, address: str, message_id: str) -> OutboxMessage | None:
    """Our email with this Message-ID on a case where someone has this address, if any."""
    cases = select(Party.case_id).where(func.lower(Party.email) == address)
    rows = await session.scalars(
        select(OutboxMessage).where(
            col(OutboxMessage.kind) == OutboxKind.email,
            col(OutboxMessage.case_id).in_(cases),
        )
    )
    for message in rows.all():
        raw = str(message.payload.get("raw") or "")
        if HeaderParser().parsestr(raw, headersonly=True).get("Message-ID") == message_id:
            return message
    return None
