"""The feedback figures of the report: satisfaction by role, per mediator and per LA.

Counted in the database over the answers given in the report's dates; the comments that
may be quoted come back as words only.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.closing.report_figures import FeedbackFigures, FeedbackGroup
from orchestrator.core.models import ROLE_WORDS, Case, Feedback, Mediator, Meeting, PartyRole

ZONE = ZoneInfo("Europe/London")


def _in_dates(date_from: date | None, date_to: date | None) -> list[Any]:
    where: list[Any] = []
    if date_from is not None:
        where.append(col(Feedback.answered_at) >= datetime.combine(date_from, time(), ZONE))
    if date_to is not None:
        where.append(col(Feedback.answered_at) < datetime.combine(date_to, time.max, ZONE))
    return where


async def _grouped(session: AsyncSession, key: Any, where: list[Any]) -> list[tuple[Any, ...]]:
    listened = sa.func.sum(sa.case((col(Feedback.listened) == "yes", 1), else_=0))
    found = await session.execute(
        select(
            key, sa.func.count(col(Feedback.id)), sa.func.avg(col(Feedback.satisfaction)), listened
        )
        .select_from(Feedback)
        .join(Meeting, col(Meeting.id) == col(Feedback.meeting_id))
        .join(Case, col(Case.id) == col(Feedback.case_id))
        .outerjoin(Mediator, col(Mediator.id) == col(Meeting.mediator_id))
        .where(*where)
        .group_by(key)
        .order_by(key)
    )
    return [tuple(row) for row in found.all()]


def _group(key: str, label: str, answers: int, average: Any, listened: Any) -> FeedbackGroup:
    return FeedbackGroup(
        key=key,
        label=label,
        answers=answers,
        average_satisfaction=round(float(average), 1) if average is not None else None,
        felt_listened_share=round(int(listened or 0) / answers, 3) if answers else None,
    )


async def feedback_figures(
    session: AsyncSession, *, date_from: date | None, date_to: date | None
) -> FeedbackFigures:
    where = _in_dates(date_from, date_to)
    roles = await _grouped(session, col(Feedback.role), where)
    mediators = await _grouped(session, col(Mediator.name), where)
    authorities = await _grouped(session, col(Case.local_authority), where)
    quotes = await session.scalars(
        select(col(Feedback.comment))
        .where(*where, col(Feedback.may_quote).is_(True), col(Feedback.comment).is_not(None))
        .order_by(col(Feedback.answered_at))
    )
    return FeedbackFigures(
        by_role=[_group(r, ROLE_WORDS[PartyRole(r)], *rest) for r, *rest in roles],
        by_mediator=[_group(m or "", m or "No mediator", *rest) for m, *rest in mediators],
        by_local_authority=[_group(la, la, *rest) for la, *rest in authorities],
        quotable=[c for c in quotes.all() if c],
    )
