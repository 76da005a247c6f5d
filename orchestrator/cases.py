"""Cases, their parties and mediators, and the clocks each case runs against."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.clocks import Deadlines, case_deadlines, clock_state
from calendars.workdays import WorkingDays
from orchestrator import links
from orchestrator.errors import Conflict, NotFound, ValidationFailed
from orchestrator.events import (
    CaseCreated,
    EventBus,
    MediatorAssigned,
    PartyAdded,
    PartyRemoved,
)
from orchestrator.models import (
    Case,
    CaseCreate,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    ClockPublic,
    DeadlinesPublic,
    Mediator,
    MediatorCreate,
    MediatorPublic,
    Party,
    PartyCreate,
    PartyPublic,
    PartyRole,
    PartyUpdate,
    Service,
    StaffUser,
)
from orchestrator.records import add_timeline

# Supporters attend as OPT-PARTICIPANT unless the family wants them required (DOMAIN.md).
OPTIONAL_BY_DEFAULT = frozenset({PartyRole.sendiass, PartyRole.advocate, PartyRole.observer})


# ---------------------------------------------------------------------------- clocks


def effective_target_days(case: Case, service: Service | None, default: int) -> int:
    if case.target_days:
        return case.target_days
    return service.target_days if service is not None else default


def deadlines_for(case: Case, *, target_days: int, calendar: WorkingDays) -> Deadlines:
    """The case's clocks, from its dates and (once issued) its certificate."""
    # The statutory 30 days run from when the LA was told; until the referral notice has
    # gone, that is the referral date itself.
    start = case.referral_date
    if case.referral_sent_at is not None:
        start = case.referral_sent_at.astimezone(ZoneInfo(case.timezone)).date()
    # The certificate clock runs from the latest event that calls for one (session held,
    # family declined, LA cannot meet the 30 days) until a certificate is issued for it.
    events = [case.certificate_event_on, case.declined_on, case.la_cannot_meet_30_days_on]
    certificate_event = max((d for d in events if d is not None), default=None)
    issued = case.certificate_issued_on
    if certificate_event is not None and issued is not None and issued >= certificate_event:
        certificate_event = None
    return case_deadlines(
        kind=case.kind.value,
        referral_date=start,
        target_days=target_days,
        decision_date=case.decision_date,
        certificate_date=issued,
        certificate_event_date=certificate_event,
        calendar=calendar,
    )


def _clock(deadline: date | None, today: date) -> ClockPublic | None:
    if deadline is None:
        return None
    state = clock_state(deadline, today)
    return ClockPublic(date=deadline, days_left=state.days_left, level=state.level)


def case_public(
    case: Case, *, target_days: int, calendar: WorkingDays, now: datetime
) -> CasePublic:
    """The case as the API shows it, clocks included, in the case's own zone."""
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    d = deadlines_for(case, target_days=target_days, calendar=calendar)
    target = _clock(d.target, today)
    assert target is not None
    return CasePublic(
        **case.model_dump(exclude={"target_days"}),
        target_days=target_days,
        deadlines=DeadlinesPublic(
            target=target,
            statutory=_clock(d.statutory, today),
            contact_window=_clock(d.contact_window, today),
            appeal=_clock(d.appeal, today),
            certificate_due=_clock(d.certificate_due, today),
        ),
    )


# ---------------------------------------------------------------------------- cases


async def default_service(session: AsyncSession) -> Service | None:
    return await session.scalar(select(Service).where(col(Service.is_default).is_(True)))


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
    if data.referral_date > now.date():
        raise ValidationFailed("referral_date cannot be in the future")
    service = await default_service(session)
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


async def update_case(
    session: AsyncSession, *, case: Case, data: CaseUpdate, now: datetime, actor: str | None
) -> Case:
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(case, key, value)
    case.updated_at = now
    if changes:
        add_timeline(
            session,
            case_id=case.id,
            kind="case.updated",
            summary="Case details changed: " + ", ".join(sorted(changes)),
            at=now,
            actor=actor,
        )
    await session.flush()
    return case


# ---------------------------------------------------------------------------- parties


def party_public(party: Party) -> PartyPublic:
    return PartyPublic(
        **party.model_dump(exclude={"calendar"}),
        has_calendar=bool(party.calendar),
    )


