"""The deadline board: which cases are on it, found, filtered, ordered and paged in the
database, and for the one page read, each case's clocks, meeting, replies and next action.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from calendars.workdays import WorkingDays
from orchestrator.cases import board_clocks, deadlines, roster, service_record
from orchestrator.cases.next_action import CaseFacts, next_action
from orchestrator.core.models import (
    Case,
    CasePublic,
    CaseStatus,
    Delivery,
    DeliveryStatus,
    Mediator,
    Meeting,
    MeetingStatus,
    OutboxKind,
    Party,
    Poll,
    PollResponse,
)

PAGE_SIZE = 25
BoardSort = Literal["urgent", "reference", "booked"]
BOARD_SORTS: tuple[BoardSort, ...] = ("urgent", "reference", "booked")
# A meeting in one of these is booked and not yet over: the board shows its date.
UPCOMING = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)


@dataclass(frozen=True)
class BoardQuery:
    """What the scheduler asked the board for: a search, filters, an order and a page."""

    search: str = ""
    mediator_id: uuid.UUID | None = None
    unassigned: bool = False  # only cases with no mediator yet
    local_authority: str = ""
    stage: CaseStatus | None = None
    sort: BoardSort = "urgent"
    page: int = 1
    # A mediator sees only the cases of the mediator records they act as.
    only_mediators: frozenset[uuid.UUID] | None = None


@dataclass(frozen=True)
class BoardRow:
    case: CasePublic
    mediator: str  # "" when none is assigned
    meeting_start: datetime | None  # the booked meeting not yet held
    # Of the people on the case asked on its open poll, how many replied (0 of 0: no poll).
    replied: int
    asked: int
    cannot_reach: list[str]  # names of people who must be invited but have no contact
    next_action: str


@dataclass(frozen=True)
class BoardPage:
    rows: list[BoardRow]
    total: int  # cases matching the search and filters, over all pages
    page: int
    pages: int
    authorities: list[str] = field(default_factory=list)  # every LA on this person's board


async def read_board(
    session: AsyncSession,
    *,
    query: BoardQuery,
    default_target_days: int,
    calendar: WorkingDays,
    now: datetime,
) -> BoardPage:
    """The page of the board asked for: found, filtered, ordered and cut in SQL."""
    target_days = await service_record.service_target_days(session, fallback=default_target_days)
    seen = _visible(query)
    wanted = [*seen, *_filters(query)]
    total = await session.scalar(select(sa.func.count()).select_from(Case).where(*wanted)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(query.page, 1), pages)
    found = await session.scalars(
        select(Case)
        .where(*wanted)
        .order_by(*_order(query.sort, target_days))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    cases = list(found.all())
    rows = await _rows(session, cases, target_days=target_days, calendar=calendar, now=now)
    authorities = await session.scalars(
        select(col(Case.local_authority)).where(*seen).distinct().order_by(Case.local_authority)
    )
    return BoardPage(
        rows=rows, total=total, page=page, pages=pages, authorities=list(authorities.all())
    )


def _visible(query: BoardQuery) -> list[ColumnElement[bool]]:
    """The board this person has before any filter: theirs, if they are a mediator."""
    seen = [board_clocks.on_the_board()]
    if query.only_mediators is not None:
        seen.append(col(Case.mediator_id).in_(list(query.only_mediators)))
    return seen


def _filters(query: BoardQuery) -> list[ColumnElement[bool]]:
    wanted: list[ColumnElement[bool]] = []
    if query.unassigned:
        wanted.append(col(Case.mediator_id).is_(None))
    elif query.mediator_id is not None:
        wanted.append(col(Case.mediator_id) == query.mediator_id)
    if query.local_authority:
        wanted.append(sa.func.lower(Case.local_authority) == query.local_authority.lower())
    if query.stage is not None:
        wanted.append(col(Case.status) == query.stage)
    if query.search.strip():
        wanted.append(_matches(query.search.strip()))
    return wanted


def _matches(text: str) -> ColumnElement[bool]:
    """The reference, or the name of anyone on the case (the family's names among them)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    named = (
        select(Party.id)
        .where(
            col(Party.case_id) == col(Case.id),
            col(Party.removed_at).is_(None),
            sa.func.lower(Party.name).like(pattern, escape="\\"),
        )
        .exists()
    )
    return sa.or_(sa.func.lower(Case.reference).like(pattern, escape="\\"), named)


def _next_meeting() -> ColumnElement[datetime]:
    return (
        select(sa.func.min(Meeting.start_at))
        .where(col(Meeting.case_id) == col(Case.id), col(Meeting.status).in_(UPCOMING))
        .scalar_subquery()
    )


