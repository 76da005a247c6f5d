"""The poll link by text message, for the people ``channels.texts_person`` picks, and the
poll by letter (its times, and "ring us to answer") for those ``channels.posts_to`` picks.

Sent beside (or, for someone with only a mobile, instead of) the poll email, once per
poll and person. It names no one: the kind of meeting, their own link and the help line
for answering by phone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.core.models import Case, Party, Poll
from orchestrator.core.settings import Settings
from orchestrator.messaging.invitees import MEETING_LABELS
from orchestrator.messaging.letters import queue_letter
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


async def post_poll_letter(
    session: AsyncSession,
    *,
    case: Case,
    poll: Poll,
    party: Party,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue this person's poll by letter: the times offered, and the help line to answer."""
    length = timedelta(minutes=poll.duration_minutes)
    starts = sorted(datetime.fromisoformat(c) for c in poll.candidates)
    return await queue_letter(
        session,
        party=party,
        kind="poll",
        key=f"letter:poll:{poll.id}:{party.id}",
        context={
            "meeting_label": MEETING_LABELS.get(case.kind, "mediation meeting"),
            "times": [wording.when(s, s + length, zone=case.timezone) for s in starts],
        },
        settings=settings,
        now=now,
    )
