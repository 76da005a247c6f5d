"""The date a party is asked to answer a poll by: one rule for the poll page and its email.

Three working days from the day the poll was sent (weekends, bank holidays and closures
skipped, in the case's zone), but never later than the working day before the first time
on offer, so the earliest time can still be booked once everyone has answered; and never
before the day it was sent.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from calendars import wording
from calendars.workdays import WorkingDays
from orchestrator.core.models import Case, Poll
from orchestrator.core.settings import Settings
from orchestrator.scheduling.poll_times import poll_candidates

REPLY_WORKING_DAYS = 3


def reply_by(poll: Poll, *, zone: ZoneInfo, calendar: WorkingDays) -> date:
    """The last day the party is asked to answer ``poll`` by (see the module's rule)."""
    sent = poll.created_at.astimezone(zone).date()
    deadline = calendar.add_working_days(sent, REPLY_WORKING_DAYS)
    candidates = poll_candidates(poll)
    if candidates:
        first = min(candidates).astimezone(zone).date()
        deadline = min(deadline, calendar.add_working_days(first, -1))
    return max(sent, deadline)


def reply_by_words(
    poll: Poll,
    *,
    case: Case,
    settings: Settings,
    now: datetime | None = None,
    locale: str = wording.LOCALE,
) -> str | None:
    """The reply-by day as people read it ("Thursday 12 March 2026"); None once it passed."""
    zone = ZoneInfo(case.timezone)
    deadline = reply_by(poll, zone=zone, calendar=WorkingDays(settings.bank_holiday_region))
    if now is not None and now.astimezone(zone).date() > deadline:
        return None
    return wording.day(deadline, locale=locale)
