"""Lay a letter out as a PDF that GOV.UK Notify prints and posts as it is (a precompiled letter).

Notify reads the address from a fixed window on the first page, where the envelope shows
it: from 24.6 mm to 120 mm across and 39.5 mm to 66.3 mm down an A4 page (the letter
specification, as notifications-template-preview measures it). The address is drawn there,
one line at a time, and the words start below it, inside a 20 mm margin everywhere. The
same reportlab set-up as the certificate: DejaVu Sans, invariant mode (same text, same
bytes), so a retried letter is the very file first sent.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from orchestrator.closing.certificate_pdf import FONT, TextStyles, register_fonts, text_styles

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Flowable

MM = 72 / 25.4  # points in a millimetre
A4_POINTS = (595.2756, 841.8898)
# Notify's address window, in millimetres from the page's top left corner.
ADDRESS_LEFT, ADDRESS_RIGHT, ADDRESS_TOP, ADDRESS_BOTTOM = 24.6, 120.0, 39.5, 66.3
MAX_ADDRESS_LINES = 7
_ADDRESS_SIZE, _ADDRESS_LEADING = 9.0, 3.6 * MM
_BODY_STARTS_MM = 78.0  # below the window, with room to spare


@dataclass(frozen=True)
class LetterText:
    """Everything printed on a letter, already worded."""

    address: Sequence[str]  # the name, the address lines, the postcode last
    dated: str  # "7 December 2026"
    heading: str
    paragraphs: Sequence[str]
    service_name: str
    # Pages after the letter itself (the certificate), as reportlab flowables.
    enclosure: Sequence[Flowable] = field(default_factory=tuple)


def render_letter(text: LetterText) -> bytes:
    """Lay the letter out on A4, the address in Notify's window, and return the PDF bytes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    if not 3 <= len(text.address) <= MAX_ADDRESS_LINES:
        raise ValueError("a letter's address has 3 to 7 lines")
    register_fonts()
    styles = text_styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * MM,
        rightMargin=20 * MM,
        topMargin=20 * MM,
        bottomMargin=20 * MM,
        # The metadata is visible to anyone with the file: never the person's name.
        title=text.heading,
        author=text.service_name,
        lang="en-GB",
        invariant=True,
    )
    story: list[Flowable] = [
        Spacer(1, (_BODY_STARTS_MM - 20) * MM),
        styles.para(text.dated),
        Spacer(1, 6 * MM),
        Paragraph(escape(text.heading), styles.strong),
        Spacer(1, 3 * MM),
    ]
    for paragraph in text.paragraphs:
        story += [*_lines_of(paragraph, styles), Spacer(1, 2 * MM)]
    story.append(styles.para(text.service_name, strong=True))
    if text.enclosure:
        story += [PageBreak(), *text.enclosure]

    def first_page(canvas: Canvas, _doc: object) -> None:
        _draw_address(canvas, text.address)

    doc.build(story, onFirstPage=first_page)
    return buffer.getvalue()


def _lines_of(paragraph: str, styles: TextStyles) -> list[Flowable]:
    """A paragraph, or a list of items (lines starting "- "), each on its own line."""
    lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
    if lines and all(line.startswith("- ") for line in lines):
        return [styles.para(f"\u2022 {line[2:]}") for line in lines]
    return [styles.para(" ".join(lines))]


def _draw_address(canvas: Canvas, lines: Sequence[str]) -> None:
    """Each address line in the window, top down, in a size that fits seven."""
    canvas.saveState()
    canvas.setFont(FONT, _ADDRESS_SIZE)
    page_height = A4_POINTS[1]
    baseline = page_height - ADDRESS_TOP * MM - 3.2 * MM
    for line in lines:
        canvas.drawString(ADDRESS_LEFT * MM + 1 * MM, baseline, line)
        baseline -= _ADDRESS_LEADING
    canvas.restoreState()
