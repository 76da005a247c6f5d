"""The case's state machine: which status may follow which, for what cause.

Every change of a case's status goes through ``move_case``: it checks the edge and its
cause against ``CASE_TRANSITIONS``, writes a ``CaseStatusChange`` row (time, cause,
actor), and keeps ``closed_at`` with the closed states. Writers never assign
``Case.status`` themselves (decision record 012).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import InvalidState
from orchestrator.core.models import (
    Case,
    CaseStatus,
    CaseStatusCause,
    CaseStatusChange,
    in_words,
)

S = CaseStatus
C = CaseStatusCause

# The case's life (DOMAIN.md): referred -> negotiating -> booked -> held -> outcome
# recorded -> certificate issued -> closed; staff may close or withdraw it before that.
# Each edge names the causes that may take it; what no edge names cannot happen.
_STAFF = frozenset({C.staff})
CASE_TRANSITIONS: Mapping[CaseStatus, Mapping[CaseStatus, frozenset[CaseStatusCause]]] = {
    S.referred: {
        S.negotiating: frozenset({C.availability_requested}),
        S.booked: frozenset({C.meeting_booked}),
        S.outcome_recorded: frozenset({C.consent_declined, C.family_withdrew}),
        S.certificate_issued: frozenset({C.certificate_issued}),
        S.closed: _STAFF,
        S.withdrawn: _STAFF,
    },
    S.negotiating: {
        S.booked: frozenset({C.meeting_booked}),
        S.outcome_recorded: frozenset({C.consent_declined, C.family_withdrew}),
        S.certificate_issued: frozenset({C.certificate_issued}),
        S.closed: _STAFF,
        S.withdrawn: _STAFF,
    },
    S.booked: {
        S.negotiating: frozenset({C.meeting_cancelled}),
        S.held: frozenset({C.session_ended}),
        # A session nobody ended here (in person, or its provider's own room).
        S.outcome_recorded: frozenset({C.outcome_recorded, C.consent_declined, C.family_withdrew}),
        S.certificate_issued: frozenset({C.certificate_issued}),
        S.closed: _STAFF,
        S.withdrawn: _STAFF,
    },
    S.held: {
        S.outcome_recorded: frozenset({C.outcome_recorded, C.consent_declined, C.family_withdrew}),
        S.certificate_issued: frozenset({C.certificate_issued}),  # an information call (MIAS)
        S.closed: _STAFF,
        S.withdrawn: _STAFF,
    },
    S.outcome_recorded: {
        S.certificate_issued: frozenset({C.certificate_issued}),
        S.closed: _STAFF,
        S.withdrawn: _STAFF,
    },
    S.certificate_issued: {
        S.closed: _STAFF,
    },
    # Final: a family that comes back is a new referral, a new case.
    S.closed: {},
    S.withdrawn: {},
}

CLOSED_STATUSES = frozenset({S.closed, S.withdrawn})


def allows(current: CaseStatus, to: CaseStatus, cause: CaseStatusCause) -> bool:
    """True when the table lets ``cause`` move a case from ``current`` to ``to``."""
    return cause in CASE_TRANSITIONS[current].get(to, frozenset())


def staff_choices(current: CaseStatus) -> list[CaseStatus]:
    """The statuses a member of staff may set from ``current`` (closed, withdrawn)."""
    return [to for to, causes in CASE_TRANSITIONS[current].items() if C.staff in causes]


def _refusal(case: Case, to: CaseStatus, cause: CaseStatusCause) -> InvalidState:
    message = f"a case that is {in_words(case.status)} cannot become {in_words(to)}"
    if cause is C.staff:
        choices = staff_choices(case.status)
        message += (
            " by a change of its details; "
            + (
                "staff may set it to " + " or ".join(s.value for s in choices)
                if choices
                else "it is final"
            )
            + " (the other statuses follow what happens: a poll, a booking, the session, "
            "its outcome, the certificate)"
        )
    return InvalidState(
        message,
        details={"status": case.status.value, "requested": to.value, "cause": cause.value},
    )


async def move_case(
    session: AsyncSession,
    *,
    case: Case,
    to: CaseStatus,
    cause: CaseStatusCause,
    actor: str | None,
    now: datetime,
) -> CaseStatusChange | None:
    """Move the case to ``to`` for ``cause`` if the table allows it; refuse (409) if not.

    Asking for the status the case already has changes nothing (None).
    """
    current = case.status
    if to is current:
        return None
    if not allows(current, to, cause):
        raise _refusal(case, to, cause)
    case.status = to
    case.updated_at = now
    if to in CLOSED_STATUSES:
        case.closed_at = now
    elif current in CLOSED_STATUSES:
        case.closed_at = None
    change = CaseStatusChange(
        case_id=case.id, from_status=current, to_status=to, cause=cause, actor=actor, at=now
    )
    session.add(change)
    return change


async def move_case_if_allowed(
    session: AsyncSession,
    *,
    case: Case,
    to: CaseStatus,
    cause: CaseStatusCause,
    actor: str | None,
    now: datetime,
) -> CaseStatusChange | None:
    """Move the case when the table has the edge; leave it where it is otherwise.

    For events that move a case only from some statuses (a booking moves a case that is
    still finding a time; a case already past it stays where it is).
    """
    if case.status is to or not allows(case.status, to, cause):
        return None
    return await move_case(session, case=case, to=to, cause=cause, actor=actor, now=now)


async def history(session: AsyncSession, case: Case) -> list[CaseStatusChange]:
    """Every change of the case's status, oldest first."""
    query = (
        select(CaseStatusChange)
        .where(col(CaseStatusChange.case_id) == case.id)
        .order_by(col(CaseStatusChange.at), col(CaseStatusChange.id))
    )
    return list((await session.scalars(query)).all())
