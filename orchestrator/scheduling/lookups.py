"""Look up booked meetings: by id, by case or mediator, with their invitations and join links.

Reads only; the writes that make these rows are the booking transaction and its moves.
"""

from __future__ import annotations

import uuid
from collections.abc import Set as AbstractSet

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import NotFound
from orchestrator.core.models import (
    Case,
    Invitation,
    Link,
    LinkScope,
    Mediator,
    Meeting,
    MeetingStatus,
    Party,
)

# Meetings whose PINs and times are still in play.
LIVE_STATUSES = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)


async def get_meeting(session: AsyncSession, meeting_id: uuid.UUID) -> Meeting:
    """The meeting with this id; NotFound when there is none."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting", meeting_id)
    return meeting


async def list_meetings(session: AsyncSession, *, case_id: uuid.UUID) -> list[Meeting]:
    query = select(Meeting).where(col(Meeting.case_id) == case_id).order_by(col(Meeting.start_at))
    return list((await session.scalars(query)).all())


async def has_other_live_meeting(session: AsyncSession, meeting: Meeting) -> bool:
    """True when the meeting's case has another meeting still in play."""
    other = await session.scalar(
        select(Meeting.id).where(
            col(Meeting.case_id) == meeting.case_id,
            col(Meeting.id) != meeting.id,
            col(Meeting.status).in_(LIVE_STATUSES),
        )
    )
    return other is not None


async def next_live_meeting(session: AsyncSession, case_id: uuid.UUID) -> Meeting | None:
    """The case's next meeting still to happen (or happening now), if any."""
    return await session.scalar(
        select(Meeting)
        .where(col(Meeting.case_id) == case_id, col(Meeting.status).in_(LIVE_STATUSES))
        .order_by(col(Meeting.start_at))
        .limit(1)
    )


async def meetings_of_mediators(
    session: AsyncSession, *, mediator_ids: AbstractSet[uuid.UUID] | None
) -> list[tuple[Meeting, Case]]:
    """Meetings not cancelled, with their cases, soonest first: of these mediators (None: all)."""
    query = select(Meeting, Case).join(Case, col(Case.id) == col(Meeting.case_id))
    if mediator_ids is not None:
        query = query.where(col(Meeting.mediator_id).in_(mediator_ids or {uuid.uuid4()}))
    query = query.where(col(Meeting.status) != MeetingStatus.cancelled).order_by(
        col(Meeting.start_at)
    )
    return [(meeting, case) for meeting, case in (await session.execute(query)).all()]


async def current_join_links(session: AsyncSession, meeting: Meeting) -> list[Link]:
    """The live join links of the meeting's current sequence (parties and mediator).

    A cancelled meeting has none: its links die with its status (``links.verdict``).
    """
    if meeting.status is MeetingStatus.cancelled:
        return []
    query = (
        select(Link)
        .where(
            col(Link.meeting_id) == meeting.id,
            col(Link.scope) == LinkScope.join_room,
            col(Link.revoked_at).is_(None),
            col(Link.meeting_sequence) == meeting.sequence,
        )
        .order_by(col(Link.created_at))
    )
    return list((await session.scalars(query)).all())


async def invitations(session: AsyncSession, meeting_id: uuid.UUID) -> list[Invitation]:
    query = select(Invitation).where(col(Invitation.meeting_id) == meeting_id)
    return list((await session.scalars(query)).all())


async def party_invitation(
    session: AsyncSession, *, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> Invitation | None:
    """The party's invitation to the meeting, if they have one."""
    return await session.scalar(
        select(Invitation).where(
            col(Invitation.meeting_id) == meeting_id, col(Invitation.party_id) == party_id
        )
    )


async def join_details(
    session: AsyncSession, *, meeting: Meeting, party: Party | None
) -> tuple[Case, Mediator | None, Invitation | None]:
    """What a join page shows besides the meeting: its case, mediator and the party's invite."""
    case = await session.get(Case, meeting.case_id)
    if case is None:
        raise NotFound("case", meeting.case_id)
    mediator = await session.get(Mediator, meeting.mediator_id) if meeting.mediator_id else None
    invitation = None
    if party is not None:
        invitation = await party_invitation(session, meeting_id=meeting.id, party_id=party.id)
    return case, mediator, invitation
