"""The email that carries a party's own poll link, queued in the outbox.

It says how long the meeting lasts, over which days the times fall and the date to reply
by (``poll_deadline``), in the case's zone and the person's language (the ``poll`` mail
templates); the link is personal, so the email asks that it not be forwarded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from orchestrator.core import languages
from orchestrator.core.models import Case, Party, Poll
from orchestrator.core.settings import Settings
from orchestrator.messaging.outgoing_mail import send_plain
from orchestrator.scheduling.poll_deadline import reply_by_words
from orchestrator.scheduling.poll_times import poll_candidates


async def queue_poll_email(
    session: AsyncSession,
    *,
    case: Case,
    poll: Poll,
    party: Party,
    url: str,
    now: datetime,
    settings: Settings,
    key: str | None = None,
) -> None:
    """Queue the party's poll email; ``key`` (default one per poll and party) dedupes it."""
    assert party.email is not None
    await send_plain(
        session,
        kind="poll",
        key=key or f"poll:{poll.id}:{party.id}",
        to_name=party.name,
        to_addr=party.email,
        context=poll_email_context(case=case, poll=poll, party=party, url=url, settings=settings),
        settings=settings,
        now=now,
        case_id=case.id,
        language=party.language,
    )


def poll_email_context(
    *, case: Case, poll: Poll, party: Party, url: str, settings: Settings
) -> dict[str, Any]:
    """What the poll email says: the length, the days the times fall on, the reply-by day."""
    locale = languages.language(party.language).locale
    zone = ZoneInfo(case.timezone)
    candidates = poll_candidates(poll)
    first, last = candidates[0].astimezone(zone), candidates[-1].astimezone(zone)
    return {
        "recipient_name": party.name,
        "length": wording.duration(timedelta(minutes=poll.duration_minutes), locale=locale),
        "first_day": wording.day(first, locale=locale),
        "last_day": wording.day(last, locale=locale) if last.date() != first.date() else None,
        "reply_by": reply_by_words(poll, case=case, settings=settings, locale=locale),
        "poll_url": url,
    }
