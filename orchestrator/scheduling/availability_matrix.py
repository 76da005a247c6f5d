"""The availability matrix: who has answered the newest poll, and what calendars say of its times.

Staff see one row per party and one column per candidate time: the party's own answer
where they gave one, otherwise what their calendar says (free, busy, or "if need be" for
tentative entries), otherwise "unknown".
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.intervals import Interval
from calendars.slots import Answer
from orchestrator.cases import roster
from orchestrator.core.models import Case, Party, Poll, PollAnswer, PollResponse
from orchestrator.scheduling.busy_reader import BusyReader, has_calendar
from orchestrator.scheduling.busy_times import BusyTimes, CalendarError, gather_busy

CellStatus = Literal["yes", "if_need_be", "no", "free", "busy", "unknown"]


@dataclass(frozen=True)
class PartyAvailabilityRow:
    """One party's line of the matrix: how we learn their availability and what it says."""

    party: Party
    source: Literal["calendar", "poll", "none"]
    polled: bool
    answered_at: datetime | None
    note: str | None
    cells: dict[datetime, CellStatus]
    calendar_error: str | None = None
    call_me: bool = False  # "none of these work, please call me"
    entered_by: str | None = None  # the scheduler who entered the answers after a call


@dataclass(frozen=True)
class AvailabilityMatrix:
    """Parties x the current poll's candidate times: answers, calendar status and notes."""

    poll: Poll | None
    candidates: list[datetime]
    rows: list[PartyAvailabilityRow]
    calendar_errors: list[CalendarError]

    @property
    def waiting_for(self) -> list[Party]:
        return [r.party for r in self.rows if r.polled and r.answered_at is None]


async def availability_matrix(
    session: AsyncSession,
    *,
    case: Case,
    reader: BusyReader,
    http: aiohttp.ClientSession,
) -> AvailabilityMatrix:
    """Who has answered the newest poll, what they said, and what calendars say for those times."""
    poll = await newest_poll(session, case_id=case.id)
    parties = await roster.list_parties(session, case_id=case.id)
    if poll is None:
        rows = [_row(party, response=None, cells={}, calendar_error=None) for party in parties]
        return AvailabilityMatrix(poll=None, candidates=[], rows=rows, calendar_errors=[])
    candidates = [datetime.fromisoformat(c) for c in poll.candidates]
    responses, answers = await _responses_and_answers(session, poll_id=poll.id)
    duration = timedelta(minutes=poll.duration_minutes)
    busy = BusyTimes()
    if candidates:
        busy = await gather_busy(
            reader,
            parties=parties,
            mediator=None,
            window=Interval(min(candidates), max(candidates) + duration),
            http=http,
            default_tz=case.timezone,
        )
    rows = [
        _row(
            party,
            response=responses.get(party.id),
            cells=_cells(
                candidates, duration, answers.get(party.id, {}), busy.parties.get(party.id)
            ),
            calendar_error=busy.error_for(party.id),
        )
        for party in parties
    ]
    return AvailabilityMatrix(
        poll=poll, candidates=candidates, rows=rows, calendar_errors=busy.errors
    )


async def newest_poll(session: AsyncSession, *, case_id: uuid.UUID) -> Poll | None:
    """The case's newest poll, open or closed; None when nobody has been asked yet."""
    return await session.scalar(
        select(Poll).where(col(Poll.case_id) == case_id).order_by(col(Poll.created_at).desc())
    )


async def _responses_and_answers(
    session: AsyncSession, *, poll_id: uuid.UUID
) -> tuple[dict[uuid.UUID, PollResponse], dict[uuid.UUID, dict[datetime, Answer]]]:
    """Each polled party's response to the poll, and their answer per candidate start."""
    rows = await session.scalars(select(PollResponse).where(col(PollResponse.poll_id) == poll_id))
    responses = {r.party_id: r for r in rows.all()}
    answered = await session.scalars(select(PollAnswer).where(col(PollAnswer.poll_id) == poll_id))
    answers: dict[uuid.UUID, dict[datetime, Answer]] = {}
    for answer in answered.all():
        answers.setdefault(answer.party_id, {})[answer.candidate_start] = answer.answer.value
    return responses, answers


def _row(
    party: Party,
    *,
    response: PollResponse | None,
    cells: dict[datetime, CellStatus],
    calendar_error: str | None,
) -> PartyAvailabilityRow:
    """One party's line: a calendar answers for them, else the poll if they were asked."""
    source: Literal["calendar", "poll", "none"] = (
        "calendar" if has_calendar(party.calendar) else "poll" if response else "none"
    )
    return PartyAvailabilityRow(
        party=party,
        source=source,
        polled=response is not None,
        answered_at=response.answered_at if response else None,
        note=response.note if response else None,
        cells=cells,
        calendar_error=calendar_error,
        call_me=bool(response and response.call_me),
        entered_by=response.entered_by if response else None,
    )


def _cells(
    candidates: Sequence[datetime],
    duration: timedelta,
    answers: Mapping[datetime, Answer],
    calendar_busy: Sequence[Interval] | None,
) -> dict[datetime, CellStatus]:
    """Per candidate start: the party's own answer, else their calendar's, else unknown."""
    cells: dict[datetime, CellStatus] = {}
    for start in candidates:
        given = answers.get(start)
        if given is not None:
            cells[start] = given
        elif calendar_busy is not None:
            cells[start] = _calendar_status(calendar_busy, Interval(start, start + duration))
        else:
            cells[start] = "unknown"
    return cells


def _calendar_status(busy: Sequence[Interval], slot: Interval) -> CellStatus:
    overlapping = [b for b in busy if b.overlaps(slot)]
    if not overlapping:
        return "free"
    return "if_need_be" if all(b.tentative for b in overlapping) else "busy"
