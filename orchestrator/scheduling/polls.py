"""Availability polls: offer a case's candidate times, email each party their link, record answers.

Parties whose calendar we can read are not asked; everyone else with an email address gets a
poll with a handful of coarse times (e.g. 09:30 and 13:00 for a three-hour meeting) before the
case's target, each one a time the slot search itself would offer (the mediator's days, hours,
bookings and calendar, the notice, and the required parties' limits, calendars and answers).
Each polled party has a ``PollResponse`` row whose ``answered_at`` stays empty until they
answer: reminders chase those rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.utils import parseaddr
from html import escape
from typing import Literal
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from calendars.imip import build_plain_message
from calendars.intervals import Interval
from calendars.slots import find_slots
from calendars.workdays import WorkingDays
from orchestrator.cases import intake, lifecycle, links, roster
from orchestrator.core.db import Database
from orchestrator.core.errors import InvalidState, LinkInvalid, ValidationFailed
from orchestrator.core.events import EventBus, PartyReplied
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseStatus,
    CaseStatusCause,
    Link,
    LinkScope,
    OutboxKind,
    Party,
    Poll,
    PollAnswer,
    PollAnswerValue,
    PollResponse,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging import outbox
from orchestrator.scheduling import availability

# Coarse local starts a parent can answer on a phone: morning and afternoon, plus late
# morning and mid-afternoon for shorter meetings.
LONG_MEETING_STARTS = (time(9, 30), time(13, 0))
SHORT_MEETING_STARTS = (time(9, 30), time(11, 0), time(13, 0), time(14, 30))
SHORT_MEETING = timedelta(minutes=90)
# A poll window that would offer nothing before the target stretches this far past it.
STRETCH_PAST_TARGET = timedelta(days=21)
# Links stay usable a little after the last offered time, then die.
LINK_GRACE = timedelta(days=7)
SUBJECT = "Please tell us when you can meet"
# The ``answer`` of the PartyReplied a poll answer emits (the webhooks' party.replied).
POLL_ANSWERED = "availability_given"

NotPolledReason = Literal["calendar", "no_email"]


@dataclass(frozen=True)
class AvailabilityRequest:
    """What one request did: the poll, who was asked, and who was not and why."""

    poll: Poll
    polled: list[Party] = field(default_factory=list)
    not_polled: dict[uuid.UUID, NotPolledReason] = field(default_factory=dict)


def poll_starts(duration: timedelta) -> tuple[time, ...]:
    """The local times a poll offers for a meeting of ``duration``."""
    return SHORT_MEETING_STARTS if duration <= SHORT_MEETING else LONG_MEETING_STARTS


def poll_candidates(poll: Poll) -> list[datetime]:
    """The poll's candidate starts as aware UTC datetimes, earliest first."""
    return sorted(datetime.fromisoformat(c).astimezone(UTC) for c in poll.candidates)


async def propose_candidates(
    session: AsyncSession,
    *,
    case: Case,
    duration: timedelta,
    window: Interval,
    now: datetime,
    calendar: WorkingDays,
    calendars: availability.Calendars,
    max_candidates: int,
    notice_working_days: int | None = None,
) -> list[datetime]:
    """Coarse starts that everything ``/slots`` respects allows, earliest first.

    That is the mediator's working days, hours, bookings and calendar, the notice, and each
    required party's own limits, calendar and earlier answers.
    """
    inputs = await availability.search_inputs(
        session,
        case=case,
        window=window,
        calendar=calendar,
        calendars=calendars,
        notice_working_days=notice_working_days,
    )
    found = find_slots(
        window=window,
        duration=duration,
        parties=inputs.people,
        mediator=inputs.mediator,
        rules=inputs.rules,
        target=window.end,
        now=now,
        limit=None,
        fixed_starts=poll_starts(duration),
    )
    return sorted(slot.start for slot in found.slots)[:max_candidates]


# Longer than any statutory clock: a poll is for the weeks ahead, not the years.
MAX_WINDOW = timedelta(days=180)


