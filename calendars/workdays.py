"""The working-day calendar: weekends, England bank holidays and the service's own closures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

_SATURDAY = 5


class WorkingDays:
    """Answer working-day questions for one UK subdivision, caching each year's holidays."""

    def __init__(self, subdiv: str = "ENG", extra_closures: Iterable[date] = ()) -> None:
        self.subdiv = subdiv
        self._closures = frozenset(extra_closures)
        self._names_by_year: dict[int, dict[date, str]] = {}
        self._closed_by_year: dict[int, frozenset[date]] = {}

    def _bank_holidays(self, year: int) -> dict[date, str]:
        names = self._names_by_year.get(year)
        if names is None:
            table = holidays.country_holidays("GB", subdiv=self.subdiv, years=year)
            names = {day: str(name) for day, name in table.items()}
            self._names_by_year[year] = names
        return names

    def _closed_days(self, year: int) -> frozenset[date]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            closures = {d for d in self._closures if d.year == year}
            closed = frozenset(self._bank_holidays(year)) | closures
            self._closed_by_year[year] = closed
        return closed

    def is_working_day(self, d: date) -> bool:
        """Say whether ``d`` is a weekday that is neither a bank holiday nor a closure."""
        return d.weekday() < _SATURDAY and d not in self._closed_days(d.year)

    def holiday_name(self, d: date) -> str | None:
        """Name the bank holiday or closure on ``d``, or None on an ordinary day."""
        name = self._bank_holidays(d.year).get(d)
        if name is not None:
            return name
        if d in self._closures:
            return "Service closure"
        return None

    def add_working_days(self, d: date, n: int) -> date:
        """Move ``n`` working days from ``d`` (back when negative); ``d`` itself never counts."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        current = d
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def next_working_day_on_or_after(self, d: date) -> date:
        """Return ``d`` if it is a working day, otherwise the next one."""
        current = d
        while not self.is_working_day(current):
            current += timedelta(days=1)
        return current

    def working_days_between(self, a: date, b: date) -> int:
        """Count the working days stepped onto going from ``a`` to ``b``; negative going back.

        ``a`` itself never counts and ``b`` does, so this inverts ``add_working_days``:
        ``working_days_between(a, add_working_days(a, n)) == n`` for any ``n``.
        """
        step = timedelta(days=1 if b >= a else -1)
        count = 0
        current = a
        while current != b:
            current += step
            if self.is_working_day(current):
                count += 1
        return count if b >= a else -count
