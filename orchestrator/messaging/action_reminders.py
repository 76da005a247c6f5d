"""Send a reminder of an agreed action to the party who owns it, before its date.

The rows (``action:<action id hex>``, no meeting, no poll) are planned when an agreement
becomes final (``closing.agreement_actions``); ``reminder_sending`` claims them with every
other reminder and hands them here to be re-checked and queued.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.cases import links
from orchestrator.core.models import (
    Agreement,
    AgreementAction,
    Case,
    Link,
    LinkScope,
    Meeting,
    Party,
    Reminder,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import party_messages

ACTION_KIND = "action"


def is_action_reminder(reminder: Reminder) -> bool:
    return reminder.kind.startswith(f"{ACTION_KIND}:")


async def agreement_url(
    session: AsyncSession, *, party: Party, agreement: Agreement, settings: Settings, now: datetime
) -> str:
    """The party's live agreement link, or a new one if theirs has gone."""
    link = await session.scalar(
        select(Link)
        .where(
            col(Link.party_id) == party.id,
            col(Link.scope) == LinkScope.agreement,
            col(Link.revoked_at).is_(None),
            col(Link.expires_at) > now,
        )
        .order_by(col(Link.created_at).desc())
        .limit(1)
    )
    if link is None:
        link = await links.issue(
            session,
            case_id=agreement.case_id,
            scope=LinkScope.agreement,
            party_id=party.id,
            meeting=await session.get(Meeting, agreement.meeting_id),
            now=now,
            ttl=timedelta(days=settings.link_ttl_days),
        )
    secret = settings.secret_key.get_secret_value()
    return links.url_for(link, base_url=settings.base_url, secret=secret)


async def send_action_reminder(
    session: AsyncSession, reminder: Reminder, party: Party, *, settings: Settings, now: datetime
) -> bool:
    """Queue the reminder if the action still stands and is still to come; False to drop it."""
    try:
        action_id = uuid.UUID(hex=reminder.kind.partition(":")[2])
    except ValueError:
        return False
    action = await session.get(AgreementAction, action_id)
    if action is None or action.due_on is None or action.owner_party_id != party.id:
        return False
    agreement = await session.get(Agreement, action.agreement_id)
    case = await session.get(Case, action.case_id)
    if agreement is None or agreement.final_at is None or case is None:
        return False
    if action.due_on < now.astimezone(ZoneInfo(case.timezone)).date():
        return False
    context = {
        "recipient_name": party.name,
        "action": action.action,
        "due_words": wording.day(action.due_on),
        "agreement_url": await agreement_url(
            session, party=party, agreement=agreement, settings=settings, now=now
        ),
    }
    return await party_messages.tell(
        session,
        party=party,
        kind="action_reminder",
        key=f"reminder:{reminder.id}",
        context=context,
        settings=settings,
        now=now,
        meeting_id=agreement.meeting_id,
    )
