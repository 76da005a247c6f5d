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

import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from integrations.mail_file import eml_name
from orchestrator.cases.lifecycle import CLOSED_STATUSES
from orchestrator.core.db import Database
from orchestrator.core.models import (
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

REMOVED = "[removed]"
# Shorter strings are too likely to match ordinary words to be scrubbed everywhere.
_MIN_SCRUB_LENGTH = 4


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


# ---------------------------------------------------------------------------- scrubbing


def personal_strings(parties: Iterable[Party]) -> list[str]:
    """The strings that identify the case's people, longest first."""
    found: set[str] = set()
    for party in parties:
        for value in (party.name, party.email, party.phone, party.organisation):
            if value and len(value.strip()) >= _MIN_SCRUB_LENGTH:
                found.add(value.strip())
        if party.phone:
            digits = re.sub(r"[^0-9+]", "", party.phone)
            if len(digits) >= _MIN_SCRUB_LENGTH:
                found.add(digits)
        if party.name:
            found.update(p for p in party.name.split() if len(p) >= _MIN_SCRUB_LENGTH)
    return sorted(found, key=len, reverse=True)


def scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """Replace every personal string inside ``value`` (text, or JSON of lists and dicts)."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(REMOVED, value)
    if isinstance(value, list):
        return [scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, pattern) for key, item in value.items()}
    return value


def _pattern(strings: list[str]) -> re.Pattern[str] | None:
    if not strings:
        return None
    return re.compile("|".join(re.escape(s) for s in strings), re.IGNORECASE)


def _contains(value: Any, pattern: re.Pattern[str] | None) -> bool:
    if pattern is None or value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return pattern.search(text) is not None


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
    pattern = _pattern(personal_strings(parties))
    party_ids = [p.id for p in parties]
    meetings = list(
        (await session.scalars(select(Meeting).where(col(Meeting.case_id) == case.id))).all()
    )
    meeting_ids = [m.id for m in meetings]

    for index, party in enumerate(parties, start=1):
        party.name = f"{party.role.value.replace('_', ' ').capitalize()} {index}"
        party.email = None
        party.phone = None
        party.organisation = None
        party.needs = None
        party.language = None
        party.calendar = None
        party.rules = None
    report.parties = len(parties)

    for meeting in meetings:
        meeting.cancel_reason = None
        meeting.venue = None
    for outcome in (
        await session.scalars(select(Outcome).where(col(Outcome.case_id) == case.id))
    ).all():
        outcome.issues = [{"agreed": bool(i.get("agreed"))} for i in outcome.issues]
        outcome.next_steps = [{"due": s.get("due")} for s in outcome.next_steps]
        outcome.agreement_text = None
        outcome.notes = None
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
    for document in (
        await session.scalars(select(Document).where(col(Document.case_id) == case.id))
    ).all():
        report.files_removed += _remove(document.storage_path)
        document.text = None
        document.filename = None
        document.storage_path = None
        report.documents += 1
    for certificate in (
        await session.scalars(select(Certificate).where(col(Certificate.case_id) == case.id))
    ).all():
        report.files_removed += _remove(certificate.document_path)
        certificate.document_path = None

    # Messages: mail carries names, addresses and attached certificates; empty it all.
    messages = list(
        (
            await session.scalars(
                select(OutboxMessage).where(
                    sa.or_(
                        col(OutboxMessage.case_id) == case.id,
                        col(OutboxMessage.case_id).is_(None),
                    )
                )
            )
        ).all()
    )
    for message in messages:
        if message.case_id is None and not _contains(message.payload, pattern):
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
            message.payload = scrub(message.payload, pattern)
        message.last_error = scrub(message.last_error, pattern)
    await session.flush()

    report.texts_scrubbed = await _scrub_linked_rows(
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


async def _scrub_linked_rows(
    session: AsyncSession,
    pattern: re.Pattern[str] | None,
    *,
    case_id: uuid.UUID,
    party_ids: list[uuid.UUID],
    meeting_ids: list[uuid.UUID],
) -> int:
    """Replace the case's personal strings in every text column of every linked table.

    This reaches the timeline, the audit trail and tables other capabilities add, as long
    as their rows carry a ``case_id``, ``party_id`` or ``meeting_id``.
    """
    if pattern is None:
        return 0
    keys: dict[str, list[uuid.UUID]] = {
        "case_id": [case_id],
        "party_id": party_ids,
        "meeting_id": meeting_ids,
    }
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        links = [table.c[name].in_(ids) for name, ids in keys.items() if name in table.c and ids]
        if not links or "id" not in table.c:
            continue
        texts = [
            column
            for column in table.columns
            if isinstance(column.type, sa.String | sa.JSON)
            and not isinstance(column.type, sa.Enum)
            and not column.primary_key
            and not column.foreign_keys
        ]
        if not texts:
            continue
        rows = (await session.execute(sa.select(table.c.id, *texts).where(sa.or_(*links)))).all()
        for row in rows:
            values = {}
            for column in texts:
                original = row._mapping[column.name]
                cleaned = scrub(original, pattern)
                if cleaned != original:
                    values[column.name] = cleaned
            if values:
                await session.execute(
                    sa.update(table).where(table.c.id == row._mapping["id"]).values(**values)
                )
                changed += 1
    return changed


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
