"""The statutory and service clocks a case runs against (DOMAIN.md, "Clocks")."""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from calendars.workdays import WorkingDays

CaseKind = Literal["mediation", "disagreement_resolution", "mias"]
CASE_KINDS: frozenset[str] = frozenset({"mediation", "disagreement_resolution", "mias"})

STATUTORY_MEDIATION_DAYS = 30
CONTACT_WINDOW_MONTHS = 2
APPEAL_MONTHS_FROM_DECISION = 2
APPEAL_MONTHS_FROM_CERTIFICATE = 1
CERTIFICATE_WORKING_DAYS = 3
NOTICE_WORKING_DAYS = 5
HEALTH_NOTICE_WORKING_DAYS = 3

# A running clock is ok, amber, red or overdue; a duty clock once done is met or late.
ClockLevel = Literal["ok", "amber", "red", "overdue", "met", "late"]


@dataclass(frozen=True)
class Deadlines:
    """Every clock of one case; None where the clock does not run (yet)."""

    target: date
    statutory: date | None
    contact_window: date | None
    appeal: date | None
    certificate_due: date | None
    health_notice: date | None = None


@dataclass(frozen=True)
class ClockState:
    """How close a deadline is: calendar days left and a traffic-light level."""

    days_left: int
    level: ClockLevel


def add_months(d: date, months: int) -> date:
    """Add calendar months, clamping to the month's last day (31 Dec + 2 months = end of Feb)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = _gregorian.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last_day))


def _in_christmas_window(d: date) -> bool:
    return (d.month == 12 and d.day >= 25) or (d.month == 1 and d.day == 1)


def tribunal_time_limit(limit: date, calendar: WorkingDays) -> date:
    """Return the last day to act on a Tribunal time limit that ends on ``limit``.

    A limit falling 25 Dec-1 Jan runs to the next working day in January; one falling in
    August to the first working day of September (DOMAIN.md); after those, a limit ending
    on a day that is not a working day runs to the next working day (HESC Chamber Rules
    2008, r.12(2)). That next working day can itself land in the window or in August
    (Sat 24 Dec, Sat 31 Jul), so the rules apply again until the day stands.
    """
    while True:
        if _in_christmas_window(limit):
            limit = date(limit.year + 1 if limit.month == 12 else limit.year, 1, 2)
        elif limit.month == 8:
            limit = date(limit.year, 9, 1)
        elif not calendar.is_working_day(limit):
            limit = calendar.next_working_day_on_or_after(limit)
        else:
            return limit


def appeal_deadline(
    decision_date: date, certificate_date: date | None, calendar: WorkingDays
) -> date:
    """Return the Tribunal appeal deadline: the later of its two limits, each moved as the
    rules say (2 months from the decision, 1 month from a certificate)."""
    deadline = tribunal_time_limit(add_months(decision_date, APPEAL_MONTHS_FROM_DECISION), calendar)
    if certificate_date is not None:
        from_certificate = add_months(certificate_date, APPEAL_MONTHS_FROM_CERTIFICATE)
        deadline = max(deadline, tribunal_time_limit(from_certificate, calendar))
    return deadline


def certificate_due(event_date: date, calendar: WorkingDays) -> date:
    """Return the day a certificate is due: 3 working days after the event."""
    return calendar.add_working_days(event_date, CERTIFICATE_WORKING_DAYS)


def latest_notice_date(
    meeting_date: date, calendar: WorkingDays, working_days: int = NOTICE_WORKING_DAYS
) -> date:
    """Return the last day the family can be told of a meeting and still get the notice due."""
    return calendar.add_working_days(meeting_date, -working_days)


def case_deadlines(
    *,
    kind: str,
    referral_date: date,
    target_days: int = 33,
    la_notified_on: date | None = None,
    health_in_issue: bool = False,
    decision_date: date | None = None,
    certificate_date: date | None = None,
    certificate_event_date: date | None = None,
    calendar: WorkingDays,
) -> Deadlines:
    """Compute every clock of a case from the dates known so far.

    ``referral_date`` is the day the family said go ahead: the provider's target runs from
    it and never moves. The statutory 30 days and the health notice run from the day the
    LA was told (``la_notified_on``); until it has been, from the go-ahead itself.
    """
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown case kind {kind!r}")
    la_told = la_notified_on or referral_date
    mediation = kind == "mediation"
    statutory = la_told + timedelta(days=STATUTORY_MEDIATION_DAYS) if mediation else None
    health_notice = (
        calendar.add_working_days(la_told, HEALTH_NOTICE_WORKING_DAYS)
        if mediation and health_in_issue
        else None
    )
    contact_window = (
        add_months(decision_date, CONTACT_WINDOW_MONTHS) if decision_date is not None else None
    )
    appeal = (
        appeal_deadline(decision_date, certificate_date, calendar)
        if decision_date is not None
        else None
    )
    due = (
        certificate_due(certificate_event_date, calendar)
        if certificate_event_date is not None
        else None
    )
    return Deadlines(
        target=referral_date + timedelta(days=target_days),
        statutory=statutory,
        contact_window=contact_window,
        appeal=appeal,
        certificate_due=due,
        health_notice=health_notice,
    )


def clock_state(
    deadline: date, today: date, *, amber_days: int = 7, red_days: int = 3
) -> ClockState:
    """Say how many days are left and whether the clock is ok, amber, red or overdue."""
    days_left = (deadline - today).days
    level: ClockLevel
    if days_left < 0:
        level = "overdue"
    elif days_left <= red_days:
        level = "red"
    elif days_left <= amber_days:
        level = "amber"
    else:
        level = "ok"
    return ClockState(days_left=days_left, level=level)


def done_state(deadline: date, done_on: date) -> ClockState:
    """Say whether a duty done on ``done_on`` met its deadline; ``days_left`` is the days it
    had to spare then (negative: how many days late)."""
    days_left = (deadline - done_on).days
    return ClockState(days_left=days_left, level="met" if days_left >= 0 else "late")
