"""Find the event a certificate speaks of: its date, and the meeting and outcome behind it.

A mediation or information-session certificate speaks of the session (its recorded
outcome, the day it ended); a declined or 30-day certificate of the day the family (or
the other party) said no, or the LA said it cannot meet the 30 days. Each is checked
against the case before anything is numbered.
"""

from __future__ import annotations

import uuid
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.closing.certificate_wording import declined_words
from orchestrator.closing.outcomes import certificate_kind_for, session_date
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import (
    Case,
    CaseKind,
    CertificateKind,
    Meeting,
    Outcome,
)
from orchestrator.scheduling import lookups


async def event_for(
    session: AsyncSession,
    *,
    case: Case,
    kind: CertificateKind,
    event_date: date | None,
    meeting_id: uuid.UUID | None,
) -> tuple[date, Meeting | None, Outcome | None]:
    """The date the certificate speaks of, and the meeting and outcome behind it, if any."""
    if kind is CertificateKind.mediation and case.kind is CaseKind.mias:
        raise ValidationFailed("an information session gets a mias certificate")
    if kind is certificate_kind_for(case):
        query = select(Outcome).where(col(Outcome.case_id) == case.id)
        if meeting_id is not None:
            query = query.where(col(Outcome.meeting_id) == meeting_id)
        outcome = await session.scalar(query.order_by(col(Outcome.recorded_at).desc()).limit(1))
        if outcome is not None:
            meeting = await session.get(Meeting, outcome.meeting_id)
            assert meeting is not None
            # Recording the latest outcome set the day the session really ended.
            if meeting_id is None and case.certificate_event_on is not None:
                return case.certificate_event_on, meeting, outcome
            return session_date(case, meeting), meeting, outcome
        if kind is CertificateKind.mediation:
            raise ValidationFailed("record the meeting's outcome before its mediation certificate")
    if kind is CertificateKind.mias:
        # Ending the call set the day it took place (session_control.end); else the adviser says.
        event_date = event_date or case.certificate_event_on
        if event_date is None:
            raise ValidationFailed("give the event_date of the information session")
        call = await session.get(Meeting, meeting_id) if meeting_id is not None else None
        if call is not None and call.case_id != case.id:
            raise ValidationFailed("that meeting is not this case's")
        return event_date, call, None
    if kind is CertificateKind.declined:
        event_date = event_date or case.declined_on
        if event_date is None:
            raise ValidationFailed(f"give the event_date on which {declined_words(case)}")
        await _refuse_while_booked(session, case)
        case.declined_on = event_date
        return event_date, None, None
    if case.kind is not CaseKind.mediation:
        raise ValidationFailed("the 30-day duty applies to mediation cases only")
    event_date = event_date or case.la_cannot_meet_30_days_on
    if event_date is None:
        raise ValidationFailed("give the event_date on which the LA said it cannot meet 30 days")
    case.la_cannot_meet_30_days_on = event_date
    return event_date, None, None


async def _refuse_while_booked(session: AsyncSession, case: Case) -> None:
    """A case that was declined cannot also have a meeting booked: cancel it first."""
    meeting = await lookups.next_live_meeting(session, case.id)
    if meeting is None:
        return
    day = wording.date_only(meeting.start_at.astimezone(ZoneInfo(case.timezone)).date())
    raise InvalidState(
        f"a meeting is still booked for {day}: cancel it (everyone is told) before "
        f"issuing the certificate that says {declined_words(case)}",
        details={"meeting_id": str(meeting.id)},
    )
