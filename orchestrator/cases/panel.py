"""The service's panel of mediators: their records, the staff accounts they act as, and
assigning one to a case."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import EventBus, MediatorAssigned
from orchestrator.core.models import Case, Mediator, MediatorCreate, MediatorPublic, StaffUser
from orchestrator.core.records import add_timeline


def mediator_public(mediator: Mediator) -> MediatorPublic:
    return MediatorPublic(
        **mediator.model_dump(exclude={"calendar"}),
        has_calendar=bool(mediator.calendar),
    )


async def create_mediator(
    session: AsyncSession, *, data: MediatorCreate, now: datetime
) -> Mediator:
    working_hours = None
    if data.working_hours is not None:
        for day, (start, end) in data.working_hours.items():
            if day not in range(1, 8) or not start < end:
                raise ValidationFailed(
                    "working_hours maps ISO weekdays 1-7 to [start, end] with start before end",
                    details={"day": day},
                )
        working_hours = {str(k): list(v) for k, v in data.working_hours.items()}
    if data.user_id is not None:
        if await session.get(StaffUser, data.user_id) is None:
            raise NotFound("user", data.user_id)
        if await mediator_ids_for_user(session, data.user_id):
            # One record per account: a second would split their cases and sessions.
            raise Conflict("that staff user already has a mediator record")
    mediator = Mediator(
        **data.model_dump(exclude={"calendar", "working_hours"}),
        calendar=data.calendar.model_dump(exclude_none=True) if data.calendar else None,
        working_hours=working_hours,
        created_at=now,
    )
    session.add(mediator)
    await session.flush()
    return mediator


async def mediator_for_user(session: AsyncSession, *, user: StaffUser, now: datetime) -> Mediator:
    """The mediator record a mediator's staff account acts as, made or linked if need be.

    One notion of "mediator" whichever door made them: their own record if they have one;
    else a record for their email that no account acts as yet (one added through the API
    before they had an account), now linked to them; else a new record with the panel's
    defaults, so they appear in every case's mediator list at once.
    """
    own = await session.scalar(select(Mediator).where(col(Mediator.user_id) == user.id))
    if own is not None:
        return own
    unlinked = await session.scalar(
        select(Mediator)
        .where(col(Mediator.user_id).is_(None), func.lower(col(Mediator.email)) == user.email)
        .order_by(col(Mediator.created_at))
    )
    if unlinked is not None:
        unlinked.user_id = user.id
        await session.flush()
        return unlinked
    data = MediatorCreate(name=user.name or user.email, email=user.email, user_id=user.id)
    return await create_mediator(session, data=data, now=now)


async def get_mediator(session: AsyncSession, mediator_id: uuid.UUID) -> Mediator:
    mediator = await session.get(Mediator, mediator_id)
    if mediator is None or not mediator.active:
        raise NotFound("mediator", mediator_id)
    return mediator


async def list_mediators(session: AsyncSession) -> list[Mediator]:
    query = select(Mediator).where(col(Mediator.active).is_(True)).order_by(col(Mediator.name))
    return list((await session.scalars(query)).all())


async def assign_mediator(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator,
    now: datetime,
    actor: str | None,
    bus: EventBus,
) -> Case:
    """Assign the case's mediator; a new one is introduced to the parties (via the bus)."""
    changed = case.mediator_id != mediator.id
    case.mediator_id = mediator.id
    case.updated_at = now
    add_timeline(
        session,
        case_id=case.id,
        kind="case.mediator",
        summary="Mediator assigned",
        at=now,
        actor=actor,
    )
    await session.flush()
    if changed:
        await bus.emit(session, MediatorAssigned(case_id=case.id, at=now, mediator_id=mediator.id))
    return case


async def mediator_ids_for_user(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The mediator records a staff user acts as (usually one)."""
    rows = await session.scalars(select(Mediator.id).where(col(Mediator.user_id) == user_id))
    return set(rows.all())
