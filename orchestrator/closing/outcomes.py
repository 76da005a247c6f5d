"""Record what came of a session: the result, each issue, next steps, and who attended.

The mediator records the outcome after the meeting. Attendance is confirmed from the
merged record of participant events (link clicks, provider call-backs, the mediator's own
marks), which the mediator may correct for a person. Recording the outcome moves the case
on and starts the 3-working-day certificate clock from the day the session ended.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel._compat import SQLModelConfig

from calendars.clocks import certificate_due
from calendars.workdays import WorkingDays
from orchestrator.closing.case_progress import move_case_on
from orchestrator.core.errors import InvalidState, NotFound, ValidationFailed
from orchestrator.core.events import AttendanceFinal, EventBus, OutcomeRecorded
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    Certificate,
    CertificateKind,
    Channel,
    Meeting,
    MeetingStatus,
    MeetingTransition,
    Outcome,
    OutcomeResult,
    PartyRole,
)
from orchestrator.core.records import add_timeline
from orchestrator.meeting import attendance

# Results where the mediation itself took place (a party may have withdrawn part-way).
MEDIATION_HELD = frozenset(
    {
        OutcomeResult.agreement,
        OutcomeResult.partial_agreement,
        OutcomeResult.no_agreement,
        OutcomeResult.withdrawn,
    }
)
RESULT_WORDS = {
    OutcomeResult.agreement: "agreement",
    OutcomeResult.partial_agreement: "partial agreement",
    OutcomeResult.no_agreement: "no agreement",
    OutcomeResult.withdrawn: "a party withdrew",
    OutcomeResult.not_attended: "a party did not attend or could not be contacted",
}


# ---------------------------------------------------------------------------- schemas


class IssueOutcome(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    summary: str = Field(min_length=1, max_length=1000)
    agreed: bool


class NextStep(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    action: str = Field(min_length=1, max_length=1000)
    who: str = Field(min_length=1, max_length=200)
    due: date | None = None


class AttendanceMark(SQLModel):
    """The mediator's correction for one person (e.g. joined by a phone we could not see)."""

    model_config = SQLModelConfig(extra="forbid")

    party_id: uuid.UUID
    attended: bool


