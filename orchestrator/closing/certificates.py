"""Certificates: numbered PDFs for the family's Tribunal appeal, stored and sent by email.

Four kinds: after a mediation, after a mediation information (MIAS) session, when the
family declines mediation, and when the LA says it cannot arrange mediation within 30
days. Each is due 3 working days after its event, carries the appeal deadline it implies,
is stored under the data directory, and is emailed to the family and the LA through the
outbox (so a mail outage delays it but never loses it).

This module numbers and issues them and looks them up. The event a certificate speaks of
is found in ``certificate_events``, its words in ``certificate_wording``, its page laid
out in ``certificate_pdf``, its file kept by ``certificate_files`` and its email sent by
``certificate_mail``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select
from sqlmodel._compat import SQLModelConfig

from calendars.clocks import appeal_deadline, certificate_due
from calendars.workdays import WorkingDays
from orchestrator.cases import roster, timeline
from orchestrator.closing.case_progress import move_case_on
from orchestrator.closing.certificate_events import event_for
from orchestrator.closing.certificate_files import store_pdf
from orchestrator.closing.certificate_mail import send_certificate
from orchestrator.closing.certificate_pdf import CertificateText, render_pdf
from orchestrator.closing.certificate_wording import (
    CASE_KIND_WORDS,
    appeal_words,
    statement,
    title,
)
from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import CertificateIssued, EventBus
from orchestrator.core.models import (
    ROLE_WORDS,
    Case,
    CaseStatus,
    Certificate,
    CertificateKind,
    Mediator,
    Meeting,
    Outcome,
    Party,
    PartyRole,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging import consent

_NUMBER_ATTEMPTS = 20


class CertificateRequest(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    kind: CertificateKind
    # The session, decline or LA notice date when the case does not already record it.
    event_date: date | None = None
    meeting_id: uuid.UUID | None = None


class CertificatePublic(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID
    meeting_id: uuid.UUID | None
    kind: CertificateKind
    number: str
    event_date: date
    due_date: date
    issued_at: datetime
    issued_on: date
    on_time: bool
    appeal_deadline: date | None
    pdf_url: str | None
    sha256: str | None


class CertificateList(SQLModel):
    certificates: list[CertificatePublic]


def issued_on(certificate: Certificate, case: Case) -> date:
    """The day of issue in the case's own zone."""
    return certificate.issued_at.astimezone(ZoneInfo(case.timezone)).date()


def certificate_public(certificate: Certificate, *, case: Case) -> CertificatePublic:
    day = issued_on(certificate, case)
    return CertificatePublic(
        **certificate.model_dump(exclude={"document_path"}),
        issued_on=day,
        on_time=day <= certificate.due_date,
        pdf_url=(
            f"/api/v1/certificates/{certificate.id}.pdf" if certificate.document_path else None
        ),
    )


# ---------------------------------------------------------------------------- issuing


async def issue_certificate(
    session: AsyncSession,
    *,
    case: Case,
    request: CertificateRequest,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    calendar: WorkingDays,
    actor: str | None = None,
) -> Certificate:
    """Number, render, store and send a certificate, and move the case's clocks on."""
    event_date, meeting, outcome = await _checked_event(
        session, case=case, request=request, now=now
    )
    certificate = _draft(
        case, meeting=meeting, kind=request.kind, event_date=event_date, now=now, calendar=calendar
    )
    year = issued_on(certificate, case).year
    await _take_number(session, certificate, prefix=settings.certificate_prefix, year=year)
    parties = await roster.list_parties(session, case_id=case.id)
    text = await _certificate_text(
        session,
        case=case,
        certificate=certificate,
        meeting=meeting,
        outcome=outcome,
        parties=parties,
        settings=settings,
    )
    pdf = render_pdf(text)
    store_pdf(session, certificate, pdf, settings)
    await move_case_on(session, case, CaseStatus.certificate_issued, actor=actor, now=now)
    await _announce(
        session,
        case=case,
        certificate=certificate,
        text=text,
        pdf=pdf,
        parties=parties,
        settings=settings,
        bus=bus,
        now=now,
        actor=actor,
    )
    return certificate


async def _checked_event(
    session: AsyncSession, *, case: Case, request: CertificateRequest, now: datetime
) -> tuple[date, Meeting | None, Outcome | None]:
    """The event the request speaks of; refused if it is in the future or already certified."""
    if request.event_date is not None and request.event_date > now.date():
        raise ValidationFailed("event_date cannot be in the future")
    event_date, meeting, outcome = await event_for(
        session,
        case=case,
        kind=request.kind,
        event_date=request.event_date,
        meeting_id=request.meeting_id,
    )
    await _refuse_duplicate(session, case=case, kind=request.kind, event_date=event_date)
    return event_date, meeting, outcome


def _draft(
    case: Case,
    *,
    meeting: Meeting | None,
    kind: CertificateKind,
    event_date: date,
    now: datetime,
    calendar: WorkingDays,
) -> Certificate:
    """The certificate before its number: its event, the day it is due, the appeal deadline."""
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    appeal = appeal_deadline(case.decision_date, today, calendar) if case.decision_date else None
    return Certificate(
        case_id=case.id,
        meeting_id=meeting.id if meeting else None,
        kind=kind,
        number="",
        event_date=event_date,
        due_date=certificate_due(event_date, calendar),
        issued_at=now,
        appeal_deadline=appeal,
    )


