"""A party's answers to a poll: opening their link, and recording what they said.

Answers replace the party's earlier ones for the same poll; each save emits
``PartyReplied`` (the webhooks' party.replied) and notes on the timeline whether they
answered for the first time or changed their answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import intake, links, timeline
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.events import EventBus, PartyReplied
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    Link,
    LinkScope,
    Party,
    Poll,
    PollAnswer,
    PollAnswerValue,
    PollResponse,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.scheduling.poll_times import poll_candidates

# The ``answer`` of the PartyReplied a poll answer emits (the webhooks' party.replied).
POLL_ANSWERED = "availability_given"


class NothingAnswered(ValidationFailed):
    """The form came back with no answer and no note."""


@dataclass(frozen=True)
class PollAccess:
    """A poll link that verified: the link, the party it speaks for, their case and poll."""

    link: Link
    party: Party
    case: Case
    poll: Poll
    response: PollResponse | None


async def open_poll(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> PollAccess:
    """Verify a poll link and load what its page shows; LinkInvalid for anything amiss."""
    resolved = await links.resolve(
        session,
        token,
        scope=LinkScope.poll,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    link, party = resolved.link, resolved.party
    poll = await session.get(Poll, link.poll_id) if link.poll_id else None
    if party is None or poll is None or poll.case_id != link.case_id:
        raise links.refusal(links.Verdict.unknown)
    case = await intake.get_case(session, poll.case_id)
    response = await session.scalar(
        select(PollResponse).where(
            col(PollResponse.poll_id) == poll.id, col(PollResponse.party_id) == party.id
        )
    )
    return PollAccess(link=link, party=party, case=case, poll=poll, response=response)


async def answers_of(
    session: AsyncSession, *, poll_id: uuid.UUID, party_id: uuid.UUID
) -> dict[datetime, PollAnswerValue]:
    """One party's current answers to one poll."""
    rows = await session.scalars(
        select(PollAnswer).where(
            col(PollAnswer.poll_id) == poll_id, col(PollAnswer.party_id) == party_id
        )
    )
    return {row.candidate_start: row.answer for row in rows.all()}


async def record_answers(
    session: AsyncSession,
    *,
    access: PollAccess,
    answers: dict[datetime, PollAnswerValue],
    note: str | None,
    now: datetime,
    bus: EventBus,
) -> PollResponse:
    """Save a party's answers (replacing earlier ones) and their note; emit PartyReplied."""
    note = _checked_note(access, answers, note)
    poll, party = access.poll, access.party
    await _replace_answers(session, poll=poll, party=party, answers=answers, now=now)
    response = access.response
    first_time = response is None or response.answered_at is None
    if response is None:
        response = PollResponse(poll_id=poll.id, party_id=party.id)
        session.add(response)
    response.answered_at = now
    response.note = note
    access.link.last_used_at = now
    add_timeline(
        session,
        case_id=poll.case_id,
        party_id=party.id,
        kind="poll.answered" if first_time else "poll.changed",
        summary=_answer_summary(party, answers, note=note, first_time=first_time),
        at=now,
        actor=f"party:{party.id}",
        details={"poll_id": str(poll.id)},
    )
    await session.flush()
    await bus.emit(
        session,
        PartyReplied(
            case_id=poll.case_id,
            at=now,
            party_id=party.id,
            answer=POLL_ANSWERED,
            poll_id=poll.id,
        ),
    )
    return response


def _checked_note(
    access: PollAccess, answers: Mapping[datetime, PollAnswerValue], note: str | None
) -> str | None:
    """The note as kept (trimmed, at most 2000 characters), once the answers may be saved."""
    if access.poll.closed_at is not None or access.case.status not in OPEN_CASE_STATUSES:
        raise InvalidState("this poll has closed; we will be in touch")
    offered = set(poll_candidates(access.poll))
    strangers = [start for start in answers if start not in offered]
    if strangers:
        raise ValidationFailed("an answer was given for a time this poll does not offer")
    kept = (note or "").strip()[:2000] or None
    if not answers and kept is None:
        raise NothingAnswered("choose an answer for at least one time, or tell us when you can")
    return kept


async def _replace_answers(
    session: AsyncSession,
    *,
    poll: Poll,
    party: Party,
    answers: Mapping[datetime, PollAnswerValue],
    now: datetime,
) -> None:
    """Drop the party's earlier answers to the poll and keep these instead."""
    await session.execute(
        delete(PollAnswer).where(
            col(PollAnswer.poll_id) == poll.id, col(PollAnswer.party_id) == party.id
        )
    )
    for start, value in sorted(answers.items()):
        session.add(
            PollAnswer(
                poll_id=poll.id,
                party_id=party.id,
                candidate_start=start,
                answer=value,
                updated_at=now,
            )
        )


def _answer_summary(
    party: Party,
    answers: Mapping[datetime, PollAnswerValue],
    *,
    note: str | None,
    first_time: bool,
) -> str:
    """The timeline's line: how many yes, if need be and no (never which times, nor the note)."""
    counts = {v: sum(1 for a in answers.values() if a is v) for v in PollAnswerValue}
    return (
        f"{timeline.a_party(party.role)} {'answered' if first_time else 'changed'} the poll: "
        f"{counts[PollAnswerValue.yes]} yes, {counts[PollAnswerValue.if_need_be]} if need be, "
        f"{counts[PollAnswerValue.no]} no" + ("; left a note" if note else "")
    )