@dataclass(frozen=True)
class _PollWindow:
    """Where a poll looks, and how far it stretches if that holds no time (None: it does not)."""

    start: datetime
    end: datetime
    stretched_end: datetime | None

    @property
    def widest(self) -> Interval:
        return Interval(self.start, max(self.start, self.end, self.stretched_end or self.start))


async def _poll_window(
    session: AsyncSession,
    *,
    case: Case,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    window_start: datetime | None,
    window_end: datetime | None,
) -> _PollWindow:
    """The default runs from now to the case's target; a given end is never stretched."""
    if case.status not in OPEN_CASE_STATUSES:
        raise InvalidState(f"the case is {case.status.value}; availability cannot be asked")
    if window_start and window_end and window_end <= window_start:
        raise ValidationFailed("window_end must be after window_start")
    target = await availability.target_end(session, case=case, settings=settings, calendar=calendar)
    start = max(window_start or now, now)
    if start - now > MAX_WINDOW:
        raise ValidationFailed(
            f"window_start may be at most {MAX_WINDOW.days} days ahead",
            details={"window_start": start.isoformat()},
        )
    # The default window is ours to choose: a target further off than the cap (target_days
    # may be up to 365) looks as far as the cap allows rather than refusing every poll.
    end = window_end or min(target, start + MAX_WINDOW)
    if end - start > MAX_WINDOW:
        # Every working day in the window is searched: centuries would never answer.
        raise ValidationFailed(
            f"the window may span at most {MAX_WINDOW.days} days",
            details={"window_start": start.isoformat(), "window_end": end.isoformat()},
        )
    stretched = (
        min(max(target, start) + STRETCH_PAST_TARGET, start + MAX_WINDOW)
        if window_end is None
        else None
    )
    return _PollWindow(start=start, end=end, stretched_end=stretched)


