"""Opening a case from a referral, and reading, listing and correcting its details."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import lifecycle, service_record, timeline
from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import CaseCreated, EventBus
from orchestrator.core.models import (
    Case,
    CaseCreate,
    CaseKind,
    CaseStatus,
    CaseStatusCause,
    CaseUpdate,
)
from orchestrator.core.records import add_timeline


async def create_case(
    session: AsyncSession,
    *,
    data: CaseCreate,
    now: datetime,
    bus: EventBus,
    actor: str | None = None,
) -> Case:
    """Open a case from a referral."""
    taken = await session.scalar(select(Case.id).where(col(Case.reference) == data.reference))
    if taken is not None:
        raise Conflict(f"a case with reference {data.reference!r} already exists")
    _refuse_future_dates(data.referral_date, data.decision_date, zone=data.timezone, now=now)
    service = await service_record.default_service(session)
    case = Case(
        **data.model_dump(),
        service_id=service.id if service else None,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    try:
        await session.flush()
    except IntegrityError as exc:  # a racing request took the reference
        raise Conflict(f"a case with reference {data.reference!r} already exists") from exc
    add_timeline(
        session, case_id=case.id, kind="case.created", summary="Case opened", at=now, actor=actor
    )
    await bus.emit(session, CaseCreated(case_id=case.id, at=now))
    return case


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound("case", case_id)
    return case


async def list_cases(
    session: AsyncSession,
    *,
    status: CaseStatus | None = None,
    mediator_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[Case]:
    query = select(Case).order_by(col(Case.referral_date), col(Case.reference)).limit(limit)
    if status is not None:
        query = query.where(col(Case.status) == status)
    if mediator_id is not None:
        query = query.where(col(Case.mediator_id) == mediator_id)
    return list((await session.scalars(query)).all())


def _refuse_future_dates(
    referral_date: date | None, decision_date: date | None, *, zone: str, now: datetime
) -> None:
    """A referral or an LA decision is something that has happened: never after today."""
    today = now.astimezone(ZoneInfo(zone)).date()
    if referral_date is not None and referral_date > today:
        raise ValidationFailed(
            "referral_date cannot be in the future", details={"field": "referral_date"}
        )
    if decision_date is not None and decision_date > today:
        raise ValidationFailed(
            "decision_date cannot be in the future: it is the date of the LA's decision letter",
            details={"field": "decision_date"},
        )


def _check_icb_notice(
    case: Case, told_on: date, changes: dict[str, object], *, now: datetime
) -> None:
    """The ICB is told of a mediation case with health in issue, on a day already come."""
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    if told_on > today:
        raise ValidationFailed(
            "icb_notified_on cannot be in the future: it is the day the ICB was told",
            details={"field": "icb_notified_on"},
        )
    health = changes.get("health_in_issue", case.health_in_issue)
    if case.kind is not CaseKind.mediation or not health:
        raise ValidationFailed(
            "icb_notified_on is for a mediation case with health care provision in issue",
            details={"field": "icb_notified_on"},
        )


async def update_case(
    session: AsyncSession, *, case: Case, data: CaseUpdate, now: datetime, actor: str | None
) -> Case:
    """Change the case's details; a status change is staff closing or withdrawing it, and
    only what the case's transition table lets staff do (409 otherwise)."""
    changes = data.model_dump(exclude_unset=True)
    _refuse_future_dates(None, changes.get("decision_date"), zone=case.timezone, now=now)
    if changes.get("icb_notified_on") is not None:
        _check_icb_notice(case, changes["icb_notified_on"], changes, now=now)
    if "status" in changes:  # first: a refused move changes nothing else either
        await lifecycle.move_case(
            session,
            case=case,
            to=changes["status"],
            cause=CaseStatusCause.staff,
            actor=actor,
            now=now,
        )
    for key, value in changes.items():
        if key != "status":
            setattr(case, key, value)
    case.updated_at = now
    if changes:
        add_timeline(
            session,
            case_id=case.id,
            kind="case.updated",
            summary="Case details changed: " + timeline.field_words(list(changes)),
            at=now,
            actor=actor,
        )
    await session.flush()
    return case
