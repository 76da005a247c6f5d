"""Asking parties when they can meet: opening a poll, handing out its links, asking again.

Parties whose calendar we can read are not asked; everyone else with an email address gets
their own link to a poll of candidate times (``poll_times``), and phone people and those
with only a mobile get it by text (``messaging.poll_texts``). Each polled party has a
``PollResponse`` row whose ``answered_at`` stays empty until they answer: reminders chase
those rows. A newer poll replaces the case's older ones, whose links stop working.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.intervals import Interval
from calendars.workdays import WorkingDays
from orchestrator.cases import intake, lifecycle, links, roster
from orchestrator.core.db import Database
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.models import (
    Case,
    CaseStatus,
    CaseStatusCause,
    Link,
    LinkScope,
    Party,
    Poll,
    PollResponse,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import posts_to, texts_person
from orchestrator.messaging.poll_texts import post_poll_letter, text_poll_link
from orchestrator.scheduling.busy_reader import BusyReader, has_calendar
from orchestrator.scheduling.busy_times import CalendarReading, case_calendars, read_calendars
from orchestrator.scheduling.poll_emails import queue_poll_email
from orchestrator.scheduling.poll_times import (
    PollWindow,
    poll_candidates,
    poll_window,
    propose_candidates,
)

# Links stay usable a little after the last offered time, then die.
LINK_GRACE = timedelta(days=7)

NotPolledReason = Literal["calendar", "no_email"]


@dataclass(frozen=True)
class AvailabilityRequest:
    """What one request did: the poll, who was asked, and who was not and why."""

    poll: Poll
    polled: list[Party] = field(default_factory=list)
    not_polled: dict[uuid.UUID, NotPolledReason] = field(default_factory=dict)


async def read_poll_calendars(
    db: Database,
    *,
    case_id: uuid.UUID,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: BusyReader,
    http: aiohttp.ClientSession,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> CalendarReading:
    """Read the calendars a poll of the case must respect, before its write transaction.

    A feed may take seconds to answer; on SQLite a write transaction held meanwhile would
    stall every other write in the service. This reads the case in a read session, closes
    it, then reads the calendars; ``request_availability`` takes the result.
    """
    async with db.read() as session:
        case = await intake.get_case(session, case_id)
        window = await poll_window(
            session,
            case=case,
            now=now,
            settings=settings,
            calendar=calendar,
            window_start=window_start,
            window_end=window_end,
        )
        wanted = await case_calendars(session, case=case)
    return await read_calendars(reader, wanted, window=window.widest, http=http)


async def request_availability(
    session: AsyncSession,
    *,
    case: Case,
    duration_minutes: int,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    calendars: CalendarReading,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    notice_working_days: int | None = None,
    actor: str | None = None,
) -> AvailabilityRequest:
    """Open a poll of candidate times and email each party without a calendar their own link.

    The default window runs from now to the case's target (the notice rule keeps the first
    days out); if it holds no time at all it stretches three weeks past the target. A newer
    poll replaces the case's older ones, whose links stop working. ``calendars`` is what
    ``read_poll_calendars`` read for the same case and window (Conflict if they changed).
    """
    window = await poll_window(
        session,
        case=case,
        now=now,
        settings=settings,
        calendar=calendar,
        window_start=window_start,
        window_end=window_end,
    )
    duration = timedelta(minutes=duration_minutes)

    async def propose(end: datetime) -> list[datetime]:
        return await propose_candidates(
            session,
            case=case,
            duration=duration,
            window=Interval(window.start, end),
            now=now,
            calendar=calendar,
            calendars=calendars,
            max_candidates=settings.poll_max_candidates,
            notice_working_days=notice_working_days,
        )

    candidates, end = await _candidates_in(window, propose)
    poll = await _replace_polls(
        session,
        case=case,
        duration_minutes=duration_minutes,
        window=Interval(window.start, end),
        candidates=candidates,
        now=now,
    )
    result = await _ask_parties(session, case=case, poll=poll, now=now, settings=settings)
    await _note_request(
        session, case=case, result=result, offered=len(candidates), now=now, actor=actor
    )
    await session.flush()
    return result


async def _candidates_in(
    window: PollWindow, propose: Callable[[datetime], Awaitable[list[datetime]]]
) -> tuple[list[datetime], datetime]:
    """The poll's times and where its window ends: stretched past the target if need be."""
    end = window.end
    candidates = await propose(max(window.start, end))
    if not candidates and window.stretched_end is not None:
        end = window.stretched_end
        candidates = await propose(end)
    if not candidates:
        raise ValidationFailed(
            "no time in the window fits the mediator's working days, hours, bookings and "
            "calendar, the notice, and the required parties' limits and calendars",
            details={"window_start": window.start.isoformat(), "window_end": end.isoformat()},
        )
    return candidates, max(window.start, end)


async def _replace_polls(
    session: AsyncSession,
    *,
    case: Case,
    duration_minutes: int,
    window: Interval,
    candidates: list[datetime],
    now: datetime,
) -> Poll:
    """Close the case's open polls and open a new one offering ``candidates``."""
    await _close_open_polls(session, case_id=case.id, now=now)
    poll = Poll(
        case_id=case.id,
        duration_minutes=duration_minutes,
        window_start=window.start,
        window_end=window.end,
        candidates=[c.astimezone(UTC).isoformat() for c in candidates],
        created_at=now,
    )
    session.add(poll)
    await session.flush()
    return poll


