"""The rules a booked time must keep, waiving them with a reason, and the gate for both.

A booking or a move is held to the rules the slot search applies (notice, working days and
hours, each party's own limits and poll answers). A time that breaks one is refused unless
staff waive the rules and say why; the waiver goes on the timeline and the audit trail.
``clear_time`` is the one gate a booking and a move pass: these rules, then the calendars.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from calendars.allowed import RuleBreak, rule_breaks
from calendars.slots import Answer
from calendars.workdays import WorkingDays
from orchestrator.core.errors import RulesBroken, ValidationFailed
from orchestrator.core.models import Case, Mediator, Meeting, Party
from orchestrator.core.records import add_audit, add_timeline
from orchestrator.scheduling import conflicts, search_inputs


@dataclass(frozen=True)
class RuleCheck:
    """The case's parties, the rules a time breaks for them, and the reason they are waived."""

    parties: list[Party]
    breaks: list[RuleBreak]
    waived: str | None  # None: nothing broken (or nothing waived)


def broken_rules(
    *,
    case: Case,
    mediator: Mediator | None,
    parties: Sequence[Party],
    start: datetime,
    end: datetime,
    now: datetime,
    workdays: WorkingDays,
    answers: Mapping[uuid.UUID, Mapping[datetime, Answer]] | None = None,
) -> list[RuleBreak]:
    """The rules ``/slots`` applies that this time breaks for the case (empty if none),
    a required party's poll "no" to this very start among them."""
    answers = answers or {}
    return rule_breaks(
        start,
        end,
        rules=search_inputs.scheduling_rules(
            case.timezone, workdays, notice_working_days=search_inputs.notice_for(case)
        ),
        hours=search_inputs.working_hours(mediator.working_hours if mediator else None),
        parties=[
            search_inputs.party_availability(party, answers=answers.get(party.id))
            for party in parties
        ],
        now=now,
    )


async def _parties_and_breaks(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator | None,
    start: datetime,
    end: datetime,
    now: datetime,
    workdays: WorkingDays,
) -> tuple[list[Party], list[RuleBreak]]:
    """The case's parties, and the rules a meeting from ``start`` to ``end`` breaks for them."""
    parties, answers = await search_inputs.parties_and_answers(session, case_id=case.id)
    parties = search_inputs.taking_part(case, parties)
    breaks = broken_rules(
        case=case,
        mediator=mediator,
        parties=parties,
        answers=answers,
        start=start,
        end=end,
        now=now,
        workdays=workdays,
    )
    return parties, breaks


async def breaks_for(
    session: AsyncSession,
    *,
    case: Case,
    start: datetime,
    duration_minutes: int,
    now: datetime,
    workdays: WorkingDays,
) -> list[RuleBreak]:
    """The rules booking this case at ``start`` would break, e.g. to show before booking."""
    mediator = await session.get(Mediator, case.mediator_id) if case.mediator_id else None
    _, breaks = await _parties_and_breaks(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=start + timedelta(minutes=duration_minutes),
        now=now,
        workdays=workdays,
    )
    return breaks


def _sentence(breaks: Sequence[RuleBreak]) -> str:
    return "; ".join(b.message for b in breaks)


def _enforce_rules(breaks: Sequence[RuleBreak], waiver: str | None) -> str | None:
    """Refuse a time that breaks a rule unless waived with a reason; return the reason used."""
    reason = waiver.strip() if waiver is not None else None
    if waiver is not None and not reason:
        raise ValidationFailed("say why the rules are waived for this meeting")
    if breaks and reason is None:
        raise RulesBroken(
            f"that time breaks the scheduling rules: {_sentence(breaks)}. To book it anyway, "
            "waive the rules and say why (for example, the family agreed to shorter notice)",
            details={
                "rules": [
                    {"rule": b.rule, "message": b.message, "party_id": b.party_id} for b in breaks
                ],
                "waivable": True,
            },
        )
    return reason if breaks else None


def record_waiver(
    session: AsyncSession,
    *,
    meeting: Meeting,
    check: RuleCheck,
    now: datetime,
    actor: str | None,
    actor_id: uuid.UUID | None,
) -> None:
    """Put a waiver on the case timeline and the audit trail: which rules, and why.

    Nothing is written when no rule was waived.
    """
    if not check.waived:
        return
    titles = sorted({b.title for b in check.breaks})
    details = {
        "rules": [{"rule": b.rule, "party_id": b.party_id} for b in check.breaks],
        "reason": check.waived[:1000],
    }
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.rules_waived",
        summary=f"Scheduling rules waived ({', '.join(titles)}): {check.waived}",
        at=now,
        actor=actor,
        details=details,
    )
    add_audit(
        session,
        actor_id=actor_id,
        action="meeting.rules_waived",
        at=now,
        target_type="meeting",
        target_id=str(meeting.id),
        case_id=meeting.case_id,
        details=details,
    )


async def clear_time(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator | None,
    start: datetime,
    end: datetime,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    waiver: str | None,
    exclude: uuid.UUID | None = None,
) -> RuleCheck:
    """The one gate for a booking and a move: the time must keep the rules (RulesBroken
    unless ``waiver`` says why not; ValidationFailed for a waiver that says nothing), then
    is claimed on the mediator's and venue's calendars (Conflict)."""
    parties, breaks = await _parties_and_breaks(
        session, case=case, mediator=mediator, start=start, end=end, now=now, workdays=workdays
    )
    rules = RuleCheck(parties=parties, breaks=breaks, waived=_enforce_rules(breaks, waiver))
    if mediator is not None:
        await conflicts.claim_time(
            session,
            case=case,
            mediator=mediator,
            start=start,
            end=end,
            venue_key=venue_key,
            now=now,
            workdays=workdays,
            waived=rules.waived,
            exclude=exclude,
        )
    return rules
