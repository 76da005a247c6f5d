"""The clocks a case runs against, and the case as the API shows it with them.

Every date is the case's own: its zone decides which day "today" is, and the service's
target applies where the case sets none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.clocks import Deadlines, case_deadlines, clock_state, done_state
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, service_record
from orchestrator.core.models import (
    Case,
    CasePublic,
    CaseStatusChange,
    CaseStatusChangePublic,
    Certificate,
    ClockPublic,
    DeadlinesPublic,
    DutyClockPublic,
    Service,
)


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
    return (await certificates_issued_on(session, [case])).get(case.id)


async def certificates_issued_on(
    session: AsyncSession, cases: Sequence[Case]
) -> dict[uuid.UUID, date]:
    """By case, the day in its zone its latest certificate was issued (absent: none yet)."""
    if not cases:
        return {}
    zones = {case.id: ZoneInfo(case.timezone) for case in cases}
    rows = await session.execute(
        select(col(Certificate.case_id), func.max(Certificate.issued_at))
        .where(col(Certificate.case_id).in_(list(zones)))
        .group_by(col(Certificate.case_id))
    )
    return {
        case_id: issued_at.astimezone(zones[case_id]).date()
        for case_id, issued_at in rows.all()
        if issued_at is not None
    }


def certificate_event_on(case: Case) -> date | None:
    """The day of the latest event that calls for a certificate (None: none yet).

    The certificate clock runs from it (session held, family declined or withdrew, LA cannot
    meet the 30 days) until a certificate is issued for it.
    """
    events = [case.certificate_event_on, case.declined_on, case.la_cannot_meet_30_days_on]
    return max((d for d in events if d is not None), default=None)


def deadlines_for(
    case: Case, *, target_days: int, calendar: WorkingDays, certificate_issued_on: date | None
) -> Deadlines:
    """The case's clocks, from its dates and (once issued, on that day) its certificate."""
    certificate_event = certificate_event_on(case)
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
    service = await service_record.default_service(session)
    return case_public(
        case,
        target_days=effective_target_days(case, service, default_target_days),
        calendar=calendar,
        now=now,
        certificate_issued_on=await certificate_issued_on(session, case),
        history=await lifecycle.history(session, case) if with_history else None,
    )
