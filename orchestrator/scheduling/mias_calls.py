"""The information call (MIAS): the family books it themselves, at a time that suits them.

"If you need it, we arrange it on a day and time that suits you. The MIAS is normally
done on the telephone and takes about 20 minutes." The family's page offers their
adviser's free 20-minute times, found by the same slot search as meetings (the adviser's
working hours, sessions and buffer, their calendar's busy time, bank holidays; no notice
period), day by day; the family picks one and gives the number to ring. The booking is
``booking.book``'s, with its lock and the database's exclusion constraint: two families
choosing the same time cannot both have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from calendars.workdays import WorkingDays
from orchestrator.core.errors import Conflict, InvalidState, ValidationFailed
from orchestrator.core.events import EventBus
from orchestrator.core.languages import N_
from orchestrator.core.models import (
    FAMILY_ROLES,
    Case,
    CaseKind,
    Channel,
    Meeting,
    MeetingMode,
    Party,
    PhoneNumber,
)
from orchestrator.core.settings import Settings
from orchestrator.scheduling import booking, lookups
from orchestrator.scheduling.busy_reader import BusyReader
from orchestrator.scheduling.slot_search import find_case_slots

CALL_MINUTES = 20
# Times are offered on the half hour, for the next so many days that have any.
OFFER_STEP_MINUTES = 30
DAYS_OFFERED = 10
# The adviser needs a little warning: nothing sooner than this is offered.
LEAD_TIME = timedelta(hours=2)
_PHONE = TypeAdapter(PhoneNumber)


@dataclass(frozen=True)
class FreeDay:
    """One day with the call's free start times, in the case's zone."""

    day: date
    starts: list[datetime]


def is_information_call(case: Case) -> bool:
    return case.kind is CaseKind.mias


def check_information_call(case: Case, party: Party) -> None:
    """Refuse (ValidationFailed) anything but the family booking their own information call."""
    if case.kind is not CaseKind.mias:
        raise ValidationFailed("only an information (MIAS) case books a 20-minute call")
    if party.role not in FAMILY_ROLES or party.case_id != case.id:
        raise ValidationFailed("the parent or young person books their own information call")


async def free_days(
    session: AsyncSession,
    *,
    case: Case,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: BusyReader,
    http: aiohttp.ClientSession,
) -> list[FreeDay]:
    """The adviser's free 20-minute times, by day; none until the case has an adviser.

    Reads calendars: call it outside a write transaction.
    """
    if case.mediator_id is None:
        return []
    found = await find_case_slots(
        session,
        case=case,
        duration=timedelta(minutes=CALL_MINUTES),
        now=now,
        settings=settings,
        calendar=calendar,
        reader=reader,
        http=http,
        limit=None,
        notice_working_days=0,
    )
    zone = ZoneInfo(case.timezone)
    starts = {s.start for s in (*found.slots, *found.earliest_after_target)}
    days: dict[date, list[datetime]] = {}
    for start in sorted(starts):
        if start < now + LEAD_TIME:
            continue
        if start.astimezone(zone).minute % OFFER_STEP_MINUTES == 0:
            days.setdefault(start.astimezone(zone).date(), []).append(start)
    return [FreeDay(day, times) for day, times in sorted(days.items())[:DAYS_OFFERED]]


def offered_starts(days: Sequence[FreeDay]) -> set[datetime]:
    return {start for day in days for start in day.starts}


def checked_phone(raw: str | None) -> str:
    """The number the adviser rings; ValidationFailed (on the field) when it is not one."""
    value = (raw or "").strip()
    if not value:
        raise ValidationFailed(
            N_("enter the phone number we should call you on"), details={"field": "phone"}
        )
    try:
        return _PHONE.validate_python(value)
    except PydanticValidationError:
        raise ValidationFailed(
            N_("enter a phone number, like 07700 900 982"), details={"field": "phone"}
        ) from None


async def book_call(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    start: datetime,
    phone: str | None,
    offered: set[datetime] | None,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    workdays: WorkingDays,
    actor: str | None = None,
) -> Meeting:
    """Book the family's 20-minute call at ``start``, one of the times ``offered`` (None:
    staff booking it for them after a phone call, held to the booking rules alone).

    Conflict when that time is no longer free (another family took it a moment ago);
    InvalidState when a call is already booked; ValidationFailed for a bad number.
    """
    check_information_call(case, party)
    number = checked_phone(phone)
    if case.mediator_id is None:
        raise InvalidState(N_("no adviser has been given this case yet; please call us"))
    existing = await lookups.next_live_meeting(session, case.id)
    if existing is not None:
        when = wording.when(existing.start_at, existing.end_at, zone=case.timezone)
        raise InvalidState(f"your call is already booked for {when}")
    if offered is not None and start not in offered:
        raise Conflict(
            "that time is no longer free; choose another",
            details={"reasons": ["not_offered"], "alternatives": []},
        )
    party.phone = number
    party.channel = Channel.phone
    return await booking.book(
        session,
        case=case,
        start=start,
        duration_minutes=CALL_MINUTES,
        mode=MeetingMode.phone,
        now=now,
        bus=bus,
        settings=settings,
        workdays=workdays,
        actor=actor or f"party:{party.id}",
    )
