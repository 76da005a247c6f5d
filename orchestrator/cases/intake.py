"""Cases, their parties and mediators, and the clocks each case runs against."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.clocks import Deadlines, case_deadlines, clock_state, done_state
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, links
from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import (
    CaseCreated,
    EventBus,
    MediatorAssigned,
    PartyAdded,
    PartyRemoved,
)
from orchestrator.core.models import (
    Case,
    CaseCreate,
    CaseKind,
    CasePublic,
    CaseStatus,
    CaseStatusCause,
    CaseStatusChange,
    CaseStatusChangePublic,
    CaseUpdate,
    Certificate,
    ClockPublic,
    DeadlinesPublic,
    DutyClockPublic,
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
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.meeting import room_access

# Supporters attend as OPT-PARTICIPANT unless the family wants them required (DOMAIN.md).
OPTIONAL_BY_DEFAULT = frozenset({PartyRole.sendiass, PartyRole.advocate, PartyRole.observer})

UNREACHABLE = "a required person needs an email address or a phone number, so they can be invited"


# ---------------------------------------------------------------------------- clocks


def effective_target_days(case: Case, service: Service | None, default: int) -> int:
    if case.target_days:
        return case.target_days
    return service.target_days if service is not None else default


def la_notified_on(case: Case) -> date | None:
    """The day the LA was told the family wants mediation, in the case's zone (None: not yet)."""
    if case.referral_sent_at is None:
        return None
    return case.referral_sent_at.astimezone(ZoneInfo(case.timezone)).date()


async def certificate_issued_on(session: AsyncSession, case: Case) -> date | None:
    """The day, in the case's zone, its latest certificate was issued (None: none yet)."""
    issued_at = await session.scalar(
        select(func.max(Certificate.issued_at)).where(col(Certificate.case_id) == case.id)
    )
    if issued_at is None:
        return None
    return issued_at.astimezone(ZoneInfo(case.timezone)).date()


def deadlines_for(
    case: Case, *, target_days: int, calendar: WorkingDays, certificate_issued_on: date | None
) -> Deadlines:
    """The case's clocks, from its dates and (once issued, on that day) its certificate."""
    # The certificate clock runs from the latest event that calls for one (session held,
    # family declined, LA cannot meet the 30 days) until a certificate is issued for it.
    events = [case.certificate_event_on, case.declined_on, case.la_cannot_meet_30_days_on]
    certificate_event = max((d for d in events if d is not None), default=None)
    issued = certificate_issued_on
    if certificate_event is not None and issued is not None and issued >= certificate_event:
        certificate_event = None
    # The target runs from the family's go-ahead (the referral date) and never moves; the
    # statutory 30 days from the LA notice (calendars.clocks.case_deadlines).
    return case_deadlines(
        kind=case.kind.value,
        referral_date=case.referral_date,
        target_days=target_days,
        la_notified_on=la_notified_on(case),
        health_in_issue=case.health_in_issue,
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


def _duty_clock(deadline: date | None, today: date, done_on: date | None) -> DutyClockPublic | None:
    """A clock that stops when its duty is recorded done: met, or late by some days."""
    if deadline is None:
        return None
    state = clock_state(deadline, today) if done_on is None else done_state(deadline, done_on)
    return DutyClockPublic(
        date=deadline, days_left=state.days_left, level=state.level, done_on=done_on
    )


def case_public(
    case: Case,
    *,
    target_days: int,
    calendar: WorkingDays,
    now: datetime,
    certificate_issued_on: date | None,
    history: list[CaseStatusChange] | None = None,
) -> CasePublic:
    """The case as the API shows it, clocks included, in the case's own zone."""
    today = now.astimezone(ZoneInfo(case.timezone)).date()
    d = deadlines_for(
        case,
        target_days=target_days,
        calendar=calendar,
        certificate_issued_on=certificate_issued_on,
    )
    target = _clock(d.target, today)
    assert target is not None
    told = la_notified_on(case)
    return CasePublic(
        **case.model_dump(exclude={"target_days"}),
        target_days=target_days,
        la_notified_on=told,
        la_notice_delay_days=(told - case.referral_date).days if told is not None else None,
        deadlines=DeadlinesPublic(
            target=target,
            statutory=_clock(d.statutory, today),
            contact_window=_clock(d.contact_window, today),
            appeal=_clock(d.appeal, today),
            certificate_due=_clock(d.certificate_due, today),
            health_notice=_duty_clock(d.health_notice, today, case.icb_notified_on),
        ),
        status_history=(
            None
            if history is None
            else [
                CaseStatusChangePublic.model_validate(row, from_attributes=True) for row in history
            ]
        ),
    )


async def present_case(
    session: AsyncSession,
    case: Case,
    *,
    default_target_days: int,
    calendar: WorkingDays,
    now: datetime,
    with_history: bool = False,
) -> CasePublic:
    """The case as the API and the staff pages show it: its clocks, and on request the
    changes of its status."""
    service = await default_service(session)
    return case_public(
        case,
        target_days=effective_target_days(case, service, default_target_days),
        calendar=calendar,
        now=now,
        certificate_issued_on=await certificate_issued_on(session, case),
        history=await lifecycle.history(session, case) if with_history else None,
    )


# ---------------------------------------------------------------------------- cases


async def default_service(session: AsyncSession) -> Service | None:
    return await session.scalar(select(Service).where(col(Service.is_default).is_(True)))


async def service_target_days(session: AsyncSession, *, fallback: int) -> int:
    """The target (in days) for cases that set none: the service's, else ``fallback``."""
    service = await default_service(session)
    return service.target_days if service is not None else fallback


async def sync_default_service(session: AsyncSession, *, settings: Settings) -> Service:
    """Keep the default service row in step with the settings (name, help line, zone)."""
    service = await default_service(session)
    if service is None:
        service = Service(is_default=True, name=settings.service_name)
        session.add(service)
    service.name = settings.service_name
    service.help_line = settings.help_line
    service.timezone = settings.timezone
    service.target_days = settings.target_days
    service.mail_from = settings.mail_from
    return service


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
            summary="Case details changed: " + ", ".join(sorted(changes)),
            at=now,
            actor=actor,
        )
    await session.flush()
    return case


