"""Feedback after the meeting: three short questions to each party, once, by their own link.

When a meeting's outcome is recorded each party (not the interpreter or observer) is
sent a ``feedback`` link, through the outbox under one key per meeting and person, so a
corrected outcome never sends it again. The answers keep the person's role, not their
name; a comment is shown to staff only if its writer ticked "you may quote me", and
then without a name (``feedback_figures``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select
from sqlmodel._compat import SQLModelConfig

from orchestrator.cases import links, roster
from orchestrator.core.errors import NotFound
from orchestrator.core.events import EventBus, EventContext, OutcomeRecorded
from orchestrator.core.models import Feedback, LinkScope, Meeting, Party, PartyRole
from orchestrator.core.settings import Settings
from orchestrator.messaging import party_messages
from orchestrator.messaging.outgoing_mail import already_queued
from orchestrator.messaging.party_messages import has_a_link_way

NOT_ASKED = frozenset({PartyRole.interpreter, PartyRole.observer})
LISTENED = ("yes", "partly", "no")


class FeedbackAnswer(SQLModel):
    model_config = SQLModelConfig(extra="forbid")

    satisfaction: int = Field(ge=1, le=5)
    listened: Literal["yes", "partly", "no"]
    comment: str | None = Field(default=None, max_length=3000)
    may_quote: bool = False


async def send_requests(
    session: AsyncSession, *, meeting: Meeting, settings: Settings, now: datetime
) -> int:
    """Send each party of the meeting's case their feedback link, once; return how many."""
    sent = 0
    for party in await roster.list_parties(session, case_id=meeting.case_id):
        if party.role in NOT_ASKED:
            continue
        key = f"feedback:{meeting.id.hex}:{party.id.hex}"
        if not has_a_link_way(party, settings) or await _asked_before(session, key):
            continue
        link = await links.issue(
            session,
            case_id=meeting.case_id,
            scope=LinkScope.feedback,
            party_id=party.id,
            meeting=meeting,
            now=now,
            ttl=timedelta(days=settings.link_ttl_days),
        )
        secret = settings.secret_key.get_secret_value()
        context = {
            "recipient_name": party.name,
            "feedback_url": links.url_for(link, base_url=settings.base_url, secret=secret),
        }
        await party_messages.tell(
            session,
            party=party,
            kind="feedback_request",
            key=key,
            context=context,
            settings=settings,
            now=now,
            meeting_id=meeting.id,
        )
        sent += 1
    return sent


async def _asked_before(session: AsyncSession, key: str) -> bool:
    return await already_queued(session, key) or await already_queued(session, f"text:{key}")


async def find_answer(
    session: AsyncSession, *, meeting_id: uuid.UUID, party: Party
) -> Feedback | None:
    return await session.scalar(
        select(Feedback).where(
            col(Feedback.meeting_id) == meeting_id, col(Feedback.party_id) == party.id
        )
    )


async def save_answer(
    session: AsyncSession, *, meeting: Meeting, party: Party, data: FeedbackAnswer, now: datetime
) -> Feedback:
    """Keep the party's answers (a second go replaces the first)."""
    if party.case_id != meeting.case_id:
        raise NotFound("party", party.id)
    row = await find_answer(session, meeting_id=meeting.id, party=party)
    if row is None:
        row = Feedback(
            meeting_id=meeting.id,
            case_id=meeting.case_id,
            party_id=party.id,
            role=party.role.value,
            satisfaction=data.satisfaction,
            listened=data.listened,
        )
        session.add(row)
    comment = (data.comment or "").strip() or None
    row.satisfaction, row.listened = data.satisfaction, data.listened
    row.comment, row.may_quote = comment, data.may_quote and comment is not None
    row.answered_at = now
    await session.flush()
    return row


def install(bus: EventBus) -> None:
    """Ask for feedback when a meeting's outcome is recorded."""

    async def on_outcome(session: AsyncSession, event: OutcomeRecorded, ctx: EventContext) -> None:
        meeting = await session.get(Meeting, event.meeting_id)
        if meeting is not None:
            await send_requests(session, meeting=meeting, settings=ctx.settings, now=ctx.now)

    bus.subscribe(OutcomeRecorded, on_outcome)
