"""The case timeline and the staff audit trail: append-only records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import (
    AuditEvent,
    Certificate,
    Document,
    Meeting,
    Party,
    StaffRole,
    StaffUser,
    TimelineEntry,
)


def add_timeline(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    kind: str,
    summary: str,
    at: datetime,
    actor: str | None = None,
    meeting_id: uuid.UUID | None = None,
    party_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append one entry to the case timeline (in the caller's transaction)."""
    entry = TimelineEntry(
        case_id=case_id,
        kind=kind,
        summary=summary[:500],
        at=at,
        actor=actor,
        meeting_id=meeting_id,
        party_id=party_id,
        details=details,
    )
    session.add(entry)
    return entry


def add_audit(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    at: datetime,
    target_type: str | None = None,
    target_id: str | None = None,
    case_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that a staff member did or read something."""
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        at=at,
        target_type=target_type,
        target_id=target_id,
        case_id=case_id,
        details=details,
    )
    session.add(event)
    return event


async def list_timeline(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[TimelineEntry]:
    """The case's timeline, oldest first (or the newest ``limit`` entries, newest first)."""
    order = (
        (col(TimelineEntry.at).desc(),)
        if newest_first
        else (col(TimelineEntry.at), col(TimelineEntry.id))
    )
    query = select(TimelineEntry).where(col(TimelineEntry.case_id) == case_id).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def audit_trail(
    session: AsyncSession, *, case_id: uuid.UUID, before: datetime | None, limit: int
) -> list[tuple[AuditEvent, StaffRole | None]]:
    """Who on the staff read or changed the case, with their role; newest first."""
    found = (
        select(AuditEvent, StaffUser.role)
        .outerjoin(StaffUser, col(StaffUser.id) == col(AuditEvent.actor_id))
        .where(col(AuditEvent.case_id) == case_id)
    )
    if before is not None:
        found = found.where(col(AuditEvent.at) < before)
    rows = await session.execute(found.order_by(col(AuditEvent.at).desc()).limit(limit))
    return [(event, StaffRole(role) if role is not None else None) for event, role in rows.all()]


async def case_id_of(
    session: AsyncSession,
    table: type[Meeting] | type[Party] | type[Certificate] | type[Document],
    thing_id: uuid.UUID,
) -> uuid.UUID | None:
    """The case a meeting, party, certificate or paper belongs to (None if there is none)."""
    found: uuid.UUID | None = await session.scalar(
        select(table.case_id).where(col(table.id) == thing_id)
    )
    return found
