"""Retention: anonymise closed cases after the configured period; the figures stay.

A case that was closed or withdrawn more than ``retention_days`` ago loses every name,
contact detail and piece of free text: parties become their role, outcomes keep their
result and which issues were agreed but not what was said, emails that carried names or
certificates are emptied (and their ``.eml`` files removed), stored documents and
certificate PDFs are deleted. Dates, statuses, meetings, attendance flags, outcomes and
certificate numbers remain, so the reports count the same before and after.

Strings of the case's people that were copied into other text (timeline summaries, audit
and outbox details, other capabilities' tables keyed by the case, party or meeting) are
replaced by ``[removed]``. On SQLite the file is then checkpointed and vacuumed so the old
text does not survive in free pages or the write-ahead log.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.mail_file import eml_name
from orchestrator.cases import referrals, scrubbing
from orchestrator.cases.lifecycle import CLOSED_STATUSES
from orchestrator.core.db import Database
from orchestrator.core.models import (
    ROLE_WORDS,
    Case,
    Certificate,
    Document,
    Meeting,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    ParticipantEvent,
    Party,
    PollResponse,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    """What a run did (or, dry, would do); references only, nothing personal."""

    dry_run: bool
    cutoff: datetime
    references: list[str] = field(default_factory=list)
    parties: int = 0
    documents: int = 0
    files_removed: int = 0
    messages_emptied: int = 0
    texts_scrubbed: int = 0

    def describe(self) -> str:
        verb = "Would anonymise" if self.dry_run else "Anonymised"
        if not self.references:
            return f"No closed cases to anonymise (closed before {self.cutoff:%Y-%m-%d})."
        lines = [
            f"{verb} {len(self.references)} closed case(s) (closed before "
            f"{self.cutoff:%Y-%m-%d}): {', '.join(self.references)}",
        ]
        if not self.dry_run:
            lines.append(
                f"  {self.parties} parties made anonymous, {self.documents} documents and "
                f"{self.files_removed} files removed, {self.messages_emptied} messages emptied, "
                f"{self.texts_scrubbed} other texts cleaned"
            )
        return "\n".join(lines)


def _remove(path: str | None) -> int:
    if not path:
        return 0
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return 0
    return 1


# ---------------------------------------------------------------------------- one case


async def anonymise_case(
    session: AsyncSession, *, case: Case, now: datetime, settings: Settings
) -> RetentionReport:
    """Strip names, contact details and free text from one case; keep what is counted."""
    report = RetentionReport(dry_run=False, cutoff=now)
    parties = list(
        (await session.scalars(select(Party).where(col(Party.case_id) == case.id))).all()
    )
    pattern = scrubbing.pattern_for(scrubbing.personal_strings(parties))
    party_ids = [p.id for p in parties]
    meetings = list(
        (await session.scalars(select(Meeting).where(col(Meeting.case_id) == case.id))).all()
    )
    meeting_ids = [m.id for m in meetings]

    report.parties = _make_anonymous(parties)
    await referrals.forget_referrals(session, case_id=case.id)
    await _clear_free_text(session, case_id=case.id, meetings=meetings, party_ids=party_ids)
    await _remove_stored_files(session, case_id=case.id, report=report)
    await _empty_messages(
        session, case_id=case.id, pattern=pattern, settings=settings, report=report
    )
    await session.flush()

    report.texts_scrubbed = await scrubbing.scrub_linked_rows(
        session, pattern, case_id=case.id, party_ids=party_ids, meeting_ids=meeting_ids
    )
    case.anonymised_at = now
    case.updated_at = now
    add_timeline(
        session,
        case_id=case.id,
        kind="case.anonymised",
        summary="Names, contact details and free text removed under the retention policy",
        at=now,
        actor="system:retention",
    )
    await session.flush()
    report.references = [case.reference]
    return report


def _make_anonymous(parties: list[Party]) -> int:
    """Name each party by its role and a number, and forget how to reach them."""
    for index, party in enumerate(parties, start=1):
        party.name = f"{ROLE_WORDS[party.role]} {index}"
        party.email = None
        party.phone = None
        party.organisation = None
        party.town = None
        party.postal_address = None
        party.postcode = None
        party.needs = None
        party.language = None
        party.calendar = None
        party.rules = None
    return len(parties)


async def _clear_free_text(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    meetings: list[Meeting],
    party_ids: list[uuid.UUID],
) -> None:
    """Empty what people wrote: venues, reasons, outcome wording, attendance and poll notes.

    Outcomes keep their result and which issues were agreed, so the reports still count.
    """
    for meeting in meetings:
        meeting.cancel_reason = None
        meeting.venue = None
    for outcome in (
        await session.scalars(select(Outcome).where(col(Outcome.case_id) == case_id))
    ).all():
        outcome.issues = [{"agreed": bool(i.get("agreed"))} for i in outcome.issues]
        outcome.next_steps = [{"due": s.get("due")} for s in outcome.next_steps]
        outcome.agreement_text = None
        outcome.notes = None
    meeting_ids = [m.id for m in meetings]
    if meeting_ids:
        for event in (
            await session.scalars(
                select(ParticipantEvent).where(col(ParticipantEvent.meeting_id).in_(meeting_ids))
            )
        ).all():
            event.note = None
    if party_ids:
        for response in (
            await session.scalars(
                select(PollResponse).where(col(PollResponse.party_id).in_(party_ids))
            )
        ).all():
            response.note = None


async def _remove_stored_files(
    session: AsyncSession, *, case_id: uuid.UUID, report: RetentionReport
) -> None:
    """Delete the case's uploaded documents and certificate PDFs, and forget where they were."""
    for document in (
        await session.scalars(select(Document).where(col(Document.case_id) == case_id))
    ).all():
        report.files_removed += _remove(document.storage_path)
        document.text = None
        document.filename = None
        document.storage_path = None
        report.documents += 1
    for certificate in (
        await session.scalars(select(Certificate).where(col(Certificate.case_id) == case_id))
    ).all():
        report.files_removed += _remove(certificate.document_path)
        certificate.document_path = None


