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

ClockLevel = Literal["ok", "amber", "red", "overdue"]


@dataclass(frozen=True)
class Deadlines:
    """Every clock of one case; None where the clock does not run (yet)."""

    target: date
    statutory: date | None
    contact_window: date | None
    appeal: date | None
    certificate_due: date | None


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


def appeal_deadline(
    decision_date: date, certificate_date: date | None, calendar: WorkingDays
) -> date:
    """Return the Tribunal appeal deadline, moved out of the Christmas window and out of August."""
    deadline = add_months(decision_date, APPEAL_MONTHS_FROM_DECISION)
    if certificate_date is not None:
        deadline = max(deadline, add_months(certificate_date, APPEAL_MONTHS_FROM_CERTIFICATE))
    if _in_christmas_window(deadline):
        january = deadline.year + 1 if deadline.month == 12 else deadline.year
        return calendar.next_working_day_on_or_after(date(january, 1, 2))
    if deadline.month == 8:
        return calendar.next_working_day_on_or_after(date(deadline.year, 9, 1))
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
    decision_date: date | None = None,
    certificate_date: date | None = None,
    certificate_event_date: date | None = None,
    calendar: WorkingDays,
) -> Deadlines:
    """Compute every clock of a case from the dates known so far."""
    if kind not in CASE_KINDS:
        raise ValueError(f"unknown case kind {kind!r}")
    statutory = (
        referral_date + timedelta(days=STATUTORY_MEDIATION_DAYS) if kind == "mediation" else None
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
