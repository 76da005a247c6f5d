"""Over compulsory school age: from the last Friday in June of the school year they turn 16.

Hand-worked: the school year runs 1 September to 31 August, so a birthday on 31 August
and one on 1 September a year earlier land in the same school year.
"""

from __future__ import annotations

from datetime import date

import pytest

from calendars.school_age import (
    is_over_compulsory_school_age,
    last_friday_of_june,
    over_compulsory_school_age_on,
)


@pytest.mark.parametrize(
    ("born", "over_from"),
    [
        # The brief's example: born 1 Sep 2009 – 31 Aug 2010, the 2025/26 school year.
        (date(2009, 9, 1), date(2026, 6, 26)),
        (date(2010, 8, 31), date(2026, 6, 26)),
        # A day either side of that school year.
        (date(2009, 8, 31), date(2025, 6, 27)),
        (date(2010, 9, 1), date(2027, 6, 25)),
        # New Year's Day falls inside the school year that began the September before.
        (date(2010, 1, 1), date(2026, 6, 26)),
        # Leap day births: 29 Feb 2008 turns 16 in 2023/24; 2024's June ends on a Sunday.
        (date(2008, 2, 29), date(2024, 6, 28)),
        (date(2012, 2, 29), date(2028, 6, 30)),  # 30 June 2028 is itself a Friday
        # A birthday in June itself, after the last Friday: still that summer.
        (date(2010, 6, 30), date(2026, 6, 26)),
    ],
)
def test_the_day_someone_is_over_compulsory_school_age(born: date, over_from: date) -> None:
    assert over_compulsory_school_age_on(born) == over_from
    assert over_from.weekday() == 4  # a Friday


def test_last_friday_of_june_when_june_ends_on_each_weekday() -> None:
    assert last_friday_of_june(2026) == date(2026, 6, 26)  # June ends on a Tuesday
    assert last_friday_of_june(2028) == date(2028, 6, 30)  # on the Friday itself
    assert last_friday_of_june(2029) == date(2029, 6, 29)  # on a Saturday
    assert last_friday_of_june(2033) == date(2033, 6, 24)  # on a Thursday


def test_a_young_person_from_that_friday_on_not_the_day_before() -> None:
    born = date(2010, 8, 31)
    assert not is_over_compulsory_school_age(born, date(2026, 6, 25))
    assert is_over_compulsory_school_age(born, date(2026, 6, 26))
    # Turning 16 on 31 August 2026 comes after: the law goes by the school year.
    assert is_over_compulsory_school_age(born, date(2026, 8, 30))
