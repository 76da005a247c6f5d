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
    done_state,
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


# The appeal deadline, worked by hand from the rules: the later of decision + 2 months and
# certificate + 1 month (calendar months, the day clamped to the month's end); a limit in
# 25 Dec-1 Jan runs to the next working day in January, one in August to the first working
# day of September (DOMAIN.md); then a limit on a weekend or an England bank holiday runs to
# the next working day (HESC Chamber Rules 2008, r.12(2)), and if that lands in the window
# or in August, those rules apply again. Weekdays and bank holidays are from the published
# England and Wales list (gov.uk/bank-holidays), not from the code under test.
APPEAL_CASES = [
    # decision, certificate, expected, how it was worked
    ("2026-11-02", None, "2027-01-04", "2 Jan 2027 is a Sat, outside the window: Mon 4 Jan"),
    ("2026-10-01", "2026-12-23", "2027-01-25", "1 Dec vs Sat 23 Jan 2027: later -> Mon 25 Jan"),
    ("2026-10-27", "2026-12-03", "2027-01-04", "27 Dec -> Jan: Fri 1 NYD, Mon 4; Sun 3 Jan -> 4"),
    ("2026-10-28", None, "2027-01-04", "Mon 28 Dec (Boxing Day observed), window -> Mon 4 Jan"),
    ("2026-10-20", None, "2026-12-21", "Sun 20 Dec 2026, before the window: Mon 21 Dec"),
    ("2025-10-25", None, "2026-01-02", "Christmas Day 2025 (Thu) -> Jan: Thu 1 NYD -> Fri 2"),
    ("2025-11-01", None, "2026-01-02", "1 Jan 2026 (Thu) itself is in the window -> Fri 2 Jan"),
    ("2025-10-24", None, "2025-12-24", "Wed 24 Dec 2025 is a working day outside the window"),
    ("2025-11-25", None, "2026-01-26", "Sun 25 Jan 2026 -> Mon 26 Jan"),
    (
        "2022-10-24",
        None,
        "2023-01-03",
        "Sat 24 Dec 2022 -> Wed 28 (Mon 26, Tue 27 BH) is in "
        "the window -> Jan: Mon 2 is NYD observed -> Tue 3 Jan 2023",
    ),
    (
        "2027-10-01",
        "2027-11-28",
        "2028-01-04",
        "28 Dec 2027 -> Jan: Sat 1, Sun 2, Mon 3 NYD observed -> Tue 4 Jan 2028",
    ),
    ("2024-06-20", None, "2024-09-02", "20 Aug 2024 -> Sun 1 Sep -> Mon 2 Sep"),
    ("2026-06-30", None, "2026-09-01", "Sun 30 Aug 2026 -> Tue 1 Sep (Mon 31 Aug is a BH)"),
    ("2025-06-01", "2025-07-14", "2025-09-01", "1 Aug vs 14 Aug 2025, both -> Mon 1 Sep"),
    ("2029-06-01", None, "2029-09-03", "Wed 1 Aug 2029 -> Sat 1 Sep -> Mon 3 Sep"),
    ("2026-05-31", None, "2026-07-31", "31 Jul 2026 is a Friday: stays in July"),
    ("2027-05-31", None, "2027-09-01", "Sat 31 Jul 2027 -> Mon 2 Aug is in August -> Wed 1 Sep"),
    ("2026-02-03", None, "2026-04-07", "Good Friday 3 Apr 2026 -> Sat, Sun, Easter Mon -> Tue 7"),
    ("2026-03-04", None, "2026-05-05", "Mon 4 May 2026 is May Day -> Tue 5 May"),
    ("2027-03-31", None, "2027-06-01", "Mon 31 May 2027 is the Spring BH -> Tue 1 Jun"),
    ("2023-12-31", None, "2024-02-29", "leap year: 31 Dec + 2 months clamps to Thu 29 Feb 2024"),
    ("2024-12-29", None, "2025-02-28", "no 29 Feb 2025: clamps to Fri 28 Feb"),
    ("2019-12-29", None, "2020-03-02", "leap day Sat 29 Feb 2020 -> Mon 2 Mar"),
    (
        "2023-11-20",
        "2024-01-31",
        "2024-02-29",
        "Sat 20 Jan -> Mon 22 vs 31 Jan + 1 month = Thu 29 Feb 2024: later",
    ),
    ("2025-03-01", "2025-03-15", "2025-05-01", "Thu 1 May vs Tue 15 Apr: the decision's"),
    ("2025-03-01", "2025-04-15", "2025-05-15", "Thu 1 May vs Thu 15 May: the certificate's"),
]


@pytest.mark.parametrize(("decision", "certificate", "expected", "why"), APPEAL_CASES)
def test_appeal_deadline_hand_worked(
    decision: str, certificate: str | None, expected: str, why: str
) -> None:
    got = appeal_deadline(
        date.fromisoformat(decision),
        date.fromisoformat(certificate) if certificate else None,
        ENGLAND,
    )
    assert got == date.fromisoformat(expected), why