def _order(sort: BoardSort, target_days: int) -> list[ColumnElement[Any]]:
    """Most urgent clock first; or by reference; or by the booked meeting, soonest first."""
    reference: ColumnElement[Any] = col(Case.reference).asc()
    if sort == "reference":
        return [reference]
    urgent = [board_clocks.most_urgent_day(target_days), reference]
    if sort == "booked":
        meeting = _next_meeting()
        return [sa.case((meeting.is_(None), 1), else_=0), meeting, *urgent]
    return urgent


async def _rows(
    session: AsyncSession,
    cases: Sequence[Case],
    *,
    target_days: int,
    calendar: WorkingDays,
    now: datetime,
) -> list[BoardRow]:
    """The page's rows: a handful of queries for the whole page, none per case."""
    ids = [case.id for case in cases]
    issued = await deadlines.certificates_issued_on(session, cases)
    names = await _mediator_names(session, {c.mediator_id for c in cases if c.mediator_id})
    meetings = await _next_meetings(session, ids)
    replies = await _replies(session, ids)
    people = await _people(session, ids)
    unreachable = await roster.unreachable_parties(session)
    bounced = await _bounced(session, ids)
    rows = []
    for case in cases:
        public = deadlines.case_public(
            case,
            target_days=deadlines.effective_target_days(case, None, target_days),
            calendar=calendar,
            now=now,
            certificate_issued_on=issued.get(case.id),
        )
        cannot_reach = [p.name for p in unreachable.get(case.id, [])]
        replied, asked = replies.get(case.id, (0, 0))
        facts = CaseFacts(
            status=case.status,
            has_mediator=case.mediator_id is not None,
            people=people.get(case.id, 0),
            cannot_reach=len(cannot_reach),
            asked=asked,
            answered=replied,
            certificate_due=public.deadlines.certificate_due is not None,
            meeting_booked=case.id in meetings,
            bounced=bounced.get(case.id),
        )
        rows.append(
            BoardRow(
                case=public,
                mediator=names.get(case.mediator_id, "") if case.mediator_id else "",
                meeting_start=meetings.get(case.id),
                replied=replied,
                asked=asked,
                cannot_reach=cannot_reach,
                next_action=next_action(facts),
            )
        )
    return rows


async def _mediator_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    found = await session.execute(
        select(col(Mediator.id), col(Mediator.name)).where(col(Mediator.id).in_(list(ids)))
    )
    return {mediator_id: name for mediator_id, name in found.all()}


async def _next_meetings(
    session: AsyncSession, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    found = await session.execute(
        select(col(Meeting.case_id), sa.func.min(Meeting.start_at))
        .where(col(Meeting.case_id).in_(case_ids), col(Meeting.status).in_(UPCOMING))
        .group_by(col(Meeting.case_id))
    )
    return {case_id: start for case_id, start in found.all()}


async def _replies(
    session: AsyncSession, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """By case: of the people still on it asked on its open poll, how many have answered."""
    found = await session.execute(
        select(
            col(Poll.case_id),
            sa.func.count(col(PollResponse.answered_at)),
            sa.func.count(col(PollResponse.id)),
        )
        .join(PollResponse, col(PollResponse.poll_id) == col(Poll.id))
        .join(Party, col(Party.id) == col(PollResponse.party_id))
        .where(
            col(Poll.case_id).in_(case_ids),
            col(Poll.closed_at).is_(None),
            col(Party.removed_at).is_(None),
        )
        .group_by(col(Poll.case_id))
    )
    return {case_id: (replied, asked) for case_id, replied, asked in found.all()}


async def _bounced(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """By case: the person whose email bounced most recently (and is still on the case)."""
    found = await session.execute(
        select(col(Delivery.case_id), col(Party.name))
        .join(Party, col(Party.id) == col(Delivery.party_id))
        .where(
            col(Delivery.case_id).in_(case_ids),
            col(Delivery.channel) == OutboxKind.email,
            col(Delivery.status) == DeliveryStatus.permanent_failure,
            col(Party.removed_at).is_(None),
        )
        .order_by(col(Delivery.updated_at).desc())
    )
    names: dict[uuid.UUID, str] = {}
    for case_id, name in found.all():
        names.setdefault(case_id, name)
    return names


async def _people(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    found = await session.execute(
        select(col(Party.case_id), sa.func.count(col(Party.id)))
        .where(col(Party.case_id).in_(case_ids), col(Party.removed_at).is_(None))
        .group_by(col(Party.case_id))
    )
    return {case_id: count for case_id, count in found.all()}
