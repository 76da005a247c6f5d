"""Who is coming: each person's answer to the newest poll and to the booked meeting's invite.

The case page shows these beside each name, the board a count per case ("3 of 4
accepted"). The way a person answered an invitation (the RSVP link in their email, or
their calendar's own reply) is read from the timeline entry ``replies.record_answer``
wrote, so no answer needs a column of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import (
    Invitation,
    Meeting,
    PartStat,
    Party,
    PollResponse,
    TimelineEntry,
)
from orchestrator.messaging.replies import REPLIED
from orchestrator.scheduling.availability_matrix import newest_poll
from orchestrator.scheduling.lookups import LIVE_STATUSES

# How an invitation was answered, by the ``source`` its timeline entry records.
Door = Literal["rsvp", "calendar", "phone"]
DOORS: dict[str, Door] = {"link": "rsvp", "email": "calendar", "phone": "phone"}


@dataclass(frozen=True)
class PollReply:
    """Whether the person was asked in the newest poll, when they answered it, whether
    they asked us to call (none of the times work), and who entered it for them."""

    answered_at: datetime | None
    call_me: bool = False
    entered_by: str | None = None


@dataclass(frozen=True)
class InviteReply:
    """The person's answer to the booked meeting's invitation, when and by which door."""

    answer: PartStat
    answered_at: datetime | None
    door: Door | None


@dataclass(frozen=True)
class PersonReplies:
    """One person's answers; None where they were not asked (no poll, no invitation)."""

    poll: PollReply | None
    invite: InviteReply | None


@dataclass(frozen=True)
class AcceptedCount:
    """How many of the people invited to a case's booked meeting have accepted."""

    accepted: int
    invited: int


async def replies_of_case(
    session: AsyncSession, *, case_id: uuid.UUID
) -> dict[uuid.UUID, PersonReplies]:
    """Each person's answer to the newest poll and to the booked meeting's invitation."""
    polled = await _poll_replies(session, case_id=case_id)
    invited = await _invite_replies(session, case_id=case_id)
    return {
        party_id: PersonReplies(poll=polled.get(party_id), invite=invited.get(party_id))
        for party_id in polled.keys() | invited.keys()
    }


async def accepted_counts(
    session: AsyncSession, *, case_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, AcceptedCount]:
    """Per case with a booked meeting: how many of those invited accepted (one query)."""
    if not case_ids:
        return {}
    accepted = func.sum(case((col(Invitation.partstat) == PartStat.accepted, 1), else_=0))
    query = (
        select(Meeting.case_id, func.count(col(Invitation.id)), accepted)
        .join(Invitation, col(Invitation.meeting_id) == col(Meeting.id))
        .join(Party, col(Party.id) == col(Invitation.party_id))
        .where(
            col(Meeting.case_id).in_(case_ids),
            col(Meeting.status).in_(LIVE_STATUSES),
            col(Invitation.cancelled_at).is_(None),
            col(Party.removed_at).is_(None),
        )
        .group_by(col(Meeting.case_id))
    )
    rows = (await session.execute(query)).all()
    return {case_id: AcceptedCount(int(yes or 0), int(total)) for case_id, total, yes in rows}


async def _poll_replies(session: AsyncSession, *, case_id: uuid.UUID) -> dict[uuid.UUID, PollReply]:
    poll = await newest_poll(session, case_id=case_id)
    if poll is None:
        return {}
    rows = await session.scalars(select(PollResponse).where(col(PollResponse.poll_id) == poll.id))
    return {
        r.party_id: PollReply(answered_at=r.answered_at, call_me=r.call_me, entered_by=r.entered_by)
        for r in rows.all()
    }


async def _invite_replies(
    session: AsyncSession, *, case_id: uuid.UUID
) -> dict[uuid.UUID, InviteReply]:
    """The answers to the invitations of the case's newest booked meeting, with their door."""
    meeting = await session.scalar(
        select(Meeting)
        .where(col(Meeting.case_id) == case_id, col(Meeting.status).in_(LIVE_STATUSES))
        .order_by(col(Meeting.start_at).desc())
    )
    if meeting is None:
        return {}
    invitations = await session.scalars(
        select(Invitation).where(
            col(Invitation.meeting_id) == meeting.id, col(Invitation.cancelled_at).is_(None)
        )
    )
    doors = await _doors(session, meeting_id=meeting.id)
    return {
        i.party_id: InviteReply(
            answer=i.partstat,
            answered_at=i.responded_at,
            door=doors.get(i.party_id) if i.partstat is not PartStat.needs_action else None,
        )
        for i in invitations.all()
    }


async def _doors(session: AsyncSession, *, meeting_id: uuid.UUID) -> dict[uuid.UUID, Door]:
    """Per person, the door of their newest answer to this meeting's invitation."""
    entries = await session.scalars(
        select(TimelineEntry)
        .where(
            col(TimelineEntry.meeting_id) == meeting_id,
            col(TimelineEntry.kind) == REPLIED,
        )
        .order_by(col(TimelineEntry.at))
    )
    doors: dict[uuid.UUID, Door] = {}
    for entry in entries.all():
        door = DOORS.get(str((entry.details or {}).get("source", "")))
        if entry.party_id is not None and door is not None:
            doors[entry.party_id] = door
    return doors
