"""Move a case on after a closing step: its outcome recorded, a certificate issued."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import lifecycle
from orchestrator.core.models import Case, CaseStatus, CaseStatusCause

# Each closing step moves a case to the status of its name, for the cause of the same name.
_CAUSES: Mapping[CaseStatus, CaseStatusCause] = {
    CaseStatus.outcome_recorded: CaseStatusCause.outcome_recorded,
    CaseStatus.certificate_issued: CaseStatusCause.certificate_issued,
}


async def move_case_on(
    session: AsyncSession, case: Case, to: CaseStatus, *, actor: str | None, now: datetime
) -> None:
    """Move the case to ``to`` where the table allows it, and mark it changed either way.

    A case already past ``to`` (a certificate issued, closed) is not moved back, but the
    step still changed it (its certificate clock, its dates), so it is stamped and flushed.
    """
    await lifecycle.move_case_if_allowed(
        session, case=case, to=to, cause=_CAUSES[to], actor=actor, now=now
    )
    case.updated_at = now
    await session.flush()