async def _empty_messages(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    pattern: re.Pattern[str] | None,
    settings: Settings,
    report: RetentionReport,
) -> None:
    """Empty the case's mail (names, addresses, attached certificates); scrub other messages.

    Messages kept without a case are looked at too, and changed only if they name someone.
    """
    messages = list(
        (
            await session.scalars(
                select(OutboxMessage).where(
                    sa.or_(
                        col(OutboxMessage.case_id) == case_id,
                        col(OutboxMessage.case_id).is_(None),
                    )
                )
            )
        ).all()
    )
    for message in messages:
        if message.case_id is None and not scrubbing.mentions(message.payload, pattern):
            continue
        if message.kind is OutboxKind.email:
            if settings.mail_backend == "file":
                report.files_removed += _remove(
                    str(settings.mail_dir / eml_name(message.idempotency_key))
                )
            message.payload = {"anonymised": True}
            if message.status is OutboxStatus.pending:
                message.status = OutboxStatus.cancelled
            report.messages_emptied += 1
        else:
            message.payload = scrubbing.scrub(message.payload, pattern)
        message.last_error = scrubbing.scrub(message.last_error, pattern)


async def _forget_declined_referrals(
    session: AsyncSession, *, cutoff: datetime, settings: Settings, report: RetentionReport
) -> None:
    """Referrals declined before the cutoff lose who sent them, and so does the mail that
    told them (it belongs to no case, so no case's run empties it)."""
    forgotten = await referrals.forget_referrals(session, declined_before=cutoff)
    keys = [referrals.declined_mail_key(r.id) for r in forgotten]
    if not keys:
        return
    rows = await session.scalars(
        select(OutboxMessage).where(col(OutboxMessage.idempotency_key).in_(keys))
    )
    for message in rows.all():
        if settings.mail_backend == "file":
            report.files_removed += _remove(
                str(settings.mail_dir / eml_name(message.idempotency_key))
            )
        message.payload = {"anonymised": True}
        report.messages_emptied += 1


# ---------------------------------------------------------------------------- the run


async def due_cases(session: AsyncSession, *, cutoff: datetime) -> list[Case]:
    """Closed or withdrawn cases, not yet anonymised, closed before cutoff.

    The clock runs from the close (``closed_at``, case_status.move_case), not from the
    last change: correcting a closed case's details does not put off its anonymisation.
    """
    query = (
        select(Case)
        .where(
            col(Case.status).in_(CLOSED_STATUSES),
            col(Case.anonymised_at).is_(None),
            col(Case.closed_at) < cutoff,
        )
        .order_by(col(Case.reference))
    )
    return list((await session.scalars(query)).all())


async def run(
    db: Database, *, settings: Settings, now: datetime, dry_run: bool = False
) -> RetentionReport:
    """Anonymise every closed case past the retention period, one transaction per case."""
    cutoff = now - timedelta(days=settings.retention_days)
    report = RetentionReport(dry_run=dry_run, cutoff=cutoff)
    async with db.read() as session:
        due = [(c.id, c.reference) for c in await due_cases(session, cutoff=cutoff)]
    if dry_run:
        report.references = [reference for _, reference in due]
        return report
    for case_id, _reference in due:
        async with db.write() as session:
            case = await session.get(Case, case_id)
            if case is None or case.anonymised_at is not None:
                continue
            done = await anonymise_case(session, case=case, now=now, settings=settings)
        report.references += done.references
        for name in ("parties", "documents", "files_removed", "messages_emptied", "texts_scrubbed"):
            setattr(report, name, getattr(report, name) + getattr(done, name))
    async with db.write() as session:
        await _forget_declined_referrals(session, cutoff=cutoff, settings=settings, report=report)
    if report.references:
        await compact(db)
    log.info("retention anonymised %d cases", len(report.references))
    return report


async def compact(db: Database) -> None:
    """On SQLite, rewrite the file so removed text survives in no free page or WAL frame."""
    if not db.is_sqlite:
        return  # PostgreSQL reclaims dead row versions with (auto)vacuum
    import aiosqlite

    path = make_url(db.url).database
    if not path or path == ":memory:":
        return
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        for statement in (
            "PRAGMA busy_timeout=30000",
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "VACUUM",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ):
            async with conn.execute(statement) as cursor:
                await cursor.fetchall()
