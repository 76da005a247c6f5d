"""The poll link by text message, for the people ``channels.texts_person`` picks.

Sent beside (or, for someone with only a mobile, instead of) the poll email, once per
poll and person. It names no one: the kind of meeting, their own link and the help line
for answering by phone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.models import Case, Party, Poll
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import MEETING_LABELS
from orchestrator.messaging.text_messages import queue_text


async def text_poll_link(
    session: AsyncSession,
    *,
    case: Case,
    poll: Poll,
    party: Party,
    url: str,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue this person's poll link by text; False if queued before or no mobile."""
    return await queue_text(
        session,
        party=party,
        kind="poll",
        key=f"text:poll:{poll.id}:{party.id}",
        context={
            "meeting_label": MEETING_LABELS.get(case.kind, "mediation meeting"),
            "poll_url": url,
        },
        settings=settings,
        now=now,
    )
