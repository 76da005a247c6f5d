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
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select

from calendars.clocks import CERTIFICATE_WORKING_DAYS, STATUTORY_MEDIATION_DAYS
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Agreement,
    AgreementAction,
    Case,
    CaseKind,
    Certificate,
)

NEVER = date(9999, 12, 31)  # stands in for "no such clock" where the earliest is taken
LONG_AGO = date(1, 1, 1)  # stands in for "no such event" where the latest is taken


class _Portable(FunctionElement[Any]):
    """A small SQL function spelt once per database (``_spelt``)."""

    templates: ClassVar[dict[str, str]]
    inherit_cache = True


def _render(element: _Portable, compiler: SQLCompiler, **kw: Any) -> str:
    args = [compiler.process(clause, **kw) for clause in element.clauses]
    return element.templates[compiler.dialect.name].format(*args, all=", ".join(args))


def _spelt(name: str, result: Any, *, sqlite: str, postgresql: str) -> type[_Portable]:
    """A function class of its own (so SQLAlchemy caches each apart): ``{0}``, ``{1}`` are
    its arguments and ``{all}`` all of them, comma-separated."""
    templates = {"sqlite": sqlite, "postgresql": postgresql}
    body = {"type": result, "templates": templates, "inherit_cache": True}
    function = type(name, (_Portable,), body)
    compiles(function)(_render)
    return function


# ``day + days``, as a date.
_DaysAfter = _spelt(
    "_DaysAfter",
    sa.Date(),
    sqlite="date({0}, printf('%+d days', {1}))",
    postgresql="(CAST({0} AS DATE) + CAST({1} AS INTEGER))",
)
# The calendar day a UTC timestamp falls on in a zone (the UTC day on SQLite).
_LocalDay = _spelt(
    "_LocalDay",
    sa.Date(),
    sqlite="date({0})",
    postgresql="CAST(({0}) AT TIME ZONE {1} AS DATE)",
)
# The day of the week of a date, 0 for Sunday to 6 for Saturday.
_Weekday = _spelt(
    "_Weekday",
    sa.Integer(),
    sqlite="CAST(strftime('%w', {0}) AS INTEGER)",
    postgresql="CAST(EXTRACT(DOW FROM CAST({0} AS DATE)) AS INTEGER)",
)
_Earliest = _spelt("_Earliest", sa.Date(), sqlite="min({all})", postgresql="LEAST({all})")
_Latest = _spelt("_Latest", sa.Date(), sqlite="max({all})", postgresql="GREATEST({all})")


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


def overdue_actions(today: date) -> ColumnElement[int]:
    """How many actions of the case's final written agreements were due before ``today``."""
    return (
        select(sa.func.count(col(AgreementAction.id)))
        .join(Agreement, col(Agreement.id) == col(AgreementAction.agreement_id))
        .where(
            col(AgreementAction.case_id) == col(Case.id),
            col(Agreement.final_at).is_not(None),
            col(AgreementAction.due_on) < today,
        )
        .correlate(Case)
        .scalar_subquery()
    )
