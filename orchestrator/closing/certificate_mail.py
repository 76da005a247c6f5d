"""Send an issued certificate to the family and the LA: one email each, the PDF attached,
or, to someone with no email and no mobile, a letter with the certificate enclosed.

The mail goes through the outbox, so a mail outage delays a certificate but never loses it;
``deliveries`` reads back, for staff, whom each one went to and whether it has gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.imip import build_plain_message
from orchestrator.closing.certificate_pdf import CertificateText, certificate_story, text_styles
from orchestrator.core.models import (
    FAMILY_ROLES,
    Case,
    Certificate,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Party,
    PartyRole,
    is_person_name,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import posts_to
from orchestrator.messaging.letters import queue_letter
from orchestrator.messaging.outbox import email_payload, enqueue

# Who receives the certificate: the family (the appellant) and the LA.
RECIPIENT_ROLES = FAMILY_ROLES | {PartyRole.la_officer}


@dataclass(frozen=True)
class Delivery:
    """One certificate email: to whom, and how its sending stands."""

    party: Party | None  # None once the party's row is gone
    email: str
    status: OutboxStatus
    queued_at: datetime
    sent_at: datetime | None


def _key_prefix(certificate: Certificate) -> str:
    return f"certificate-{certificate.id.hex}-"


async def send_certificate(
    session: AsyncSession,
    *,
    case: Case,
    certificate: Certificate,
    text: CertificateText,
    pdf: bytes,
    now: datetime,
    parties: list[Party],
    settings: Settings,
) -> int:
    """Queue one email per recipient, each with the PDF attached; return how many."""
    sent = 0
    for party in parties:
        if party.role in RECIPIENT_ROLES and posts_to(party, settings):
            sent += await _post_certificate(session, party, certificate, text, settings, now)
        if party.role not in RECIPIENT_ROLES or not party.email:
            continue
        # Built like every other mail of the service (calendars.imip): a Date header, and
        # headers folded by the classic folder. The modern one moved a subject that just
        # missed the first line wholly onto the next, so readers saw it start with a space.
        message = build_plain_message(
            subject=f"{text.title} {certificate.number} (case {case.reference})",
            from_name=settings.mail_from_name or settings.service_name,
            from_addr=settings.mail_from,
            # A name stored before names were checked may not go in a header: the bare address.
            to_name=party.name if is_person_name(party.name) else "",
            to_addr=party.email,
            text_body=_letter(
                party, case=case, certificate=certificate, text=text, settings=settings
            ),
            html_body=None,
            message_id_key=f"cert-{certificate.id.hex}-{party.id.hex}",
            domain=settings.mail_from.rsplit("@", 1)[-1] or "localhost",
            date=now,
            attachments=[(f"{certificate.number}.pdf", "pdf", pdf)],
        )
        await enqueue(
            session,
            kind=OutboxKind.email,
            topic="certificate",
            idempotency_key=f"{_key_prefix(certificate)}{party.id.hex}",
            payload=email_payload(message, to=[party.email]),
            now=now,
            case_id=case.id,
            meeting_id=certificate.meeting_id,
        )
        sent += 1
    return sent


async def deliveries(
    session: AsyncSession, *, certificate: Certificate, parties: list[Party]
) -> list[Delivery]:
    """Each email this certificate was queued as, with its recipient, oldest first."""
    prefix = _key_prefix(certificate)
    rows = await session.scalars(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.topic) == "certificate",
            col(OutboxMessage.idempotency_key).startswith(prefix),
        )
        .order_by(col(OutboxMessage.created_at))
    )
    by_hex = {p.id.hex: p for p in parties}
    return [
        Delivery(
            party=by_hex.get(row.idempotency_key.removeprefix(prefix)),
            email=", ".join(str(to) for to in row.payload.get("to", [])),
            status=row.status,
            queued_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in rows.all()
    ]


async def _post_certificate(
    session: AsyncSession,
    party: Party,
    certificate: Certificate,
    text: CertificateText,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue the certificate by post: a covering letter, the certificate on the next page."""
    return await queue_letter(
        session,
        party=party,
        kind="certificate",
        key=f"letter:{_key_prefix(certificate)}{party.id.hex}",
        context={"number": certificate.number, "appeal": text.appeal},
        settings=settings,
        now=now,
        meeting_id=certificate.meeting_id,
        enclosure=certificate_story(text, text_styles()),
    )


def _letter(
    party: Party, *, case: Case, certificate: Certificate, text: CertificateText, settings: Settings
) -> str:
    """The email's words: what is attached, what it certifies, the appeal deadline."""
    lines = [
        f"Dear {party.name},",
        "",
        f"Please find attached {text.title.lower()} {certificate.number} for case "
        f"{case.reference}.",
        "",
        text.statement,
        "",
        text.appeal,
        "",
        "Please keep this certificate: the Tribunal will ask for it with an appeal.",
        "",
        f"{settings.service_name}" + (f" - {settings.help_line}" if settings.help_line else ""),
    ]
    return "\n".join(lines)
