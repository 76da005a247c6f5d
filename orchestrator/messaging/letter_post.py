"""When a posted letter should arrive, and what the case page says of each letter.

GOV.UK Notify's published rule: a letter sent to it before 5:30pm (UK time) on a working
day is printed and posted the next working day; later, or on a weekend or bank holiday,
it counts as sent the next working day. First class then arrives one working day after
posting, second class two. Working days are the service's own (``calendars.workdays``:
weekends, bank holidays in its region, its closures).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from calendars.workdays import WorkingDays
from orchestrator.core.models import (
    Delivery,
    DeliveryStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Party,
)
from orchestrator.messaging.letters import LETTER_WORDS

CUT_OFF = time(17, 30)
NOTIFY_ZONE = ZoneInfo("Europe/London")
DAYS_IN_THE_POST = {"first": 1, "second": 2}
# A letter in one of these has gone to Notify and is on its way.
ON_ITS_WAY = (
    DeliveryStatus.sending,
    DeliveryStatus.accepted,
    DeliveryStatus.received,
    DeliveryStatus.delivered,
)


def expected_arrival(sent_at: datetime, *, postage: str, calendar: WorkingDays) -> date:
    """The working day a letter handed to Notify at ``sent_at`` should arrive."""
    local = sent_at.astimezone(NOTIFY_ZONE)
    handed_in = local.date()
    if not calendar.is_working_day(handed_in) or local.time() >= CUT_OFF:
        handed_in = calendar.next_working_day_on_or_after(handed_in + timedelta(days=1))
    posted = calendar.add_working_days(handed_in, 1)
    return calendar.add_working_days(posted, DAYS_IN_THE_POST.get(postage, 2))


@dataclass(frozen=True)
class LetterLine:
    """One letter to one person, as the case page tells it."""

    party_id: uuid.UUID
    name: str
    what: str  # "with the meeting's details"
    status: str  # "Letter sent, expected to arrive Thursday 10 December"


async def letters_of_case(
    session: AsyncSession, *, case_id: uuid.UUID, calendar: WorkingDays
) -> list[LetterLine]:
    """Each letter queued on this case that has not failed, oldest first."""
    rows = await session.execute(
        select(Delivery, OutboxMessage, Party)
        .join(OutboxMessage, col(OutboxMessage.id) == col(Delivery.message_id))
        .join(Party, col(Party.id) == col(Delivery.party_id))
        .where(
            col(Delivery.case_id) == case_id,
            col(Delivery.channel) == OutboxKind.letter,
            col(Party.removed_at).is_(None),
            col(OutboxMessage.status).in_([OutboxStatus.pending, OutboxStatus.sent]),
            col(Delivery.status).in_([DeliveryStatus.queued, *ON_ITS_WAY]),
        )
        .order_by(col(OutboxMessage.created_at))
    )
    lines = []
    for delivery, message, party in rows.all():
        kind = message.topic.removeprefix("letter.")
        if delivery.status in ON_ITS_WAY and message.sent_at is not None:
            arrives = expected_arrival(
                message.sent_at, postage=str(message.payload.get("postage")), calendar=calendar
            )
            status = f"Letter sent, expected to arrive {wording.day_and_month(arrives)}"
        else:
            status = "Letter waiting to go to GOV.UK Notify"
        lines.append(LetterLine(party.id, party.name, LETTER_WORDS.get(kind, ""), status))
    return lines
