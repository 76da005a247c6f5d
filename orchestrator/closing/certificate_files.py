"""Keep certificate PDFs under the data directory: write one with its row, read it back.

A PDF is written before the commit that records it, and taken away again if that
transaction rolls back, so no file is left that no retention run would find.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.db import after_transaction
from orchestrator.core.errors import NotFound
from orchestrator.core.models import Certificate
from orchestrator.core.settings import Settings


def certificates_dir(settings: Settings) -> Path:
    """Where the certificate PDFs are kept."""
    return settings.data_dir / "certificates"


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


def store_pdf(
    session: AsyncSession, certificate: Certificate, pdf: bytes, settings: Settings
) -> None:
    """Write the PDF under the data directory and record its path and SHA-256 on the row."""
    folder = certificates_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    # Named for this row, not only its number: a transaction that took the number and rolled
    # back can never remove (or be overwritten by) the file of the one that took it next.
    path = folder / f"{certificate.number}-{certificate.id.hex}.pdf"
    path.write_bytes(pdf)
    remove_on_rollback(session, path)
    certificate.document_path = str(path)
    certificate.sha256 = hashlib.sha256(pdf).hexdigest()


def read_pdf(certificate: Certificate) -> bytes:
    """The stored PDF; NotFound once retention has removed it."""
    if not certificate.document_path:
        raise NotFound("certificate document", certificate.id)
    try:
        return Path(certificate.document_path).read_bytes()
    except FileNotFoundError:
        raise NotFound("certificate document", certificate.id) from None
