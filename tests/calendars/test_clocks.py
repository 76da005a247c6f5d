"""The case clocks against hand-checked dates (DOMAIN.md, "Clocks")."""

from __future__ import annotations

from datetime import date

import pytest

from calendars.clocks import (
    ClockState,
    Deadlines,
    add_months,
    appeal_deadline,
    case_deadlines,
    certificate_due,
    clock_state,
    latest_notice_date,
)
from calendars.workdays import WorkingDays

ENGLAND = WorkingDays()


@pytest.mark.parametrize(
    ("start", "months", "expected", "why"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28), "31 Jan + 1 month clamps to 28 Feb"),
        (date(2024, 1, 31), 1, date(2024, 2, 29), "leap year: clamps to 29 Feb"),
        (date(2023, 12, 31), 2, date(2024, 2, 29), "31 Dec + 2 months into a leap February"),
        (date(2024, 12, 31), 2, date(2025, 2, 28), "31 Dec + 2 months, ordinary February"),
        (date(2024, 2, 29), 12, date(2025, 2, 28), "29 Feb + 1 year has no 29th"),
        (date(2025, 11, 30), 2, date(2026, 1, 30), "across the year end, day kept"),
        (date(2025, 3, 31), 1, date(2025, 4, 30), "30-day month"),
        (date(2025, 5, 31), -3, date(2025, 2, 28), "backwards clamps too"),
        (date(2025, 7, 15), 2, date(2025, 9, 15), "plain case"),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date, why: str) -> None:
    assert add_months(start, months) == expected, why


def test_mediation_referral_before_august_bank_holiday() -> None:
    deadlines = case_deadlines(kind="mediation", referral_date=date(2025, 8, 22), calendar=ENGLAND)
    # Calendar days, bank holidays are not skipped: 22 Aug + 33 = 24 Sep; + 30 = Sun 21 Sep.
    assert deadlines == Deadlines(
        target=date(2025, 9, 24),
        statutory=date(2025, 9, 21),
        contact_window=None,
        appeal=None,
        certificate_due=None,
    )


def test_mediation_referral_before_may_day() -> None:
    deadlines = case_deadlines(
        kind="mediation",
        referral_date=date(2026, 5, 1),
        calendar=ENGLAND,
        certificate_event_date=date(2026, 5, 1),
    )
    assert deadlines.target == date(2026, 6, 3)  # 1 May + 33: 30 days left in May, 3 in June
    assert deadlines.statutory == date(2026, 5, 31)  # Sunday; calendar days are not moved
    # Fri 1 May -> Mon 4 May is May Day -> Tue 5, Wed 6, Thu 7.
    assert deadlines.certificate_due == date(2026, 5, 7)


@pytest.mark.parametrize("kind", ["disagreement_resolution", "mias"])
def test_only_mediation_has_the_statutory_30_days(kind: str) -> None:
    deadlines = case_deadlines(kind=kind, referral_date=date(2025, 8, 22), calendar=ENGLAND)
    assert deadlines.statutory is None
    assert deadlines.target == date(2025, 9, 24)


def test_target_days_is_configurable() -> None:
    deadlines = case_deadlines(
        kind="mediation", referral_date=date(2025, 1, 31), target_days=28, calendar=ENGLAND
    )
    assert deadlines.target == date(2025, 2, 28)


def test_decision_date_starts_contact_window_and_appeal() -> None:
    deadlines = case_deadlines(
        kind="mediation",
        referral_date=date(2025, 8, 1),
        decision_date=date(2025, 7, 15),
        calendar=ENGLAND,
    )
    assert deadlines.contact_window == date(2025, 9, 15)
    assert deadlines.appeal == date(2025, 9, 15)  # Monday, outside August and Christmas


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        case_deadlines(kind="arbitration", referral_date=date(2025, 1, 1), calendar=ENGLAND)


