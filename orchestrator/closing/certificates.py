"""Certificates: numbered PDFs for the family's Tribunal appeal, stored and sent by email.

Four kinds: after a mediation, after a mediation information (MIAS) session, when the
family declines mediation, and when the LA says it cannot arrange mediation within 30
days. Each is due 3 working days after its event, carries the appeal deadline it implies,
is stored under the data directory, and is emailed to the family and the LA through the
outbox (so a mail outage delays it but never loses it).
"""

from __future__ import annotations

import functools
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select
from sqlmodel._compat import SQLModelConfig

from calendars import wording
from calendars.clocks import appeal_deadline, certificate_due
from calendars.imip import build_plain_message
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle
from orchestrator.closing.outcomes import MEDIATION_HELD, session_date
from orchestrator.core.db import after_transaction
from orchestrator.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from orchestrator.core.events import CertificateIssued, EventBus
from orchestrator.core.models import (
    FAMILY_ROLES,
    ROLE_WORDS,
    Case,
    CaseKind,
    CaseStatus,
    CaseStatusCause,
    Certificate,
    CertificateKind,
    Mediator,
    Meeting,
    MeetingStatus,
    OutboxKind,
    Outcome,
    Party,
    PartyRole,
    is_person_name,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging import consent
from orchestrator.messaging.outbox import email_payload, enqueue

TITLES = {
    CertificateKind.mediation: "Mediation certificate",
    CertificateKind.mias: "Mediation information certificate",
    CertificateKind.declined: "Mediation certificate: mediation declined",
    CertificateKind.missed_30_days: "Mediation certificate: mediation not arranged in 30 days",
}
CASE_KIND_WORDS = {
    CaseKind.mediation: "SEND mediation",
    CaseKind.disagreement_resolution: "Disagreement resolution",
    CaseKind.mias: "Mediation information and advice",
}
# Who receives the certificate: the family (the appellant) and the LA.
RECIPIENT_ROLES = FAMILY_ROLES | {PartyRole.la_officer}
_NUMBER_ATTEMPTS = 20
# A meeting in one of these states is still going to happen (or is happening).
_LIVE_MEETING = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)


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


def certificates_dir(settings: Settings) -> Path:
    return settings.data_dir / "certificates"


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


# ---------------------------------------------------------------------------- the PDF


@dataclass(frozen=True)
class CertificateText:
    """Everything printed on a certificate, already worded."""

    title: str
    number: str
    issued_on: date
    reference: str
    local_authority: str
    case_kind: str
    statement: str
    parties: list[tuple[str, str, str]]  # role, name, organisation
    mediator: str | None
    appeal: str
    service_name: str
    help_line: str


FONTS = Path(__file__).parent.parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