async def add_party(
    session: AsyncSession,
    *,
    case: Case,
    data: PartyCreate,
    now: datetime,
    bus: EventBus,
    actor: str | None,
) -> Party:
    """Add a person to the case; required unless a supporter (and not said otherwise)."""
    await _refuse_shared_email(session, case_id=case.id, email=data.email)
    required = data.required if data.required is not None else data.role not in OPTIONAL_BY_DEFAULT
    party = Party(
        **data.model_dump(exclude={"required", "calendar", "rules"}),
        case_id=case.id,
        required=required,
        calendar=data.calendar.model_dump(exclude_none=True) if data.calendar else None,
        rules=data.rules.model_dump(mode="json", exclude_none=True) if data.rules else None,
        created_at=now,
    )
    session.add(party)
    await session.flush()
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="party.added",
        summary=f"Added a party ({party.role.value})",
        at=now,
        actor=actor,
    )
    await bus.emit(session, PartyAdded(case_id=case.id, at=now, party_id=party.id))
    return party


async def _refuse_shared_email(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    email: str | None,
    other_than: uuid.UUID | None = None,
) -> None:
    """One email address is one person on a case: a second party with it would get every
    invitation twice (a retried request is the usual way this happens)."""
    if not email:
        return
    query = select(Party.id).where(
        col(Party.case_id) == case_id,
        col(Party.removed_at).is_(None),
        func.lower(col(Party.email)) == email.lower(),
    )
    if other_than is not None:
        query = query.where(col(Party.id) != other_than)
    if await session.scalar(query.limit(1)) is not None:
        raise Conflict("another party on this case already has this email address")


async def get_party(session: AsyncSession, *, case_id: uuid.UUID, party_id: uuid.UUID) -> Party:
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case_id or party.removed_at is not None:
        raise NotFound("party", party_id)
    return party


async def list_parties(session: AsyncSession, *, case_id: uuid.UUID) -> list[Party]:
    query = (
        select(Party)
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at))
    )
    return list((await session.scalars(query)).all())


async def update_party(
    session: AsyncSession, *, party: Party, data: PartyUpdate, now: datetime, actor: str | None
) -> Party:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("email"):
        await _refuse_shared_email(
            session, case_id=party.case_id, email=changes["email"], other_than=party.id
        )
    for key, value in changes.items():
        if key == "calendar":
            value = data.calendar.model_dump(exclude_none=True) if data.calendar else None
        elif key == "rules":
            value = data.rules.model_dump(mode="json", exclude_none=True) if data.rules else None
        setattr(party, key, value)
    if changes:
        add_timeline(
            session,
            case_id=party.case_id,
            party_id=party.id,
            kind="party.updated",
            summary="Party details changed: " + ", ".join(sorted(changes)),
            at=now,
            actor=actor,
        )
    await session.flush()
    return party


async def remove_party(
    session: AsyncSession, *, party: Party, now: datetime, bus: EventBus, actor: str | None
) -> None:
    """Take a person off the case; every link they hold dies with it."""
    party.removed_at = now
    await links.revoke_for(session, party_id=party.id, now=now)
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        kind="party.removed",
        summary=f"Removed a party ({party.role.value})",
        at=now,
        actor=actor,
    )
    await session.flush()
    await bus.emit(session, PartyRemoved(case_id=party.case_id, at=now, party_id=party.id))


# ---------------------------------------------------------------------------- mediators


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
    if data.user_id is not None and await session.get(StaffUser, data.user_id) is None:
        raise NotFound("user", data.user_id)
    mediator = Mediator(
        **data.model_dump(exclude={"calendar", "working_hours"}),
        calendar=data.calendar.model_dump(exclude_none=True) if data.calendar else None,
        working_hours=working_hours,
        created_at=now,
    )
    session.add(mediator)
    await session.flush()
    return mediator


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
    bus: EventBus | None = None,
) -> Case:
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
    if bus is not None and changed:
        await bus.emit(session, MediatorAssigned(case_id=case.id, at=now, mediator_id=mediator.id))
    return case


async def mediator_ids_for_user(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The mediator records a staff user acts as (usually one)."""
    rows = await session.scalars(select(Mediator.id).where(col(Mediator.user_id) == user_id))
    return set(rows.all())
