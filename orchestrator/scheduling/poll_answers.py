"""A party's answers to a poll: opening their link, and recording what they said.

Answers replace the party's earlier ones for the same poll; each save emits
``PartyReplied`` (the webhooks' party.replied) and notes on the timeline whether they
answered for the first time or changed their answers. "None of these work — please call
me" is an answer of its own (``PollResponse.call_me``), not a missing one. A scheduler may
enter the answers for a party after a phone call (``staff_access``, ``entered_by``): the
same rules apply, and the rows and the timeline say who entered them.
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
from orchestrator.core.languages import N_
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


@dataclass(frozen=True)
class EnteredBy:
    """The staff member typing a party's answers in: their words and their actor id."""

    words: str  # "Sam (scheduler)"
    actor: str  # "scheduler:<id>", as the timeline records actors


class NothingAnswered(ValidationFailed):
    """The form came back with no answer and no note."""


@dataclass(frozen=True)
class PollAccess:
    """Who may answer: the party's verified link (None when staff answer for them), their
    case and poll."""

    link: Link | None
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


async def staff_access(session: AsyncSession, *, case: Case, party: Party) -> PollAccess:
    """The case's open poll as a scheduler answering for ``party`` sees it; InvalidState if none."""
    poll = await session.scalar(
        select(Poll)
        .where(col(Poll.case_id) == case.id, col(Poll.closed_at).is_(None))
        .order_by(col(Poll.created_at).desc())
        .limit(1)
    )
    if poll is None:
        raise InvalidState("this case has no open poll to answer")
    response = await session.scalar(
        select(PollResponse).where(
            col(PollResponse.poll_id) == poll.id, col(PollResponse.party_id) == party.id
        )
    )
    return PollAccess(link=None, party=party, case=case, poll=poll, response=response)


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
    call_me: bool = False,
    entered_by: EnteredBy | None = None,
) -> PollResponse:
    """Save a party's answers (replacing earlier ones), note and "call me"; emit PartyReplied.

    ``entered_by`` is the scheduler who typed them in after a phone call; the answer rows,
    the response and the timeline keep their words ("Sam (scheduler)").
    """
    note = _checked_note(access, answers, note, call_me=call_me)
    poll, party = access.poll, access.party
    by = entered_by.words if entered_by else None
    await _replace_answers(session, poll=poll, party=party, answers=answers, now=now, by=by)
    response = access.response
    first_time = response is None or response.answered_at is None
    if response is None:
        response = PollResponse(poll_id=poll.id, party_id=party.id)
        session.add(response)
    response.answered_at = now
    response.note = note
    response.call_me = call_me
    response.entered_by = by
    if access.link is not None:
        access.link.last_used_at = now
    summary = _answer_summary(party, answers, note=note, first_time=first_time, call_me=call_me)
    add_timeline(
        session,
        case_id=poll.case_id,
        party_id=party.id,
        kind="poll.answered" if first_time else "poll.changed",
        summary=summary + (f" (entered by {by} after a phone call)" if by else ""),
        at=now,
        actor=entered_by.actor if entered_by else f"party:{party.id}",
        details={"poll_id": str(poll.id), "call_me": call_me} | ({"entered_by": by} if by else {}),
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
    access: PollAccess,
    answers: Mapping[datetime, PollAnswerValue],
    note: str | None,
    *,
    call_me: bool,
) -> str | None:
    """The note as kept (trimmed, at most 2000 characters), once the answers may be saved."""
    if access.poll.closed_at is not None or access.case.status not in OPEN_CASE_STATUSES:
        raise InvalidState(N_("this poll has closed; we will be in touch"))
    offered = set(poll_candidates(access.poll))
    strangers = [start for start in answers if start not in offered]
    if strangers:
        raise ValidationFailed("an answer was given for a time this poll does not offer")
    kept = (note or "").strip()[:2000] or None
    if not answers and kept is None and not call_me:
        raise NothingAnswered(
            N_("choose an answer for at least one time, or tell us none of these work")
        )
    return kept


async def _replace_answers(
    session: AsyncSession,
    *,
    poll: Poll,
    party: Party,
    answers: Mapping[datetime, PollAnswerValue],
    now: datetime,
    by: str | None,
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
                entered_by=by,
            )
        )


def _answer_summary(
    party: Party,
    answers: Mapping[datetime, PollAnswerValue],
    *,
    note: str | None,
    first_time: bool,
    call_me: bool,
) -> str:
    """The timeline's line: how many yes, if need be and no (never which times, nor the note)."""
    counts = {v: sum(1 for a in answers.values() if a is v) for v in PollAnswerValue}
    return (
        f"{timeline.a_party(party.role)} {'answered' if first_time else 'changed'} the poll: "
        f"{counts[PollAnswerValue.yes]} yes, {counts[PollAnswerValue.if_need_be]} if need be, "
        f"{counts[PollAnswerValue.no]} no"
        + ("; none of these work, please call them" if call_me else "")
        + ("; left a note" if note else "")
    )
