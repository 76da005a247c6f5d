"""Domain events to webhook rows: one signed body per subscribing endpoint, queued with the change.

Every domain event that an active endpoint subscribes to becomes one outbox row in the
transaction of the change itself. Bodies carry ids, references and the facts the event
reports, never a person's name or contact details (``docs/webhooks.md``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.casework_webhook import EVENT_TYPES, EventType, encode_event
from orchestrator.closing.certificates import issued_on
from orchestrator.core.events import (
    AttendanceFinal,
    CertificateIssued,
    DomainEvent,
    EventContext,
    MeetingRescheduled,
    OutcomeRecorded,
    PartyReplied,
)
from orchestrator.core.models import (
    Case,
    Certificate,
    Meeting,
    OutboxKind,
    Outcome,
    Party,
    PollAnswer,
    PollAnswerValue,
    WebhookEndpoint,
)
from orchestrator.messaging.outbox import enqueue


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _meeting_data(meeting: Meeting) -> dict[str, Any]:
    return {
        "id": str(meeting.id),
        "start": _when(meeting.start_at),
        "end": _when(meeting.end_at),
        "mode": meeting.mode.value,
        "status": meeting.status.value,
        "sequence": meeting.calendar_sequence,
    }


async def poll_answer_counts(
    session: AsyncSession, poll_id: uuid.UUID, party_id: uuid.UUID
) -> dict[str, Any]:
    """How many offered times one party said yes, if need be and no to (not which ones)."""
    rows = await session.scalars(
        select(PollAnswer.answer).where(
            col(PollAnswer.poll_id) == poll_id, col(PollAnswer.party_id) == party_id
        )
    )
    answers = list(rows.all())
    counts: dict[str, Any] = {"id": str(poll_id)}
    counts.update({value.value: answers.count(value) for value in PollAnswerValue})
    return counts


async def event_data(session: AsyncSession, event: DomainEvent) -> dict[str, Any] | None:
    """The ``data`` of an event's webhook body: ids, references and facts; nothing personal."""
    case = await session.get(Case, event.case_id)
    if case is None:
        return None
    data: dict[str, Any] = {"case": {"id": str(case.id), "reference": case.reference}}
    if event.name == "case.created":
        data["case"].update(kind=case.kind.value, local_authority=case.local_authority)
    meeting_id = getattr(event, "meeting_id", None)
    if isinstance(meeting_id, uuid.UUID):
        await _add_meeting(session, data, meeting_id)
    if isinstance(event, MeetingRescheduled) and event.previous_start:
        data["previous_start"] = event.previous_start
    if isinstance(event, PartyReplied):
        data.update(await _reply_data(session, event))
    if isinstance(event, AttendanceFinal | OutcomeRecorded):
        data.update(await _outcome_data(session, event))
    if isinstance(event, CertificateIssued):
        await _add_certificate(session, data, event, case)
    return data


async def _add_meeting(session: AsyncSession, data: dict[str, Any], meeting_id: uuid.UUID) -> None:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is not None:
        data["meeting"] = _meeting_data(meeting)


async def _reply_data(session: AsyncSession, event: PartyReplied) -> dict[str, Any]:
    """Who answered by role, their answer, and for a poll only how many times they could do."""
    party = await session.get(Party, event.party_id)
    data: dict[str, Any] = {
        "party": {"id": str(event.party_id), "role": party.role.value if party else None},
        "answer": event.answer,
    }
    if event.poll_id is not None:
        data["poll"] = await poll_answer_counts(session, event.poll_id, event.party_id)
    return data


async def _outcome_data(
    session: AsyncSession, event: AttendanceFinal | OutcomeRecorded
) -> dict[str, Any]:
    """Who was there (attendance) or what was settled (outcome), counted, never the words."""
    outcome = await session.scalar(
        select(Outcome).where(col(Outcome.meeting_id) == event.meeting_id)
    )
    if outcome is None:
        return {}
    if isinstance(event, AttendanceFinal):
        return {
            "attendance": [
                {
                    "party_id": row["party_id"],
                    "role": row["role"],
                    "attended": row["attended"],
                    "seconds_present": row["seconds_present"],
                    "channel": row["channel"],
                }
                for row in outcome.attendance
            ]
        }
    return {
        "outcome": {
            "id": str(outcome.id),
            "result": outcome.result.value,
            "issues": len(outcome.issues),
            "issues_agreed": sum(1 for i in outcome.issues if i.get("agreed")),
            "next_steps": len(outcome.next_steps),
            "recorded_at": _when(outcome.recorded_at),
        }
    }


async def _add_certificate(
    session: AsyncSession, data: dict[str, Any], event: CertificateIssued, case: Case
) -> None:
    """The certificate's dates and whether it was on time; its meeting, if not there yet."""
    certificate = await session.get(Certificate, event.certificate_id)
    if certificate is None:
        return
    day = issued_on(certificate, case)
    data["certificate"] = {
        "id": str(certificate.id),
        "number": certificate.number,
        "kind": certificate.kind.value,
        "event_date": certificate.event_date.isoformat(),
        "due_date": certificate.due_date.isoformat(),
        "issued_at": _when(certificate.issued_at),
        "on_time": day <= certificate.due_date,
        "appeal_deadline": (
            certificate.appeal_deadline.isoformat() if certificate.appeal_deadline else None
        ),
    }
    if certificate.meeting_id is not None and "meeting" not in data:
        await _add_meeting(session, data, certificate.meeting_id)


async def on_event(session: AsyncSession, event: DomainEvent, context: EventContext) -> None:
    """Queue one signed delivery per active endpoint that subscribes to this event."""
    if event.name not in EVENT_TYPES:
        return
    endpoints = [
        endpoint
        for endpoint in (
            await session.scalars(
                select(WebhookEndpoint).where(col(WebhookEndpoint.active).is_(True))
            )
        ).all()
        if event.name in endpoint.events
    ]
    if not endpoints:
        return
    data = await event_data(session, event)
    if data is None:
        return
    event_id = "evt_" + uuid.uuid4().hex
    body = encode_event(
        event_id=event_id,
        event_type=cast(EventType, event.name),
        occurred_at=event.at,
        data=data,
    )
    meeting_id = getattr(event, "meeting_id", None)
    for endpoint in endpoints:
        await enqueue(
            session,
            kind=OutboxKind.webhook,
            topic=event.name,
            idempotency_key=f"webhook-{endpoint.id.hex}-{event_id}",
            payload={"event_id": event_id, "type": event.name, "body": body.decode()},
            now=context.now,
            case_id=event.case_id,
            meeting_id=meeting_id if isinstance(meeting_id, uuid.UUID) else None,
            endpoint_id=endpoint.id,
        )