@functools.cache
def _register_fonts() -> None:
    """DejaVu Sans (in the package, under its licence in fonts/): every name in Latin,
    Greek or Cyrillic script, Vietnamese included, prints as written. PDF's built-in
    Helvetica knows only Latin-1 and silently loses "Łucja" or "Şebnem"."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, FONTS / f"{FONT}.ttf"))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, FONTS / f"{FONT_BOLD}.ttf"))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)


def remove_on_rollback(session: AsyncSession, path: Path) -> None:
    """Delete ``path`` if the transaction that wrote it rolls back.

    The file is written before the commit that records it, so a crash can never leave a
    certificate row without its PDF. The price is the other way round: a transaction that
    fails after the write would leave a PDF that nothing refers to, with names in it that
    no retention run would ever find. This takes it away again.
    """

    def settled(committed: bool) -> None:
        if not committed:
            path.unlink(missing_ok=True)

    after_transaction(session, ("certificate", path), settled)


def render_pdf(text: CertificateText) -> bytes:
    """Lay the certificate out on one A4 page and return the PDF bytes."""
    # Imported here: reportlab takes a noticeable part of a second to load, and only
    # issuing a certificate needs it.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        # The metadata is visible to anyone with the file: a number, never a name.
        title=f"{text.title} {text.number}",
        author=text.service_name,
        subject="Certificate for an appeal to the First-tier Tribunal (SEND)",
        lang="en-GB",
        displayDocTitle=True,
        invariant=True,
    )
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=FONT, fontSize=11, leading=15)
    strong = ParagraphStyle("strong", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=FONT_BOLD)

    def para(value: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(value), style)

    facts = [
        ["Certificate number", text.number],
        ["Date of issue", wording.date_only(text.issued_on)],
        ["Case reference", text.reference],
        ["Local authority", text.local_authority],
        ["Type of case", text.case_kind],
    ]
    if text.mediator:
        facts.append(["Mediator", text.mediator])
    fact_table = Table(
        [[para(a, strong), para(b)] for a, b in facts], colWidths=[55 * mm, 115 * mm]
    )
    fact_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [
        Paragraph(escape(text.title), title),
        para(text.service_name, strong),
        Spacer(1, 6 * mm),
        fact_table,
        Spacer(1, 6 * mm),
        para(text.statement),
        Spacer(1, 4 * mm),
    ]
    if text.parties:
        rows = [[para("Role", strong), para("Name", strong), para("Organisation", strong)]]
        rows += [[para(r), para(n), para(o)] for r, n, o in text.parties]
        party_table = Table(rows, colWidths=[45 * mm, 65 * mm, 60 * mm], repeatRows=1)
        party_table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [para("The parties", strong), party_table, Spacer(1, 6 * mm)]
    story += [
        para("Appeal deadline", strong),
        para(text.appeal),
        Spacer(1, 8 * mm),
        para(
            f"Issued by {text.service_name}. Questions about this certificate: "
            f"call {text.help_line}."
            if text.help_line
            else f"Issued by {text.service_name}."
        ),
    ]
    doc.build(story)
    return buffer.getvalue()


# ---------------------------------------------------------------------------- issuing


DR_DECLINED_TITLE = "Certificate: disagreement resolution did not take place"


def _title(kind: CertificateKind, case: Case) -> str:
    if kind is CertificateKind.declined and case.kind is CaseKind.disagreement_resolution:
        return DR_DECLINED_TITLE
    return TITLES[kind]


def _statement(
    kind: CertificateKind,
    event_date: date,
    outcome: Outcome | None,
    case_kind: CaseKind,
    declined_by: Party | None = None,
) -> str:
    day = wording.date_only(event_date)
    if kind is CertificateKind.declined and case_kind is CaseKind.disagreement_resolution:
        # Voluntary for everyone: here it is the other side, not the family, that said no.
        who = (
            f"the other party ({ROLE_WORDS[declined_by.role]})"
            if declined_by is not None
            else "the other party"
        )
        return (
            f"Disagreement resolution was requested, and on {day} {who} said it would not "
            "take part, so it did not take place."
        )
    if kind is CertificateKind.mediation:
        if outcome is not None and outcome.result not in MEDIATION_HELD:
            return (
                f"Mediation was arranged for {day} but did not take place: a party did not "
                "attend or could not be contacted."
            )
        return f"Mediation took place on {day}."
    if kind is CertificateKind.mias:
        return (
            f"The parent or young person received information and advice about mediation on {day}."
        )
    if kind is CertificateKind.declined:
        return (
            f"The parent or young person was given information about mediation and on {day} "
            "decided not to go to mediation."
        )
    return (
        f"On {day} the local authority said it could not arrange mediation within 30 days "
        "of being told that the parent or young person wanted it."
    )


def _appeal_words(deadline: date | None, issued: date) -> str:
    if deadline is not None:
        return (
            f"An appeal to the First-tier Tribunal (Special Educational Needs and Disability) "
            f"must be made by {wording.date_only(deadline)}."
        )
    return (
        "An appeal to the First-tier Tribunal (Special Educational Needs and Disability) must "
        "be made by the later of two months from the local authority's decision and one "
        f"month from the date of this certificate ({wording.date_only(issued)})."
    )


async def _next_number(session: AsyncSession, prefix: str, year: int) -> int:
    stem = f"{prefix}-{year}-"
    latest = await session.scalar(
        select(func.max(Certificate.number)).where(col(Certificate.number).startswith(stem))
    )
    return int(str(latest).rsplit("-", 1)[1]) + 1 if latest else 1


async def _event_for(
    session: AsyncSession, *, case: Case, request: CertificateRequest
) -> tuple[date, Meeting | None, Outcome | None]:
    """The date the certificate speaks of, and the meeting and outcome behind it, if any."""
    kind = request.kind
    if kind is CertificateKind.mediation and case.kind is CaseKind.mias:
        raise ValidationFailed("an information session gets a mias certificate")
    session_kind = CertificateKind.mias if case.kind is CaseKind.mias else CertificateKind.mediation
    if kind is session_kind:
        query = select(Outcome).where(col(Outcome.case_id) == case.id)
        if request.meeting_id is not None:
            query = query.where(col(Outcome.meeting_id) == request.meeting_id)
        outcome = await session.scalar(query.order_by(col(Outcome.recorded_at).desc()).limit(1))
        if outcome is not None:
            meeting = await session.get(Meeting, outcome.meeting_id)
            assert meeting is not None
            # Recording the latest outcome set the day the session really ended.
            if request.meeting_id is None and case.certificate_event_on is not None:
                return case.certificate_event_on, meeting, outcome
            return session_date(case, meeting), meeting, outcome
        if kind is CertificateKind.mediation:
            raise ValidationFailed("record the meeting's outcome before its mediation certificate")
    if kind is CertificateKind.mias:
        # Ending the call set the day it took place (session_control.end); else the adviser says.
        event_date = request.event_date or case.certificate_event_on
        if event_date is None:
            raise ValidationFailed("give the event_date of the information session")
        return event_date, None, None
    if kind is CertificateKind.declined:
        event_date = request.event_date or case.declined_on
        if event_date is None:
            raise ValidationFailed(f"give the event_date on which {_declined_words(case)}")
        await _refuse_while_booked(session, case)
        case.declined_on = event_date
        return event_date, None, None
    if case.kind is not CaseKind.mediation:
        raise ValidationFailed("the 30-day duty applies to mediation cases only")
    event_date = request.event_date or case.la_cannot_meet_30_days_on
    if event_date is None:
        raise ValidationFailed("give the event_date on which the LA said it cannot meet 30 days")
    case.la_cannot_meet_30_days_on = event_date
    return event_date, None, None


def _declined_words(case: Case) -> str:
    """Who said no, for a declined certificate: the family, or in disagreement resolution
    (voluntary for everyone) the other party."""
    if case.kind is CaseKind.disagreement_resolution:
        return "the other party said it would not take part"
    return "the family declined mediation"


async def _refuse_while_booked(session: AsyncSession, case: Case) -> None:
    """A case that was declined cannot also have a meeting booked: cancel it first."""
    meeting = await session.scalar(
        select(Meeting)
        .where(col(Meeting.case_id) == case.id, col(Meeting.status).in_(_LIVE_MEETING))
        .order_by(col(Meeting.start_at))
        .limit(1)
    )
    if meeting is None:
        return
    day = wording.date_only(meeting.start_at.astimezone(ZoneInfo(case.timezone)).date())
    raise InvalidState(
        f"a meeting is still booked for {day}: cancel it (everyone is told) before "
        f"issuing the certificate that says {_declined_words(case)}",
        details={"meeting_id": str(meeting.id)},
    )


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
    if request.event_date is not None and request.event_date > now.date():
        raise ValidationFailed("event_date cannot be in the future")
    event_date, meeting, outcome = await _event_for(session, case=case, request=request)
    duplicate = await session.scalar(
        select(Certificate).where(
            col(Certificate.case_id) == case.id,
            col(Certificate.kind) == request.kind,
            col(Certificate.event_date) == event_date,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"certificate {duplicate.number} was already issued for this",
            details={"certificate_id": str(duplicate.id), "number": duplicate.number},
        )
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    appeal = appeal_deadline(case.decision_date, today, calendar) if case.decision_date else None
    parties = list(
        (
            await session.scalars(
                select(Party)
                .where(col(Party.case_id) == case.id, col(Party.removed_at).is_(None))
                .order_by(col(Party.created_at))
            )
        ).all()
    )
    mediator_id = (meeting.mediator_id if meeting else None) or case.mediator_id
    mediator = await session.get(Mediator, mediator_id) if mediator_id else None

    certificate = Certificate(
        case_id=case.id,
        meeting_id=meeting.id if meeting else None,
        kind=request.kind,
        number="",
        event_date=event_date,
        due_date=certificate_due(event_date, calendar),
        issued_at=now,
        appeal_deadline=appeal,
    )
    sequence = await _next_number(session, settings.certificate_prefix, today.year)
    for _ in range(_NUMBER_ATTEMPTS):
        certificate.number = f"{settings.certificate_prefix}-{today.year}-{sequence:05d}"
        try:
            async with session.begin_nested():
                session.add(certificate)
                await session.flush()
            break
        except IntegrityError:  # another replica took the number a moment ago
            sequence += 1
    else:
        raise Conflict("could not number the certificate; please try again")

    text = CertificateText(
        title=_title(request.kind, case),
        number=certificate.number,
        issued_on=today,
        reference=case.reference,
        local_authority=case.local_authority,
        case_kind=CASE_KIND_WORDS[case.kind],
        statement=_statement(
            request.kind,
            event_date,
            outcome,
            case.kind,
            await consent.declined_by(session, case)
            if request.kind is CertificateKind.declined
            else None,
        ),
        parties=[(ROLE_WORDS[p.role], p.name, p.organisation or "") for p in parties],
        mediator=mediator.name if mediator else None,
        appeal=_appeal_words(appeal, today),
        service_name=settings.service_name,
        help_line=settings.help_line,
    )
    pdf = render_pdf(text)
    folder = certificates_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    # Named for this row, not only its number: a transaction that took the number and rolled
    # back can never remove (or be overwritten by) the file of the one that took it next.
    path = folder / f"{certificate.number}-{certificate.id.hex}.pdf"
    path.write_bytes(pdf)
    remove_on_rollback(session, path)
    certificate.document_path = str(path)
    certificate.sha256 = hashlib.sha256(pdf).hexdigest()

    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.certificate_issued,
        cause=CaseStatusCause.certificate_issued,
        actor=actor,
        now=now,
    )
    case.updated_at = now
    await session.flush()

    on_time = today <= certificate.due_date
    summary = f"{_title(request.kind, case)} {certificate.number} issued"
    summary += " on time" if on_time else f" late (due {certificate.due_date.isoformat()})"
    if appeal is not None:
        summary += f"; appeal deadline {appeal.isoformat()}"
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
    sent = await _send(
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
            case_id=case.id, at=now, certificate_id=certificate.id, kind=request.kind.value
        ),
    )
    return certificate


async def _send(
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
        if party.role not in RECIPIENT_ROLES or not party.email:
            continue
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
            text_body="\n".join(lines),
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
            idempotency_key=f"certificate-{certificate.id.hex}-{party.id.hex}",
            payload=email_payload(message, to=[party.email]),
            now=now,
            case_id=case.id,
            meeting_id=certificate.meeting_id,
        )
        sent += 1
    return sent


async def get_certificate(session: AsyncSession, certificate_id: uuid.UUID) -> Certificate:
    certificate = await session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("certificate", certificate_id)
    return certificate


async def list_certificates(session: AsyncSession, *, case_id: uuid.UUID) -> list[Certificate]:
    query = (
        select(Certificate)
        .where(col(Certificate.case_id) == case_id)
        .order_by(col(Certificate.issued_at))
    )
    return list((await session.scalars(query)).all())


def read_pdf(certificate: Certificate) -> bytes:
    """The stored PDF; NotFound once retention has removed it."""
    if not certificate.document_path:
        raise NotFound("certificate document", certificate.id)
    try:
        return Path(certificate.document_path).read_bytes()
    except FileNotFoundError:
        raise NotFound("certificate document", certificate.id) from None