def test_a_certificate_never_moves_the_appeal_deadline_earlier() -> None:
    # The issue's case: 27 Dec 2026 goes to Mon 4 Jan; a certificate of 3 Dec gives Sun
    # 3 Jan, which is later than 27 Dec but must not undercut the 4th.
    before = appeal_deadline(date(2026, 10, 27), None, ENGLAND)
    after = appeal_deadline(date(2026, 10, 27), date(2026, 12, 3), ENGLAND)
    assert (before, after) == (date(2027, 1, 4), date(2027, 1, 4))


# Where each clock of a mediation starts, worked by hand: the provider's target runs from
# the go-ahead (calendar days, never moved); the statutory 30 days run from the day the LA
# was told (calendar days, not moved off weekends), from the go-ahead while it has not
# been; the health notice is 3 working days after the LA was told (weekends and England
# bank holidays skipped, the day itself not counted).
NOTICE_CASES = [
    # go-ahead, LA told, health in issue, target, statutory, health notice, how
    (
        "2026-10-20",
        "2026-10-20",
        False,
        "2026-11-22",
        "2026-11-19",
        None,
        "told the same day: 11 days left in Oct, +22 Nov = 33; +19 Nov = 30",
    ),
    (
        "2026-10-20",
        "2026-12-01",
        True,
        "2026-11-22",
        "2026-12-31",
        "2026-12-04",
        "late notice (42 days): target stays 22 Nov; 1 Dec + 30 = 31 Dec; Wed 2, Thu 3, Fri 4",
    ),
    (
        "2026-10-20",
        None,
        True,
        "2026-11-22",
        "2026-11-19",
        "2026-10-23",
        "not told yet: counted from the go-ahead; Tue 20 -> Wed 21, Thu 22, Fri 23 Oct",
    ),
    (
        "2026-12-18",
        "2026-12-23",
        True,
        "2027-01-20",
        "2027-01-22",
        "2026-12-30",
        "13 days left in Dec + 20 = 33; 23 Dec + 30 = 22 Jan; Thu 24, (Fri 25, Mon 28 BH) "
        "Tue 29, Wed 30",
    ),
    (
        "2026-04-01",
        "2026-04-02",
        True,
        "2026-05-04",
        "2026-05-02",
        "2026-04-09",
        "29 left in Apr + 4 = 33 (Mon 4 May BH, not moved); 2 Apr + 30 = Sat 2 May; Good Fri, "
        "Easter Mon: Tue 7, Wed 8, Thu 9",
    ),
    (
        "2026-08-27",
        "2026-08-28",
        True,
        "2026-09-29",
        "2026-09-27",
        "2026-09-03",
        "4 left in Aug + 29 = 33; 28 Aug + 30 = 27 Sep; Mon 31 Aug BH: Tue 1, Wed 2, Thu 3 Sep",
    ),
    (
        "2028-02-07",
        "2028-02-10",
        False,
        "2028-03-11",
        "2028-03-11",
        None,
        "leap February: 22 left + 11 = 33; 19 left + 11 = 30",
    ),
    (
        "2027-02-08",
        "2027-02-10",
        False,
        "2027-03-13",
        "2027-03-12",
        None,
        "ordinary February: 20 left + 13 = 33; 18 left + 12 = 30",
    ),
]


@pytest.mark.parametrize(
    ("go_ahead", "told", "health", "target", "statutory", "health_notice", "why"), NOTICE_CASES
)
def test_mediation_clocks_from_the_go_ahead_and_the_la_notice(
    go_ahead: str,
    told: str | None,
    health: bool,
    target: str,
    statutory: str,
    health_notice: str | None,
    why: str,
) -> None:
    deadlines = case_deadlines(
        kind="mediation",
        referral_date=date.fromisoformat(go_ahead),
        la_notified_on=date.fromisoformat(told) if told else None,
        health_in_issue=health,
        calendar=ENGLAND,
    )
    assert deadlines.target == date.fromisoformat(target), why
    assert deadlines.statutory == date.fromisoformat(statutory), why
    expected_health = date.fromisoformat(health_notice) if health_notice else None
    assert deadlines.health_notice == expected_health, why


@pytest.mark.parametrize("kind", ["disagreement_resolution", "mias"])
def test_only_mediation_has_the_health_notice_clock(kind: str) -> None:
    deadlines = case_deadlines(
        kind=kind, referral_date=date(2026, 10, 20), health_in_issue=True, calendar=ENGLAND
    )
    assert deadlines.health_notice is None


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


@pytest.mark.parametrize(
    ("done_on", "expected"),
    [
        (date(2025, 9, 19), ClockState(days_left=5, level="met")),
        (date(2025, 9, 24), ClockState(days_left=0, level="met")),  # on the day: in time
        (date(2025, 9, 25), ClockState(days_left=-1, level="late")),
        (date(2025, 10, 1), ClockState(days_left=-7, level="late")),
    ],
)
def test_a_duty_done_is_met_or_late_whatever_the_day_now(
    done_on: date, expected: ClockState
) -> None:
    assert done_state(date(2025, 9, 24), done_on) == expected
