"""Papers handed round in the meeting: the mediator shares the Child's View with everyone.

"At the mediation meeting, Matthew's Child's View form is distributed": from the room
console the mediator shares the family's Child's View with every party of the case, who
then see it on their join page. The share is one change of ``Document.shared_with`` (the
same list the preparation pages read), put on the case's timeline.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import roster
from orchestrator.closing.preparation import CHILDS_VIEW
from orchestrator.core.errors import NotFound
from orchestrator.core.models import Document, Meeting, Party
from orchestrator.core.records import add_timeline


async def childs_view(session: AsyncSession, *, case_id: uuid.UUID) -> Document | None:
    """The case's latest Child's View, written or uploaded, if the family sent one."""
    return await session.scalar(
        select(Document)
        .where(col(Document.case_id) == case_id, col(Document.kind) == CHILDS_VIEW)
        .order_by(col(Document.created_at).desc(), col(Document.id))
        .limit(1)
    )


def shared_with_everyone(document: Document, parties: list[Party]) -> bool:
    """True when every current party other than its author may see the paper."""
    others = {str(p.id) for p in parties if p.id != document.party_id}
    return others <= set(document.shared_with or [])


async def console_view(session: AsyncSession, *, case_id: uuid.UUID) -> dict[str, object]:
    """For the console: the case's Child's View, and whether everyone may see it yet."""
    document = await childs_view(session, case_id=case_id)
    shared = document is not None and shared_with_everyone(
        document, await roster.list_parties(session, case_id=case_id)
    )
    return {"childs_view": document, "childs_view_shared": shared}


async def share_childs_view(
    session: AsyncSession, *, meeting: Meeting, now: datetime, actor: str | None
) -> Document:
    """Share the case's Child's View with every party, as the meeting starts."""
    document = await childs_view(session, case_id=meeting.case_id)
    if document is None:
        raise NotFound("child's view", meeting.case_id)
    parties = await roster.list_parties(session, case_id=meeting.case_id)
    everyone = {str(p.id) for p in parties if p.id != document.party_id}
    document.shared_with = sorted(everyone | set(document.shared_with or []))
    session.add(document)
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        party_id=document.party_id,
        kind="document.shared_in_meeting",
        summary="Child's View shared with everyone at the meeting",
        at=now,
        actor=actor,
    )
    await session.flush()
    return document


async def shared_papers(session: AsyncSession, *, party: Party) -> list[Document]:
    """The Child's View, when it is shared with this party (or is their own)."""
    document = await childs_view(session, case_id=party.case_id)
    if document is None:
        return []
    if document.party_id == party.id or str(party.id) in (document.shared_with or []):
        return [document]
    return []