# ---------------------------------------------------------------------------- parties


def must_be_invited(role: PartyRole, required: bool | None) -> bool:
    """Required people, and always the LA's decision-maker, are invited (DOMAIN.md)."""
    return bool(required) or role is PartyRole.la_officer


def cannot_reach(party: Party) -> bool:
    """Someone who must be invited but has neither an email address nor a phone number."""
    return must_be_invited(party.role, party.required) and not (party.email or party.phone)


def _check_reachable(
    role: PartyRole, required: bool | None, email: str | None, phone: str | None
) -> None:
    if must_be_invited(role, required) and not (email or phone):
        raise ValidationFailed(UNREACHABLE, details={"fields": ["email", "phone"]})


async def unreachable_parties(session: AsyncSession) -> dict[uuid.UUID, list[Party]]:
    """By case: current parties who must be invited but have no email and no phone."""
    no_email = or_(col(Party.email).is_(None), col(Party.email) == "")
    no_phone = or_(col(Party.phone).is_(None), col(Party.phone) == "")
    rows = await session.scalars(
        select(Party)
        .where(col(Party.removed_at).is_(None), no_email, no_phone)
        .order_by(col(Party.created_at))
    )
    found: dict[uuid.UUID, list[Party]] = {}
    for party in rows.all():
        if cannot_reach(party):
            found.setdefault(party.case_id, []).append(party)
    return found


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
    _check_reachable(data.role, required, data.email, data.phone)
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
    if changes.keys() & {"email", "phone", "required"}:
        _check_reachable(
            party.role,
            changes.get("required", party.required),
            changes.get("email", party.email),
            changes.get("phone", party.phone),
        )
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
    """Take a person off the case; every link they hold dies with it, and every room they
    may hold a URL for moves."""
    party.removed_at = now
    await _withdraw_access(
        session,
        party=party,
        now=now,
        actor=actor,
        kind="party.removed",
        summary=f"Removed a party ({party.role.value})",
    )
    await bus.emit(session, PartyRemoved(case_id=party.case_id, at=now, party_id=party.id))


async def revoke_party_links(
    session: AsyncSession, *, party: Party, now: datetime, actor: str | None
) -> None:
    """Withdraw every link a party holds (a lost phone, a forwarded email), and what they
    let in: the rooms they may hold a URL for move."""
    await _withdraw_access(
        session,
        party=party,
        now=now,
        actor=actor,
        kind="links.revoked",
        summary=f"Withdrew every link of a party ({party.role.value})",
    )


async def _withdraw_access(
    session: AsyncSession,
    *,
    party: Party,
    now: datetime,
    actor: str | None,
    kind: str,
    summary: str,
) -> None:
    """Kill every link the party holds, move the rooms they may hold a URL for, and say so."""
    await links.revoke_for(session, party_id=party.id, now=now)
    await room_access.withdraw(session, party=party, now=now)
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        kind=kind,
        summary=summary,
        at=now,
        actor=actor,
    )
    await session.flush()


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
