"""The reporting periods staff pick by name, turned into the first and last day they cover.

Commissioners read the figures by the public sector's financial year (1 April to 31 March)
and over a rolling year, so those are offered by name; any other range is given as dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

Period = Literal["last_12_months", "this_financial_year", "last_financial_year"]
PERIOD_WORDS: dict[Period, str] = {
    "last_12_months": "The last 12 months",
    "this_financial_year": "This financial year",
    "last_financial_year": "Last financial year",
}
FINANCIAL_YEAR_STARTS = (4, 1)  # 1 April


def period_dates(period: Period, today: date) -> tuple[date, date]:
    """The first and last day ``period`` covers, seen on ``today`` (both days included)."""
    if period == "last_12_months":
        return _a_year_before(today) + timedelta(days=1), today
    start = _financial_year_start(today)
    if period == "last_financial_year":
        start = _financial_year_start(start - timedelta(days=1))
    return start, _financial_year_start(start + timedelta(days=366)) - timedelta(days=1)


def _financial_year_start(day: date) -> date:
    """1 April of the financial year ``day`` falls in."""
    month, first = FINANCIAL_YEAR_STARTS
    year = day.year if (day.month, day.day) >= (month, first) else day.year - 1
    return date(year, month, first)


def _a_year_before(day: date) -> date:
    """The same day a year earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)
