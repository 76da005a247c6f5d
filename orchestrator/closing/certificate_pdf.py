"""Lay a certificate out as a one-page A4 PDF, from text already worded.

The PDF is rendered with reportlab in invariant mode, so the same text always gives the
same bytes (and the same stored SHA-256), and in DejaVu Sans, so every name prints as
written.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from calendars import wording

if TYPE_CHECKING:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Flowable, Paragraph, Table


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
def register_fonts() -> None:
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


@dataclass(frozen=True)
class TextStyles:
    body: ParagraphStyle
    strong: ParagraphStyle
    title: ParagraphStyle

    def para(self, value: str, strong: bool = False) -> Paragraph:
        """A paragraph of plain text, escaped: a name can never become markup."""
        from reportlab.platypus import Paragraph

        return Paragraph(escape(value), self.strong if strong else self.body)


def text_styles() -> TextStyles:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=FONT, fontSize=11, leading=15)
    strong = ParagraphStyle("strong", parent=body, fontName=FONT_BOLD)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=FONT_BOLD)
    return TextStyles(body=body, strong=strong, title=title)


def render_pdf(text: CertificateText) -> bytes:
    """Lay the certificate out on one A4 page and return the PDF bytes."""
    # Imported here: reportlab takes a noticeable part of a second to load, and only
    # issuing a certificate needs it.
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    register_fonts()
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
    doc.build(certificate_story(text, text_styles()))
    return buffer.getvalue()


def certificate_story(text: CertificateText, styles: TextStyles) -> list[Flowable]:
    """The page from top to bottom: title, facts, statement, parties, appeal, issuer."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    para = styles.para
    story: list[Flowable] = [
        Paragraph(escape(text.title), styles.title),
        para(text.service_name, strong=True),
        Spacer(1, 6 * mm),
        _fact_table(text, styles),
        Spacer(1, 6 * mm),
        para(text.statement),
        Spacer(1, 4 * mm),
    ]
    if text.parties:
        story += [para("The parties", strong=True), _party_table(text, styles), Spacer(1, 6 * mm)]
    story += [
        para("Appeal deadline", strong=True),
        para(text.appeal),
        Spacer(1, 8 * mm),
        para(
            f"Issued by {text.service_name}. Questions about this certificate: "
            f"call {text.help_line}."
            if text.help_line
            else f"Issued by {text.service_name}."
        ),
    ]
    return story


def _fact_table(text: CertificateText, styles: TextStyles) -> Table:
    """Number, date of issue, case and, where there was one, the mediator."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    facts = [
        ["Certificate number", text.number],
        ["Date of issue", wording.date_only(text.issued_on)],
        ["Case reference", text.reference],
        ["Local authority", text.local_authority],
        ["Type of case", text.case_kind],
    ]
    if text.mediator:
        facts.append(["Mediator", text.mediator])
    table = Table(
        [[styles.para(a, strong=True), styles.para(b)] for a, b in facts],
        colWidths=[55 * mm, 115 * mm],
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _party_table(text: CertificateText, styles: TextStyles) -> Table:
    """One row per party: role, name and organisation, under a repeated heading."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    para = styles.para
    rows = [
        [para("Role", strong=True), para("Name", strong=True), para("Organisation", strong=True)]
    ]
    rows += [[para(r), para(n), para(o)] for r, n, o in text.parties]
    table = Table(rows, colWidths=[45 * mm, 65 * mm, 60 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
