"""The case clocks as SQL, so the deadline board can filter and order 2,000 cases in the
database and read back one page.

The dates the board shows are still the exact ones from ``cases.deadlines``; these
expressions only decide which cases are on the board and in what order. Two things the
database cannot know are approximated, and only for that order: SQLite has no time zones,
so there the day the LA was told is the UTC day of the notice (PostgreSQL uses the case's
zone); and the certificate's 3 working days skip weekends but not bank holidays.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select

from calendars.clocks import CERTIFICATE_WORKING_DAYS, STATUTORY_MEDIATION_DAYS
from orchestrator.core.models import OPEN_CASE_STATUSES, Case, CaseKind, Certificate

NEVER = date(9999, 12, 31)  # stands in for "no such clock" where the earliest is taken
LONG_AGO = date(1, 1, 1)  # stands in for "no such event" where the latest is taken


class _DaysAfter(FunctionElement[date]):
    """``day + days`` as a date."""

    type = sa.Date()
    inherit_cache = True


class _LocalDay(FunctionElement[date]):
    """The calendar day a UTC timestamp falls on in a zone (UTC on SQLite)."""

    type = sa.Date()
    inherit_cache = True


class _Weekday(FunctionElement[int]):
    """The day of the week of a date, 0 for Sunday to 6 for Saturday."""

    type = sa.Integer()
    inherit_cache = True


class _Earliest(FunctionElement[date]):
    type = sa.Date()
    inherit_cache = True


class _Latest(FunctionElement[date]):
    type = sa.Date()
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(_DaysAfter, "sqlite")
def _days_after_sqlite(element: _DaysAfter, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = _args(element, compiler, **kw)
    return f"date({day}, printf('%+d days', {days}))"


@compiles(_DaysAfter, "postgresql")
def _days_after_postgresql(element: _DaysAfter, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = _args(element, compiler, **kw)
    return f"(CAST({day} AS DATE) + CAST({days} AS INTEGER))"


@compiles(_LocalDay, "sqlite")
def _local_day_sqlite(element: _LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    moment, _zone = _args(element, compiler, **kw)
    return f"date({moment})"


@compiles(_LocalDay, "postgresql")
def _local_day_postgresql(element: _LocalDay, compiler: SQLCompiler, **kw: Any) -> str:
    moment, zone = _args(element, compiler, **kw)
    return f"CAST(({moment}) AT TIME ZONE {zone} AS DATE)"


@compiles(_Weekday, "sqlite")
def _weekday_sqlite(element: _Weekday, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = _args(element, compiler, **kw)
    return f"CAST(strftime('%w', {day}) AS INTEGER)"


@compiles(_Weekday, "postgresql")
def _weekday_postgresql(element: _Weekday, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(DOW FROM CAST({day} AS DATE)) AS INTEGER)"


@compiles(_Earliest, "sqlite")
def _earliest_sqlite(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({', '.join(_args(element, compiler, **kw))})"


@compiles(_Earliest, "postgresql")
def _earliest_postgresql(element: _Earliest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({', '.join(_args(element, compiler, **kw))})"


@compiles(_Latest, "sqlite")
def _latest_sqlite(element: _Latest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({', '.join(_args(element, compiler, **kw))})"


@compiles(_Latest, "postgresql")
def _latest_postgresql(element: _Latest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({', '.join(_args(element, compiler, **kw))})"


def _day(value: date) -> ColumnElement[date]:
    return sa.literal(value, sa.Date())


def certificate_event_day() -> ColumnElement[date]:
    """The latest event that calls for a certificate (NULL: none), as ``deadlines_for``."""
    events = (Case.certificate_event_on, Case.declined_on, Case.la_cannot_meet_30_days_on)
    latest = _Latest(*(sa.func.coalesce(col(e), _day(LONG_AGO)) for e in events))
    return sa.func.nullif(latest, _day(LONG_AGO))


def certificate_pending() -> ColumnElement[bool]:
    """The certificate clock runs: an event calls for one and none was issued since."""
    event = certificate_event_day()
    issued_since = (
        select(Certificate.id)
        .where(
            col(Certificate.case_id) == col(Case.id),
            _LocalDay(col(Certificate.issued_at), col(Case.timezone)) >= event,
        )
        .exists()
    )
    return sa.and_(event.is_not(None), sa.not_(issued_since))


def on_the_board() -> ColumnElement[bool]:
    """Open cases, and any whose certificate is still due: that clock is work too."""
    return sa.or_(col(Case.status).in_(list(OPEN_CASE_STATUSES)), certificate_pending())


def _certificate_due_day() -> ColumnElement[date]:
    """3 working days after the event, weekends skipped (bank holidays are not)."""
    event = certificate_event_day()
    weekday = _Weekday(event)
    working = CERTIFICATE_WORKING_DAYS
    # From Sunday to Tuesday the 3 days fit in the week; Saturday skips Sunday; from
    # Wednesday to Friday they cross one weekend.
    days = sa.case(
        (weekday.in_([0, 1, 2]), working), (weekday == 6, working + 1), else_=working + 2
    )
    return sa.case((certificate_pending(), _DaysAfter(event, days)), else_=None)


def _statutory_day() -> ColumnElement[date]:
    """30 days from the day the LA was told (until then, from the go-ahead); mediation only."""
    told = sa.func.coalesce(
        _LocalDay(col(Case.referral_sent_at), col(Case.timezone)), col(Case.referral_date)
    )
    return sa.case(
        (col(Case.kind) == CaseKind.mediation, _DaysAfter(told, STATUTORY_MEDIATION_DAYS)),
        else_=None,
    )


def _target_day(service_target_days: int) -> ColumnElement[date]:
    days = sa.func.coalesce(col(Case.target_days), service_target_days)
    return _DaysAfter(col(Case.referral_date), days)


def most_urgent_day(service_target_days: int) -> ColumnElement[date]:
    """The day the case's most urgent running clock falls due: target, statutory 30 days
    or certificate, whichever comes first."""
    clocks = (_target_day(service_target_days), _statutory_day(), _certificate_due_day())
    return _Earliest(*(sa.func.coalesce(clock, _day(NEVER)) for clock in clocks))
