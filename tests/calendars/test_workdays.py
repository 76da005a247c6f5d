"""The working-day calendar against hand-checked England dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from holidays.countries.united_kingdom import UnitedKingdom
from hypothesis import given
from hypothesis import strategies as st

from calendars.workdays import WorkingDays

ENGLAND = WorkingDays()


@pytest.mark.parametrize(
    ("start", "n", "expected", "why"),
    [
        (date(2025, 8, 22), 1, date(2025, 8, 26), "Fri; Mon 25 Aug 2025 is Late Summer BH"),
        (date(2025, 8, 22), 3, date(2025, 8, 28), "Tue 26, Wed 27, Thu 28"),
        (date(2026, 5, 1), 1, date(2026, 5, 5), "Fri; Mon 4 May 2026 is May Day"),
        (date(2026, 4, 2), 1, date(2026, 4, 7), "Thu before Easter: Good Fri 3, Easter Mon 6"),
        (date(2026, 12, 24), 1, date(2026, 12, 29), "Xmas Fri 25, Boxing Day observed Mon 28"),
        (date(2027, 12, 24), 1, date(2027, 12, 29), "both Xmas days substituted: Mon 27, Tue 28"),
        (date(2027, 12, 31), 1, date(2028, 1, 4), "1 Jan 2028 is Sat, observed Mon 3 Jan"),
        (date(2025, 8, 23), 1, date(2025, 8, 26), "from a Saturday, the BH Monday is skipped"),
        (date(2026, 4, 7), -1, date(2026, 4, 2), "backwards over Easter"),
        (date(2025, 8, 26), -1, date(2025, 8, 22), "backwards over the August BH weekend"),
        (date(2025, 3, 12), 0, date(2025, 3, 12), "zero days moves nowhere"),
    ],
)
def test_add_working_days_skips_weekends_and_bank_holidays(
    start: date, n: int, expected: date, why: str
) -> None:
    assert ENGLAND.add_working_days(start, n) == expected, why


def test_substitute_boxing_day_2026_is_a_named_non_working_day() -> None:
    # 26 Dec 2026 is a Saturday, so Monday 28 Dec is the substitute bank holiday.
    assert not ENGLAND.is_working_day(date(2026, 12, 28))
    assert ENGLAND.holiday_name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert ENGLAND.is_working_day(date(2026, 12, 29))
    assert ENGLAND.holiday_name(date(2026, 12, 29)) is None


def test_easter_is_closed_and_named() -> None:
    assert ENGLAND.holiday_name(date(2026, 4, 3)) == "Good Friday"
    assert ENGLAND.holiday_name(date(2026, 4, 6)) == "Easter Monday"
    assert not ENGLAND.is_working_day(date(2026, 4, 3))
    assert not ENGLAND.is_working_day(date(2026, 4, 6))


def test_weekends_are_not_working_days_but_have_no_holiday_name() -> None:
    assert not ENGLAND.is_working_day(date(2025, 8, 23))
    assert ENGLAND.holiday_name(date(2025, 8, 23)) is None
    assert ENGLAND.is_working_day(date(2025, 8, 22))


def test_extra_closures_close_the_service() -> None:
    closing = WorkingDays(extra_closures=[date(2025, 12, 24)])
    assert not closing.is_working_day(date(2025, 12, 24))
    assert closing.holiday_name(date(2025, 12, 24)) == "Service closure"
    # Tue 23 Dec -> Wed 24 closed, Thu 25 and Fri 26 bank holidays -> Mon 29 Dec.
    assert closing.add_working_days(date(2025, 12, 23), 1) == date(2025, 12, 29)
    assert ENGLAND.add_working_days(date(2025, 12, 23), 1) == date(2025, 12, 24)


def test_next_working_day_on_or_after() -> None:
    assert ENGLAND.next_working_day_on_or_after(date(2025, 8, 22)) == date(2025, 8, 22)
    assert ENGLAND.next_working_day_on_or_after(date(2025, 8, 23)) == date(2025, 8, 26)
    assert ENGLAND.next_working_day_on_or_after(date(2026, 12, 25)) == date(2026, 12, 29)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    # Fri 22 -> Fri 29 Aug 2025: Tue 26, Wed 27, Thu 28, Fri 29 (Mon 25 is a BH).
    assert ENGLAND.working_days_between(date(2025, 8, 22), date(2025, 8, 29)) == 4
    # Backwards from Fri 29 to Fri 22: Thu 28, Wed 27, Tue 26, Fri 22 (the end counts).
    assert ENGLAND.working_days_between(date(2025, 8, 29), date(2025, 8, 22)) == -4
    assert ENGLAND.working_days_between(date(2025, 8, 22), date(2025, 8, 22)) == 0


DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(start=DATES, n=st.integers(min_value=-40, max_value=40).filter(bool))
def test_add_working_days_agrees_with_the_holidays_package(start: date, n: int) -> None:
    reference = UnitedKingdom(subdiv="ENG")
    moved = ENGLAND.add_working_days(start, n)
    assert moved == reference.get_nth_working_day(start, n)
    assert ENGLAND.working_days_between(start, moved) == n


@given(a=DATES, span=st.integers(min_value=0, max_value=60))
def test_working_days_between_agrees_with_the_holidays_package(a: date, span: int) -> None:
    reference = UnitedKingdom(subdiv="ENG")
    b = a + timedelta(days=span)
    # The package counts the closed range [a, b]; ours counts (a, b].
    expected = reference.get_working_days_count(a, b) - int(reference.is_working_day(a))
    assert ENGLAND.working_days_between(a, b) == expected