async def _ask_parties(
    session: AsyncSession, *, case: Case, poll: Poll, now: datetime, settings: Settings
) -> AvailabilityRequest:
    """Send each current party without a readable calendar their own link to ``poll``
    (by email, by text to those ``texts_person`` picks, by letter to those ``posts_to`` picks)."""
    result = AvailabilityRequest(poll=poll)
    for party in await roster.list_parties(session, case_id=case.id):
        if has_calendar(party.calendar):
            result.not_polled[party.id] = "calendar"
            continue
        texted = texts_person(party, settings)
        posted = posts_to(party, settings)
        if not party.email and not texted and not posted:
            result.not_polled[party.id] = "no_email"
            continue
        session.add(PollResponse(poll_id=poll.id, party_id=party.id))
        link = await _issue_link(session, poll=poll, party=party, now=now)
        url = _link_url(link, settings)
        if party.email:
            await queue_poll_email(
                session, case=case, poll=poll, party=party, url=url, now=now, settings=settings
            )
        if texted:
            await text_poll_link(
                session, case=case, poll=poll, party=party, url=url, settings=settings, now=now
            )
        if posted:
            await post_poll_letter(
                session, case=case, poll=poll, party=party, settings=settings, now=now
            )
        result.polled.append(party)
    return result


async def _note_request(
    session: AsyncSession,
    *,
    case: Case,
    result: AvailabilityRequest,
    offered: int,
    now: datetime,
    actor: str | None,
) -> None:
    """Move the case to negotiating (if it may) and say on its timeline who was asked."""
    poll = result.poll
    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.negotiating,
        cause=CaseStatusCause.availability_requested,
        actor=actor,
        now=now,
    )
    add_timeline(
        session,
        case_id=case.id,
        kind="availability.requested",
        summary=(
            f"Asked {len(result.polled)} of {len(result.polled) + len(result.not_polled)} "
            f"parties when they can meet ({offered} times offered)"
        ),
        at=now,
        actor=actor,
        details={
            "poll_id": str(poll.id),
            "duration_minutes": poll.duration_minutes,
            "polled": [str(p.id) for p in result.polled],
            "not_polled": {str(k): v for k, v in result.not_polled.items()},
        },
    )


def _link_url(link: Link, settings: Settings) -> str:
    """The party's address for ``link`` (the token is signed with the service's secret)."""
    return links.url_for(
        link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
    )


async def _close_open_polls(session: AsyncSession, *, case_id: uuid.UUID, now: datetime) -> None:
    """Close the case's open polls and kill their links (answers given so far still count)."""
    open_ids = list(
        (
            await session.scalars(
                select(Poll.id).where(col(Poll.case_id) == case_id, col(Poll.closed_at).is_(None))
            )
        ).all()
    )
    if not open_ids:
        return
    await session.execute(update(Poll).where(col(Poll.id).in_(open_ids)).values(closed_at=now))
    await session.execute(
        update(Link)
        .where(col(Link.poll_id).in_(open_ids), col(Link.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def _issue_link(session: AsyncSession, *, poll: Poll, party: Party, now: datetime) -> Link:
    link = await links.issue(
        session,
        case_id=poll.case_id,
        scope=LinkScope.poll,
        now=now,
        expires_at=max(poll.window_end, now) + LINK_GRACE,
        party_id=party.id,
    )
    link.poll_id = poll.id
    await session.flush()
    return link


async def poll_link_url(
    session: AsyncSession,
    poll: Poll,
    party: Party,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> str:
    """The party's link to ``poll`` (the same one their first email carried, while it lives).

    For reminders: a revoked or expired link is replaced by a new one (issued at ``now``,
    default the poll's creation), unless the poll has closed.
    """
    at = now or poll.created_at
    link = await session.scalar(
        select(Link)
        .where(
            col(Link.poll_id) == poll.id,
            col(Link.party_id) == party.id,
            col(Link.scope) == LinkScope.poll,
            col(Link.revoked_at).is_(None),
            col(Link.expires_at) > at,
        )
        .order_by(col(Link.created_at).desc())
    )
    if link is None:
        if poll.closed_at is not None:
            raise InvalidState("this poll has closed")
        link = await _issue_link(session, poll=poll, party=party, now=at)
    return _link_url(link, settings)


async def resend_poll_link(
    session: AsyncSession,
    *,
    case: Case,
    party: Party,
    settings: Settings,
    now: datetime,
    cause: str,
) -> bool:
    """Email one party their link to the case's open poll again; False when there is none.

    Their live link is reused; a withdrawn or expired one is replaced by a new link. A
    party added after the poll opened is asked too. Nothing is sent to a party whose
    calendar answers for them, or when every time on offer has passed.
    """
    poll = await session.scalar(
        select(Poll)
        .where(col(Poll.case_id) == case.id, col(Poll.closed_at).is_(None))
        .order_by(col(Poll.created_at).desc())
        .limit(1)
    )
    if poll is None or not party.email or has_calendar(party.calendar):
        return False
    if not any(start > now for start in poll_candidates(poll)):
        return False
    response = await session.scalar(
        select(PollResponse.id).where(
            col(PollResponse.poll_id) == poll.id, col(PollResponse.party_id) == party.id
        )
    )
    if response is None:
        session.add(PollResponse(poll_id=poll.id, party_id=party.id))
    url = await poll_link_url(session, poll, party, settings, now=now)
    await queue_poll_email(
        session,
        case=case,
        poll=poll,
        party=party,
        url=url,
        now=now,
        settings=settings,
        key=f"poll:{poll.id}:{party.id}:{cause}",
    )
    return True