async def _refuse_duplicate(
    session: AsyncSession, *, case: Case, kind: CertificateKind, event_date: date
) -> None:
    """One certificate of a kind per event: a second request is told the number issued."""
    duplicate = await session.scalar(
        select(Certificate).where(
            col(Certificate.case_id) == case.id,
            col(Certificate.kind) == kind,
            col(Certificate.event_date) == event_date,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"certificate {duplicate.number} was already issued for this",
            details={"certificate_id": str(duplicate.id), "number": duplicate.number},
        )


async def _next_number(session: AsyncSession, prefix: str, year: int) -> int:
    stem = f"{prefix}-{year}-"
    latest = await session.scalar(
        select(func.max(Certificate.number)).where(col(Certificate.number).startswith(stem))
    )
    return int(str(latest).rsplit("-", 1)[1]) + 1 if latest else 1


async def _take_number(
    session: AsyncSession, certificate: Certificate, *, prefix: str, year: int
) -> None:
    """Give the certificate the next number of its year and insert it.

    Numbers are unique: when another replica took the number a moment ago, the next is tried.
    """
    sequence = await _next_number(session, prefix, year)
    for _ in range(_NUMBER_ATTEMPTS):
        certificate.number = f"{prefix}-{year}-{sequence:05d}"
        try:
            async with session.begin_nested():
                session.add(certificate)
                await session.flush()
            return
        except IntegrityError:  # another replica took the number a moment ago
            sequence += 1
    raise Conflict("could not number the certificate; please try again")


async def _certificate_text(
    session: AsyncSession,
    *,
    case: Case,
    certificate: Certificate,
    meeting: Meeting | None,
    outcome: Outcome | None,
    parties: list[Party],
    settings: Settings,
) -> CertificateText:
    """Word everything the certificate says; a declined one names who declined."""
    mediator_id = (meeting.mediator_id if meeting else None) or case.mediator_id
    mediator = await session.get(Mediator, mediator_id) if mediator_id else None
    declined_by: Party | None = None
    if certificate.kind is CertificateKind.declined:
        declined_by = await consent.declined_by(session, case)
    day = issued_on(certificate, case)
    return CertificateText(
        title=title(certificate.kind, case),
        number=certificate.number,
        issued_on=day,
        reference=case.reference,
        local_authority=case.local_authority,
        case_kind=CASE_KIND_WORDS[case.kind],
        statement=statement(
            certificate.kind,
            certificate.event_date,
            outcome,
            case.kind,
            declined_by,
            young_person=next((p for p in parties if p.role is PartyRole.young_person), None),
        ),
        parties=[(ROLE_WORDS[p.role], p.name, p.organisation or "") for p in parties],
        mediator=mediator.name if mediator else None,
        appeal=appeal_words(certificate.appeal_deadline, day),
        service_name=settings.service_name,
        help_line=settings.help_line,
    )


async def _announce(
    session: AsyncSession,
    *,
    case: Case,
    certificate: Certificate,
    text: CertificateText,
    pdf: bytes,
    parties: list[Party],
    settings: Settings,
    bus: EventBus,
    now: datetime,
    actor: str | None,
) -> None:
    """Put the issue on the timeline, email the certificate, and announce it."""
    summary = f"{text.title} {certificate.number} issued"
    if text.issued_on <= certificate.due_date:
        summary += " on time"
    else:
        summary += f" late (due {timeline.date_words(certificate.due_date)})"
    if certificate.appeal_deadline is not None:
        summary += f"; appeal deadline {timeline.date_words(certificate.appeal_deadline)}"
    add_timeline(
        session,
        case_id=case.id,
        meeting_id=certificate.meeting_id,
        kind="certificate.issued",
        summary=summary,
        at=now,
        actor=actor,
        details={"certificate_id": str(certificate.id), "number": certificate.number},
    )
    sent = await send_certificate(
        session,
        case=case,
        certificate=certificate,
        text=text,
        pdf=pdf,
        now=now,
        parties=parties,
        settings=settings,
    )
    if not sent:
        add_timeline(
            session,
            case_id=case.id,
            kind="certificate.not_emailed",
            summary=f"No email address for the family or the LA: send {certificate.number} by post",
            at=now,
            actor=actor,
        )
    await bus.emit(
        session,
        CertificateIssued(
            case_id=case.id, at=now, certificate_id=certificate.id, kind=certificate.kind.value
        ),
    )


# ---------------------------------------------------------------------------- reading


async def get_certificate(session: AsyncSession, certificate_id: uuid.UUID) -> Certificate:
    certificate = await session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("certificate", certificate_id)
    return certificate


async def meeting_certificate(session: AsyncSession, meeting_id: uuid.UUID) -> Certificate | None:
    """The certificate issued on this meeting's outcome, if there is one yet."""
    return await session.scalar(
        select(Certificate)
        .where(col(Certificate.meeting_id) == meeting_id)
        .order_by(col(Certificate.issued_at).desc())
        .limit(1)
    )


async def list_certificates(session: AsyncSession, *, case_id: uuid.UUID) -> list[Certificate]:
    query = (
        select(Certificate)
        .where(col(Certificate.case_id) == case_id)
        .order_by(col(Certificate.issued_at))
    )
    return list((await session.scalars(query)).all())
