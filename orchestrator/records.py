"""The case timeline and the staff audit trail: append-only records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models import AuditEvent, TimelineEntry


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
