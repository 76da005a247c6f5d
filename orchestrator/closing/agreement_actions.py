"""The agreed actions after the agreement is final: a reminder before each date, and overdue.

An action with a date and a party who owns it (usually the LA) gets one reminder row,
``action:<id>``, due at 9am on the case's clock ``REMINDER_DAYS_BEFORE`` days before its
date (at once, if that has passed and the date has not). The rows are ordinary
``Reminder`` rows with no meeting or poll, so the reminder scheduler's sweep wakes for
them and ``messaging.action_reminders`` sends them. The deadline board counts the overdue
ones in its own query (``cases.board_clocks.overdue_actions``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core import bulk_insert
from orchestrator.core.models import AgreementAction, Case, Reminder
from orchestrator.core.settings import Settings
from orchestrator.messaging.action_reminders import ACTION_KIND
from orchestrator.messaging.reminders import reminder_id

REMINDER_DAYS_BEFORE = 3
REMINDER_AT = time(9, 0)


def reminder_due(case: Case, due_on: date, now: datetime) -> datetime | None:
    """When the owner is reminded of an action due on ``due_on`` (None: the date has passed)."""
    zone = ZoneInfo(case.timezone)
    if due_on < now.astimezone(zone).date():
        return None
    planned = datetime.combine(due_on - timedelta(days=REMINDER_DAYS_BEFORE), REMINDER_AT, zone)
    return max(planned, now)


async def plan_reminders(
    session: AsyncSession,
    *,
    case: Case,
    actions: list[AgreementAction],
    settings: Settings,
    now: datetime,
) -> int:
    """One reminder row for each dated action a party owns; return how many were made."""
    rows = []
    for action in actions:
        if action.owner_party_id is None or action.due_on is None:
            continue
        due = reminder_due(case, action.due_on, now)
        if due is None:
            continue
        rows.append(
            Reminder(
                id=reminder_id("action", action.id),
                party_id=action.owner_party_id,
                kind=f"{ACTION_KIND}:{action.id.hex}",
                due_at=due,
            )
        )
    if rows:
        await bulk_insert.insert_new(session, rows)
    return len(rows)
