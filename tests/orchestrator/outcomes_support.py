"""Helpers for outcome, certificate, webhook, report and retention tests.

Meetings are written straight to the database here (as booking would leave them), so
these tests do not depend on how a meeting gets booked or run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.core.models import (
    Case,
    CaseStatus,
    Channel,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    MeetingTransition,
    ParticipantEvent,
    ParticipantStatus,
)
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff

PARENT = {
    "role": "parent",
    "name": "Ottoline Quigglesworth",
    "email": "ottoline.quigglesworth@family.example",
    "phone": "07700 900123",
    "needs": "Prefers mornings because of the school run",
    "postal_address": "14 Wimbleworth Lane\nHebden Bridge",
    "postcode": "HX7 8AA",
}
LA_OFFICER = {
    "role": "la_officer",
    "name": "Barnaby Thistlewood",
    "email": "barnaby.thistlewood@kent.example",
    "organisation": "Kent County Council SEN Team",
}
SCHOOL = {
    "role": "school",
    "name": "Priyanka Fennimore",
    "organisation": "Oakfield Primary",
    "phone": "01632 960123",
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def mediator_for(staff: Staff, name: str = "Morwenna Ashdown") -> uuid.UUID:
    """The mediator record of the ``mediator`` staff user (made once)."""
    async with staff.client.app[DB].write() as session:
        mediator = Mediator(
            name=name,
            email=f"{uuid.uuid4().hex[:8]}@mediators.example",
            user_id=staff.user_ids["mediator"],
        )
        session.add(mediator)
        await session.flush()
        return mediator.id


async def open_case(
    staff: Staff,
    clock: MutableClock,
    *,
    reference: str = "KIDS-2026-0100",
    referral_date: str = "2026-02-27",
    decision_date: str | None = "2026-01-20",
    kind: str = "mediation",
    mediator_id: uuid.UUID | None = None,
    parties: tuple[dict[str, Any], ...] = (PARENT, LA_OFFICER, SCHOOL),
) -> tuple[dict[str, Any], dict[str, str]]:
    """A case through the real API with its parties; returns it and role -> party id."""
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference,
            "kind": kind,
            "local_authority": "Kent",
            "referral_date": referral_date,
            "decision_date": decision_date,
        },
        expect=201,
    )
    ids = {}
    for party in parties:
        made = await staff.call(
            "POST", f"/api/v1/cases/{case['id']}/parties", json=party, expect=201
        )
        ids[party["role"]] = made["id"]
    if mediator_id is not None:
        await staff.call(
            "POST",
            f"/api/v1/cases/{case['id']}/mediator",
            json={"mediator_id": str(mediator_id)},
            expect=200,
        )
    return case, ids


async def held_meeting(
    staff: Staff,
    case_id: str | uuid.UUID,
    *,
    start: datetime,
    hours: float = 3,
    mediator_id: uuid.UUID | None = None,
    status: MeetingStatus = MeetingStatus.closed,
    attended: dict[str, tuple[float, float]] | None = None,
) -> uuid.UUID:
    """A meeting that took place; ``attended`` maps party id -> (minutes in, minutes out)."""
    end = start + timedelta(hours=hours)
    async with staff.client.app[DB].write() as session:
        meeting = Meeting(
            case_id=uuid.UUID(str(case_id)),
            mediator_id=mediator_id,
            start_at=start,
            end_at=end,
            mode=MeetingMode.video,
            status=status,
            ical_uid=f"{uuid.uuid4()}@test",
            sequence=1,
            calendar_sequence=1,
        )
        session.add(meeting)
        case = await session.get(Case, meeting.case_id)
        assert case is not None
        if case.status in (CaseStatus.referred, CaseStatus.negotiating):
            # Where booking and ending the session would have taken it (stored directly,
            # as the meeting is).
            case.status = CaseStatus.held if status is MeetingStatus.closed else CaseStatus.booked
        await session.flush()
        if status is MeetingStatus.closed:
            session.add(
                MeetingTransition(
                    meeting_id=meeting.id,
                    from_status=MeetingStatus.in_session,
                    to_status=MeetingStatus.closed,
                    source="mediator",
                    at=end,
                )
            )
        for party_id, (minute_in, minute_out) in (attended or {}).items():
            for status_, minute in (
                (ParticipantStatus.in_session, minute_in),
                (ParticipantStatus.left, minute_out),
            ):
                session.add(
                    ParticipantEvent(
                        meeting_id=meeting.id,
                        party_id=uuid.UUID(party_id),
                        status=status_,
                        channel=Channel.video,
                        source="jitsi",
                        at=start + timedelta(minutes=minute),
                    )
                )
        return meeting.id


async def record(
    staff: Staff, meeting_id: uuid.UUID, *, result: str = "agreement", **extra: Any
) -> dict[str, Any]:
    body = {"result": result, **extra}
    response: dict[str, Any] = await staff.call(
        "POST", f"/api/v1/meetings/{meeting_id}/outcome", role="mediator", json=body, expect=201
    )
    return response
