"""Lay the final written agreement out as an A4 PDF, the way certificates are laid out.

The same fonts and styles as ``certificate_pdf`` (DejaVu Sans, so every name prints as
written) and reportlab's invariant mode, so the same agreement always gives the same
bytes. The file is kept under the data directory beside the certificates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.closing.certificate_files import remove_on_rollback
from orchestrator.closing.certificate_pdf import TextStyles, a4_pdf
from orchestrator.core.models import ROLE_WORDS, Agreement, Case, Meeting
from orchestrator.core.settings import Settings

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

    from orchestrator.closing.agreements import AgreementView


@dataclass(frozen=True)
class AgreementText:
    """Everything printed on the agreement, already worded."""

    reference: str
    meeting_day: str
    parties: list[str]  # "Pat Jordan (Parent or carer)"
    issues: list[str]
    agreed_text: str
    actions: list[tuple[str, str, str]]  # who, what, by when
    service_name: str
    version: int


def agreement_text(
    case: Case, meeting: Meeting, view: AgreementView, *, settings: Settings
) -> AgreementText:
    return AgreementText(
        reference=case.reference,
        meeting_day=wording.date_only(meeting.start_at, zone=case.timezone),
        parties=[f"{a.party.name} ({ROLE_WORDS[a.party.role]})" for a in view.answers],
        issues=list(view.agreement.issues),
        agreed_text=view.agreement.agreed_text,
        actions=[
            (
                a.owner_label or "Everyone",
                a.action,
                wording.date_only(a.due_on) if a.due_on else "",
            )
            for a in view.actions
        ],
        service_name=settings.service_name,
        version=view.agreement.version,
    )


def render_pdf(text: AgreementText) -> bytes:
    """Lay the agreement out on A4 and return the PDF bytes."""
    return a4_pdf(
        lambda styles: _story(text, styles),
        # Visible to anyone with the file: the case reference, never a name.
        title=f"Mediation agreement {text.reference}",
        author=text.service_name,
    )


def _story(text: AgreementText, styles: TextStyles) -> list[Flowable]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    para = styles.para
    story: list[Flowable] = [
        Paragraph("Mediation agreement", styles.title),
        para(text.service_name, strong=True),
        para(f"Case {text.reference}, mediation meeting on {text.meeting_day}"),
        Spacer(1, 6 * mm),
        para("Agreed by", strong=True),
        *(para(p) for p in text.parties),
        Spacer(1, 4 * mm),
    ]
    if text.issues:
        story += [para("The issues", strong=True), *(para(f"• {i}") for i in text.issues)]
        story.append(Spacer(1, 4 * mm))
    story.append(para("What was agreed", strong=True))
    story += [para(line) for line in text.agreed_text.splitlines() if line.strip()]
    if text.actions:
        story += [Spacer(1, 4 * mm), para("Who will do what by when", strong=True)]
        for who, what, due in text.actions:
            story.append(para(f"{who}: {what}" + (f" – by {due}" if due else "")))
    story += [
        Spacer(1, 8 * mm),
        para(
            "Every party confirmed this agreement. If you are not happy with the outcome of "
            "mediation, you can still appeal to the Tribunal."
        ),
    ]
    return story


def store_pdf(session: AsyncSession, agreement: Agreement, pdf: bytes, settings: Settings) -> None:
    """Write the PDF under the data directory and record its path and SHA-256."""
    folder = settings.data_dir / "agreements"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{agreement.id.hex}-v{agreement.version}.pdf"
    path.write_bytes(pdf)
    remove_on_rollback(session, path)
    agreement.document_path = str(path)
    agreement.sha256 = hashlib.sha256(pdf).hexdigest()


def read_pdf(agreement: Agreement) -> bytes | None:
    """The stored PDF of a final agreement, or None (not final, or removed by retention)."""
    from pathlib import Path

    if not agreement.document_path:
        return None
    try:
        return Path(agreement.document_path).read_bytes()
    except FileNotFoundError:
        return None
