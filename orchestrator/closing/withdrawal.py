"""The family withdraws, or the LA says it cannot meet the 30 days: the certificate clock starts.

Mediation is voluntary for the family: they "can withdraw at any time and ask us to issue
the certificate". From their own page (or staff, after a phone call) a withdrawal moves
the case on to its certificate, due 3 working days after the day it was asked for
(``declined_on``), cancels every booked meeting for everyone (the CANCEL, texts to phone
people), and tells the schedulers by email and on the case timeline. When the LA says it
cannot arrange mediation within the statutory 30 days, staff record the day, and the same
certificate clock runs from it. The deadline board shows both (``board_clocks``).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.clocks import certificate_due
from calendars.invite_text import clean_text
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, timeline
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.events import EventBus
from orchestrator.core.languages import N_
from orchestrator.core.models import (
    FAMILY_ROLES,
    OPEN_CASE_STATUSES,
    Case,
    CaseKind,
    CaseStatusCause,
    Party,
    StaffRole,
    StaffUser,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.outgoing_mail import send_plain
from orchestrator.scheduling import cancelling

WITHDRAWN_REASON = "The family withdrew from mediation"
MAX_REASON = 1000
REASON_TOO_LONG = N_("Reason must be 1,000 characters or fewer")  # says MAX_REASON


def may_withdraw(case: Case, party: Party) -> bool:
    """A parent or young person on an open mediation or disagreement resolution case."""
    return (
        case.kind is not CaseKind.mias
        and party.role in FAMILY_ROLES
        and party.removed_at is None
        and case.status in OPEN_CASE_STATUSES
    )


def has_withdrawn(case: Case) -> bool:
    """True once the family withdrew (the case waits for, or has, its certificate)."""
    return case.declined_on is not None and case.status not in OPEN_CASE_STATUSES


async def withdraw(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    reason: str | None,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    calendar: WorkingDays,
    actor: str | None = None,
) -> date:
    """Withdraw the family from mediation and start the certificate's clock; its due date.

    InvalidState when the case has already moved on; ValidationFailed for anyone but the
    family, or for an information call (which is not mediation).
    """
    if case.kind is CaseKind.mias or party.role not in FAMILY_ROLES or party.case_id != case.id:
        raise ValidationFailed("only the parent or young person can withdraw from mediation")
    if not may_withdraw(case, party):
        raise InvalidState(
            f"the case is {case.status.value.replace('_', ' ')}; there is nothing to withdraw from",
            details={"status": case.status.value},
        )
    actor = actor or f"party:{party.id}"
    due = await cancelling.end_without_meeting(
        session,
        case,
        party=party,
        cause=CaseStatusCause.family_withdrew,
        reason=WITHDRAWN_REASON,
        said=(
            f"{timeline.a_party(party.role)} withdrew from mediation and asked for the certificate"
        ),
        now=now,
        bus=bus,
        calendar=calendar,
        actor=actor,
    )
    note = clean_text(reason or "").strip()[:MAX_REASON]
    await _tell_schedulers(session, case=case, due=due, reason=note, settings=settings, now=now)
    return due


async def _tell_schedulers(
    session: AsyncSession,
    *,
    case: Case,
    due: date,
    reason: str,
    settings: Settings,
    now: datetime,
) -> int:
    """Email every active scheduler that the family withdrew and when the certificate is due."""
    schedulers = await session.scalars(
        select(StaffUser).where(
            col(StaffUser.role) == StaffRole.scheduler, col(StaffUser.active).is_(True)
        )
    )
    sent = 0
    for user in schedulers.all():
        sent += await send_plain(
            session,
            kind="family_withdrew",
            key=f"notice:withdrew:{case.id}:{user.id}",
            to_name=user.name or user.email,
            to_addr=user.email,
            context={
                "reference": case.reference,
                "due": timeline.date_words(due),
                "reason": reason,
                "case_url": f"{settings.base_url}/staff/cases/{case.id}",
            },
            settings=settings,
            now=now,
            case_id=case.id,
        )
    return sent


async def record_la_cannot_meet(
    session: AsyncSession,
    *,
    case: Case,
    on: date,
    now: datetime,
    calendar: WorkingDays,
    actor: str | None,
) -> date:
    """Record the day the LA said it cannot arrange mediation within 30 days; the
    certificate is due 3 working days after it (returned)."""
    if case.kind is not CaseKind.mediation:
        raise ValidationFailed("the 30-day duty applies to mediation cases only")
    if on > now.astimezone(ZoneInfo(case.timezone)).date():
        raise ValidationFailed("the day the LA said so cannot be in the future")
    if on < case.referral_date:
        raise ValidationFailed("the LA cannot have said so before the family asked for mediation")
    if case.status in lifecycle.CLOSED_STATUSES:
        raise InvalidState(f"the case is {case.status.value}", details={"status": case.status})
    case.la_cannot_meet_30_days_on = on
    case.updated_at = now
    due = certificate_due(on, calendar)
    add_timeline(
        session,
        case_id=case.id,
        kind="case.la_cannot_meet_30_days",
        summary=(
            f"The local authority said on {timeline.date_words(on)} that it cannot arrange "
            f"mediation within 30 days. Certificate due by {timeline.date_words(due)}"
        ),
        at=now,
        actor=actor,
        details={"on": on.isoformat(), "certificate_due": due.isoformat()},
    )
    return due
