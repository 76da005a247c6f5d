"""When a child in England stops being of compulsory school age, from their date of birth.

The school year runs 1 September to 31 August. A child is of compulsory school age until
the last Friday in June of the school year in which they turn 16 (Education Act 1996
s.8); from that day they are a *young person* and, in SEND mediation, make the decisions
themselves (Children and Families Act 2014 s.83). Born 1 September 2009 to 31 August 2010:
they turn 16 in the 2025/26 school year and are over compulsory school age from Friday
26 June 2026.
"""

from __future__ import annotations

from datetime import date, timedelta

SCHOOL_YEAR_STARTS_IN = 9  # September
LEAVING_AGE = 16
FRIDAY = 4


def last_friday_of_june(year: int) -> date:
    """The last Friday in June of ``year``."""
    end = date(year, 6, 30)
    return end - timedelta(days=(end.weekday() - FRIDAY) % 7)


def over_compulsory_school_age_on(born: date) -> date:
    """The first day someone born on ``born`` is over compulsory school age."""
    # The school year they turn 16 in ends in the summer of this year: a birthday from
    # September on falls in the school year that ends the summer after.
    summer = born.year + LEAVING_AGE + (1 if born.month >= SCHOOL_YEAR_STARTS_IN else 0)
    return last_friday_of_june(summer)


def is_over_compulsory_school_age(born: date, today: date) -> bool:
    """True once someone born on ``born`` is a young person (on or after the day itself)."""
    return today >= over_compulsory_school_age_on(born)