async def read_poll_calendars(
    db: Database,
    *,
    case_id: uuid.UUID,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: availability.BusyReader,
    http: aiohttp.ClientSession,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> availability.CalendarReading:
    """Read the calendars a poll of the case must respect, before its write transaction.

    A feed may take seconds to answer; on SQLite a write transaction held meanwhile would
    stall every other write in the service. This reads the case in a read session, closes
    it, then reads the calendars; ``request_availability`` takes the result.
    """
    async with db.read() as session:
        case = await intake.get_case(session, case_id)
        window = await _poll_window(
            session,
            case=case,
            now=now,
            settings=settings,
            calendar=calendar,
            window_start=window_start,
            window_end=window_end,
        )
        wanted = await availability.case_calendars(session, case=case)
    return await availability.read_calendars(reader, wanted, window=window.widest, http=http)


async def request_availability(
    session: AsyncSession,
    *,
    case: Case,
    duration_minutes: int,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    calendars: availability.CalendarReading,
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
    window = await _poll_window(
        session,
        case=case,
        now=now,
        settings=settings,
        calendar=calendar,
        window_start=window_start,
        window_end=window_end,
    )
    duration = timedelta(minutes=duration_minutes)
    start, end = window.start, window.end
    candidates = await propose_candidates(
        session,
        case=case,
        duration=duration,
        window=Interval(start, max(start, end)),
        now=now,
        calendar=calendar,
        calendars=calendars,
        max_candidates=settings.poll_max_candidates,
        notice_working_days=notice_working_days,
    )
    if not candidates and window.stretched_end is not None:
        end = window.stretched_end
        candidates = await propose_candidates(
            session,
            case=case,
            duration=duration,
            window=Interval(start, end),
            now=now,
            calendar=calendar,
            calendars=calendars,
            max_candidates=settings.poll_max_candidates,
            notice_working_days=notice_working_days,
        )
    if not candidates:
        raise ValidationFailed(
            "no time in the window fits the mediator's working days, hours, bookings and "
            "calendar, the notice, and the required parties' limits and calendars",
            details={"window_start": start.isoformat(), "window_end": end.isoformat()},
        )

    await _close_open_polls(session, case_id=case.id, now=now)
    poll = Poll(
        case_id=case.id,
        duration_minutes=duration_minutes,
        window_start=start,
        window_end=max(start, end),
        candidates=[c.astimezone(UTC).isoformat() for c in candidates],
        created_at=now,
    )
    session.add(poll)
    await session.flush()

    result = AvailabilityRequest(poll=poll)
    for party in await roster.list_parties(session, case_id=case.id):
        if availability.has_calendar(party.calendar):
            result.not_polled[party.id] = "calendar"
            continue
        if not party.email:
            result.not_polled[party.id] = "no_email"
            continue
        session.add(PollResponse(poll_id=poll.id, party_id=party.id))
        link = await _issue_link(session, poll=poll, party=party, now=now)
        url = links.url_for(
            link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
        )
        await _queue_poll_email(
            session, case=case, poll=poll, party=party, url=url, now=now, settings=settings
        )
        result.polled.append(party)

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
            f"parties when they can meet ({len(candidates)} times offered)"
        ),
        at=now,
        actor=actor,
        details={
            "poll_id": str(poll.id),
            "duration_minutes": duration_minutes,
            "polled": [str(p.id) for p in result.polled],
            "not_polled": {str(k): v for k, v in result.not_polled.items()},
        },
    )
    await session.flush()
    return result


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
    return links.url_for(
        link, base_url=settings.base_url, secret=settings.secret_key.get_secret_value()
    )


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
    if poll is None or not party.email or availability.has_calendar(party.calendar):
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
    await _queue_poll_email(
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


# ---------------------------------------------------------------------------- the email


def _mail_domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _day_range(candidates: list[datetime], zone: ZoneInfo) -> str:
    first, last = candidates[0].astimezone(zone), candidates[-1].astimezone(zone)
    if first.date() == last.date():
        return f"on {wording.day(first)}"
    return f"between {wording.day(first)} and {wording.day(last)}"


async def _queue_poll_email(
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
    assert party.email is not None
    zone = ZoneInfo(case.timezone)
    candidates = poll_candidates(poll)
    hours = poll.duration_minutes / 60
    length = f"{hours:g} hour" + ("" if hours == 1 else "s")
    service, help_line = settings.service_name, settings.help_line
    when = _day_range(candidates, zone)
    text = (
        f"Dear {party.name},\n\n"
        f"We are arranging your mediation meeting. It will last about {length}.\n\n"
        f"Please tell us which of {len(candidates)} possible times {when} you can make. "
        "It takes a couple of minutes, and you can change your answers later:\n\n"
        f"{url}\n\n"
        "If none of the times work, the page lets you tell us when you can.\n"
        "This link is only for you: please do not forward it.\n\n"
        + (f"If you need help, call us on {help_line}.\n\n" if help_line else "")
        + f"{service}\n"
    )
    html = (
        f"<p>Dear {escape(party.name)},</p>"
        f"<p>We are arranging your mediation meeting. It will last about {length}.</p>"
        f"<p>Please tell us which of {len(candidates)} possible times {when} you can make. "
        "It takes a couple of minutes, and you can change your answers later.</p>"
        f'<p><a href="{escape(url)}">Tell us when you can meet</a></p>'
        "<p>If none of the times work, the page lets you tell us when you can. "
        "This link is only for you: please do not forward it.</p>"
        + (f"<p>If you need help, call us on {escape(help_line)}.</p>" if help_line else "")
        + f"<p>{escape(service)}</p>"
    )
    key = key or f"poll:{poll.id}:{party.id}"
    message = build_plain_message(
        subject=SUBJECT,
        from_name=settings.mail_from_name or service,
        from_addr=settings.mail_from,
        to_name=party.name,
        to_addr=party.email,
        text_body=text,
        html_body=html,
        message_id_key=key,
        domain=_mail_domain(settings),
        date=now,
    )
    await outbox.enqueue(
        session,
        kind=OutboxKind.email,
        idempotency_key=key,
        payload=outbox.email_payload(message, to=[party.email]),
        now=now,
        topic="poll",
        case_id=case.id,
    )


# ---------------------------------------------------------------------------- answers


class NothingAnswered(ValidationFailed):
    """The form came back with no answer and no note."""


@dataclass(frozen=True)
class PollAccess:
    """A poll link that verified: the link, the party it speaks for, their case and poll."""

    link: Link
    party: Party
    case: Case
    poll: Poll
    response: PollResponse | None


async def open_poll(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> PollAccess:
    """Verify a poll link and load what its page shows; LinkInvalid for anything amiss."""
    resolved = await links.resolve(
        session,
        token,
        scope=LinkScope.poll,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    link, party = resolved.link, resolved.party
    poll = await session.get(Poll, link.poll_id) if link.poll_id else None
    if party is None or poll is None or poll.case_id != link.case_id:
        raise LinkInvalid("this link is not valid", details={"reason": "unknown"})
    case = await intake.get_case(session, poll.case_id)
    response = await session.scalar(
        select(PollResponse).where(
            col(PollResponse.poll_id) == poll.id, col(PollResponse.party_id) == party.id
        )
    )
    return PollAccess(link=link, party=party, case=case, poll=poll, response=response)


async def answers_of(
    session: AsyncSession, *, poll_id: uuid.UUID, party_id: uuid.UUID
) -> dict[datetime, PollAnswerValue]:
    """One party's current answers to one poll."""
    rows = await session.scalars(
        select(PollAnswer).where(
            col(PollAnswer.poll_id) == poll_id, col(PollAnswer.party_id) == party_id
        )
    )
    return {row.candidate_start: row.answer for row in rows.all()}


async def record_answers(
    session: AsyncSession,
    *,
    access: PollAccess,
    answers: dict[datetime, PollAnswerValue],
    note: str | None,
    now: datetime,
    bus: EventBus,
) -> PollResponse:
    """Save a party's answers (replacing earlier ones) and their note; emit PartyReplied."""
    if access.poll.closed_at is not None or access.case.status not in OPEN_CASE_STATUSES:
        raise InvalidState("this poll has closed; we will be in touch")
    offered = set(poll_candidates(access.poll))
    strangers = [start for start in answers if start not in offered]
    if strangers:
        raise ValidationFailed("an answer was given for a time this poll does not offer")
    note = (note or "").strip()[:2000] or None
    if not answers and note is None:
        raise NothingAnswered("choose an answer for at least one time, or tell us when you can")
    poll, party = access.poll, access.party
    await session.execute(
        delete(PollAnswer).where(
            col(PollAnswer.poll_id) == poll.id, col(PollAnswer.party_id) == party.id
        )
    )
    for start, value in sorted(answers.items()):
        session.add(
            PollAnswer(
                poll_id=poll.id,
                party_id=party.id,
                candidate_start=start,
                answer=value,
                updated_at=now,
            )
        )
    response = access.response
    first_time = response is None or response.answered_at is None
    if response is None:
        response = PollResponse(poll_id=poll.id, party_id=party.id)
        session.add(response)
    response.answered_at = now
    response.note = note
    access.link.last_used_at = now
    counts = {v: sum(1 for a in answers.values() if a is v) for v in PollAnswerValue}
    add_timeline(
        session,
        case_id=poll.case_id,
        party_id=party.id,
        kind="poll.answered" if first_time else "poll.changed",
        summary=(
            f"A party ({party.role.value}) {'answered' if first_time else 'changed'} the poll: "
            f"{counts[PollAnswerValue.yes]} yes, {counts[PollAnswerValue.if_need_be]} if need be, "
            f"{counts[PollAnswerValue.no]} no" + ("; left a note" if note else "")
        ),
        at=now,
        actor=f"party:{party.id}",
        details={"poll_id": str(poll.id)},
    )
    await session.flush()
    await bus.emit(
        session,
        PartyReplied(
            case_id=poll.case_id,
            at=now,
            party_id=party.id,
            answer=POLL_ANSWERED,
            poll_id=poll.id,
        ),
    )
    return response