@pytest.mark.parametrize(
    ("decision", "certificate", "expected", "why"),
    [
        (date(2025, 3, 1), None, date(2025, 5, 1), "decision + 2 months"),
        (date(2025, 3, 1), date(2025, 4, 15), date(2025, 5, 15), "certificate + 1 month later"),
        (date(2025, 3, 1), date(2025, 3, 15), date(2025, 5, 1), "decision + 2 months later"),
        (date(2025, 10, 24), None, date(2025, 12, 24), "24 Dec is outside the window"),
        (
            date(2026, 10, 27),
            None,
            date(2027, 1, 4),
            "Sun 27 Dec 2026 -> Jan: Fri 1 is New Year, Sat 2, Sun 3 -> Mon 4 Jan 2027",
        ),
        (
            date(2025, 11, 1),
            None,
            date(2026, 1, 2),
            "lands on 1 Jan 2026 (Thu) itself -> Fri 2 Jan",
        ),
        (
            date(2027, 10, 1),
            date(2027, 11, 28),
            date(2028, 1, 4),
            "late-November certificate -> 28 Dec 2027; 1 Jan 2028 Sat, observed Mon 3 -> Tue 4",
        ),
        (
            date(2025, 11, 25),
            None,
            date(2026, 1, 25),
            "late-November decision lands after the window and is not moved",
        ),
        (
            date(2024, 6, 20),
            None,
            date(2024, 9, 2),
            "20 Aug 2024 -> first working day of Sep: Sun 1 -> Mon 2 Sep",
        ),
        (
            date(2025, 6, 1),
            date(2025, 7, 14),
            date(2025, 9, 1),
            "July certificate -> 14 Aug 2025 (later than 1 Aug) -> Mon 1 Sep",
        ),
    ],
)
def test_appeal_deadline(
    decision: date, certificate: date | None, expected: date, why: str
) -> None:
    assert appeal_deadline(decision, certificate, ENGLAND) == expected, why


def test_appeal_deadline_on_a_july_month_end_is_not_moved() -> None:
    # 31 May + 2 months = 31 Jul 2029, a Tuesday in July: stays.
    assert appeal_deadline(date(2029, 5, 31), None, ENGLAND) == date(2029, 7, 31)
    # 1 Jun 2029 + 2 months = Wed 1 Aug -> 1 Sep 2029 is Sat -> Mon 3 Sep.
    assert appeal_deadline(date(2029, 6, 1), None, ENGLAND) == date(2029, 9, 3)


@pytest.mark.parametrize(
    ("event", "expected", "why"),
    [
        (date(2025, 8, 22), date(2025, 8, 28), "Fri; Mon 25 BH -> Tue 26, Wed 27, Thu 28"),
        (date(2026, 12, 23), date(2026, 12, 30), "Thu 24, (25, 26-27, 28 BH) Tue 29, Wed 30"),
        (date(2026, 4, 2), date(2026, 4, 9), "Easter: Tue 7, Wed 8, Thu 9"),
        (date(2025, 3, 10), date(2025, 3, 13), "Mon -> Thu in an ordinary week"),
    ],
)
def test_certificate_due_in_three_working_days(event: date, expected: date, why: str) -> None:
    assert certificate_due(event, ENGLAND) == expected, why


@pytest.mark.parametrize(
    ("meeting", "expected", "why"),
    [
        (date(2025, 8, 26), date(2025, 8, 18), "Fri 22, Thu 21, Wed 20, Tue 19, Mon 18"),
        (date(2026, 5, 8), date(2026, 4, 30), "Thu 7, Wed 6, Tue 5, (Mon 4 BH) Fri 1, Thu 30 Apr"),
        (date(2025, 3, 14), date(2025, 3, 7), "Fri -> previous Fri in an ordinary week"),
    ],
)
def test_latest_notice_date_is_five_working_days_before(
    meeting: date, expected: date, why: str
) -> None:
    assert latest_notice_date(meeting, ENGLAND) == expected, why


def test_latest_notice_date_with_agreed_shorter_notice() -> None:
    assert latest_notice_date(date(2025, 8, 26), ENGLAND, working_days=1) == date(2025, 8, 22)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 9, 1), ClockState(23, "ok")),
        (date(2025, 9, 16), ClockState(8, "ok")),
        (date(2025, 9, 17), ClockState(7, "amber")),
        (date(2025, 9, 20), ClockState(4, "amber")),
        (date(2025, 9, 21), ClockState(3, "red")),
        (date(2025, 9, 24), ClockState(0, "red")),
        (date(2025, 9, 25), ClockState(-1, "overdue")),
    ],
)
def test_clock_state_levels(today: date, expected: ClockState) -> None:
    assert clock_state(date(2025, 9, 24), today) == expected


def test_clock_state_thresholds_are_configurable() -> None:
    state = clock_state(date(2025, 9, 24), date(2025, 9, 10), amber_days=14, red_days=10)
    assert state == ClockState(14, "amber")
    state = clock_state(date(2025, 9, 24), date(2025, 9, 14), amber_days=14, red_days=10)
    assert state == ClockState(10, "red")