class OutcomeCreate(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    result: OutcomeResult
    issues: list[IssueOutcome] = Field(default_factory=list, max_length=50)
    agreement_text: str | None = Field(default=None, max_length=20000)
    next_steps: list[NextStep] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(default=None, max_length=5000)
    attendance: list[AttendanceMark] | None = Field(default=None, max_length=100)


class PartyAttendance(SQLModel):
    party_id: uuid.UUID
    role: PartyRole
    attended: bool
    seconds_present: int
    channel: Channel | None
    confirmed_by: str  # events | mediator


class OutcomePublic(SQLModel):
    id: uuid.UUID
    meeting_id: uuid.UUID
    case_id: uuid.UUID
    result: OutcomeResult
    issues: list[IssueOutcome]
    agreement_text: str | None
    next_steps: list[NextStep]
    notes: str | None
    attendance: list[PartyAttendance]
    recorded_by: uuid.UUID | None
    recorded_at: datetime
    certificate_kind: CertificateKind
    certificate_due: date


# ---------------------------------------------------------------------------- attendance


async def _closed_at(session: AsyncSession, meeting: Meeting) -> datetime:
    """When the meeting really ended: its close transition, or its booked end."""
    closed = await session.scalar(
        select(MeetingTransition.at)
        .where(
            col(MeetingTransition.meeting_id) == meeting.id,
            col(MeetingTransition.to_status) == MeetingStatus.closed,
        )
        .order_by(col(MeetingTransition.at).desc())
        .limit(1)
    )
    return closed or meeting.end_at


async def attendance_for_meeting(
    session: AsyncSession,
    meeting: Meeting,
    *,
    now: datetime,
    marks: list[AttendanceMark] | None = None,
) -> list[PartyAttendance]:
    """Each person's attendance from the merged timeline, with the mediator's corrections."""
    merged = await attendance.summary(session, meeting=meeting, now=now)
    known = {row.party_id for row in merged.parties}
    marked = {m.party_id: m.attended for m in marks or []}
    unknown = set(marked) - known
    if unknown:
        raise ValidationFailed(
            "attendance names someone who is not a party to this meeting",
            details={"party_ids": sorted(str(u) for u in unknown)},
        )
    out = []
    for row in merged.parties:
        attended = marked.get(row.party_id, row.attended)
        out.append(
            PartyAttendance(
                party_id=row.party_id,
                role=PartyRole(row.role),
                attended=attended,
                seconds_present=row.seconds_present if attended else 0,
                channel=row.channel if attended else None,
                confirmed_by="mediator" if row.party_id in marked else "events",
            )
        )
    return out


# ---------------------------------------------------------------------------- outcomes


def certificate_kind_for(case: Case) -> CertificateKind:
    return CertificateKind.mias if case.kind is CaseKind.mias else CertificateKind.mediation


def session_date(case: Case, meeting: Meeting, ended_at: datetime | None = None) -> date:
    """The day the session ended, in the case's own zone: the certificate clock's start."""
    return (ended_at or meeting.end_at).astimezone(ZoneInfo(case.timezone)).date()


def _check_consistent(data: OutcomeCreate) -> None:
    agreed = [issue.agreed for issue in data.issues]
    if not agreed:
        return
    if data.result is OutcomeResult.agreement and not all(agreed):
        raise ValidationFailed("an agreement means every issue was agreed")
    if data.result is OutcomeResult.partial_agreement and (all(agreed) or not any(agreed)):
        raise ValidationFailed("a partial agreement has some issues agreed and some not")
    if data.result is OutcomeResult.no_agreement and any(agreed):
        raise ValidationFailed("no agreement means no issue was agreed")


async def find_outcome(session: AsyncSession, *, meeting_id: uuid.UUID) -> Outcome | None:
    """The meeting's recorded outcome, or None while none is recorded."""
    return await session.scalar(select(Outcome).where(col(Outcome.meeting_id) == meeting_id))


async def get_outcome(session: AsyncSession, *, meeting_id: uuid.UUID) -> Outcome:
    outcome = await find_outcome(session, meeting_id=meeting_id)
    if outcome is None:
        raise NotFound("outcome", meeting_id)
    return outcome


async def record_outcome(
    session: AsyncSession,
    *,
    meeting: Meeting,
    data: OutcomeCreate,
    now: datetime,
    bus: EventBus,
    actor: str | None = None,
    recorded_by: uuid.UUID | None = None,
) -> Outcome:
    """Record (or correct, until a certificate is issued) the outcome of a held meeting."""
    case, existing = await _recordable(session, meeting=meeting, data=data, now=now)
    confirmed = await attendance_for_meeting(session, meeting, now=now, marks=data.attendance)
    values: dict[str, Any] = {
        "result": data.result,
        "issues": [issue.model_dump() for issue in data.issues],
        "agreement_text": data.agreement_text,
        "next_steps": [step.model_dump(mode="json") for step in data.next_steps],
        "notes": data.notes,
        "attendance": [row.model_dump(mode="json") for row in confirmed],
        "recorded_by": recorded_by,
        "recorded_at": now,
    }
    if existing is None:
        outcome = Outcome(meeting_id=meeting.id, case_id=case.id, **values)
        session.add(outcome)
    else:
        outcome = existing
        for key, value in values.items():
            setattr(outcome, key, value)

    case.certificate_event_on = session_date(case, meeting, await _closed_at(session, meeting))
    # A case past this (certificate issued, closed) is not moved back by a correction.
    await move_case_on(session, case, CaseStatus.outcome_recorded, actor=actor, now=now)
    await _announce(session, outcome, data, confirmed, first=existing is None, bus=bus, actor=actor)
    return outcome


async def _recordable(
    session: AsyncSession, *, meeting: Meeting, data: OutcomeCreate, now: datetime
) -> tuple[Case, Outcome | None]:
    """The meeting's case and any outcome already recorded, once the outcome may be recorded.

    Refused for a cancelled or future meeting, for results that contradict the issues, and
    once a certificate stands on the outcome.
    """
    if meeting.status is MeetingStatus.cancelled:
        raise InvalidState("this meeting was cancelled; there is no outcome to record")
    if meeting.status is MeetingStatus.scheduled and now < meeting.start_at:
        raise InvalidState("this meeting has not started yet")
    _check_consistent(data)
    case = await session.get(Case, meeting.case_id)
    if case is None:
        raise NotFound("case", meeting.case_id)
    existing = await session.scalar(select(Outcome).where(col(Outcome.meeting_id) == meeting.id))
    if existing is not None:
        issued = await session.scalar(
            select(Certificate.id).where(col(Certificate.meeting_id) == meeting.id)
        )
        if issued is not None:
            raise InvalidState("a certificate has been issued for this meeting: the outcome stands")
    return case, existing


async def _announce(
    session: AsyncSession,
    outcome: Outcome,
    data: OutcomeCreate,
    confirmed: list[PartyAttendance],
    *,
    first: bool,
    bus: EventBus,
    actor: str | None,
) -> None:
    """Put the outcome (and, the first time, the attendance) on the timeline and announce it."""
    case_id, meeting_id, now = outcome.case_id, outcome.meeting_id, outcome.recorded_at
    agreed = sum(1 for issue in data.issues if issue.agreed)
    summary = f"Outcome {'recorded' if first else 'corrected'}: {RESULT_WORDS[data.result]}"
    if data.issues:
        summary += f" ({agreed} of {len(data.issues)} issues agreed)"
    add_timeline(
        session,
        case_id=case_id,
        meeting_id=meeting_id,
        kind="outcome.recorded",
        summary=summary,
        at=now,
        actor=actor,
        details={"result": data.result.value, "issues": len(data.issues), "agreed": agreed},
    )
    if first:
        present = sum(1 for row in confirmed if row.attended)
        add_timeline(
            session,
            case_id=case_id,
            meeting_id=meeting_id,
            kind="attendance.final",
            summary=f"Attendance confirmed: {present} of {len(confirmed)} attended",
            at=now,
            actor=actor,
        )
        await bus.emit(session, AttendanceFinal(case_id=case_id, at=now, meeting_id=meeting_id))
    await bus.emit(
        session,
        OutcomeRecorded(case_id=case_id, at=now, meeting_id=meeting_id, result=data.result.value),
    )


def outcome_public(outcome: Outcome, *, case: Case, calendar: WorkingDays) -> OutcomePublic:
    event_day = case.certificate_event_on or outcome.recorded_at.date()
    return OutcomePublic(
        id=outcome.id,
        meeting_id=outcome.meeting_id,
        case_id=outcome.case_id,
        result=outcome.result,
        issues=[IssueOutcome.model_validate(i) for i in outcome.issues if "summary" in i],
        agreement_text=outcome.agreement_text,
        next_steps=[NextStep.model_validate(s) for s in outcome.next_steps if "action" in s],
        notes=outcome.notes,
        attendance=[PartyAttendance.model_validate(a) for a in outcome.attendance],
        recorded_by=outcome.recorded_by,
        recorded_at=outcome.recorded_at,
        certificate_kind=certificate_kind_for(case),
        certificate_due=certificate_due(event_day, calendar),
    )
