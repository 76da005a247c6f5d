"""Book, move and cancel meetings without ever double-booking a mediator or a venue.

Booking is one transaction: the conflict check (a per-mediator lock on PostgreSQL, the
write lock on SQLite, and the exclusion constraints underneath), the Meeting, its joint
Room, one Invitation per reachable party, a personal join Link per party and one for the
mediator, a PIN per person when people dial in (the phone bridge, Jitsi's dial-in), the
``provider_call`` outbox
row that creates the video room after commit, the timeline, and ``MeetingBooked`` for the
capabilities that send invites and reminders. Nothing here waits on a remote system.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.allowed import RuleBreak, rule_breaks
from calendars.intervals import Interval
from calendars.invite_spec import uid_for_meeting
from calendars.rules import MediatorRules
from calendars.slots import Answer, candidate_starts
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, links
from orchestrator.core.errors import Conflict, InvalidState, NotFound, RulesBroken, ValidationFailed
from orchestrator.core.events import EventBus, MeetingBooked, MeetingCancelled, MeetingRescheduled
from orchestrator.core.models import (
    Case,
    CaseStatus,
    CaseStatusCause,
    Invitation,
    Link,
    LinkScope,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Party,
    Room,
)
from orchestrator.core.records import add_audit, add_timeline
from orchestrator.core.settings import Settings
from orchestrator.meeting import provider_queue, rooms, transitions
from orchestrator.scheduling import search_inputs

# Meetings whose PINs and times are still in play.
LIVE_STATUSES = (MeetingStatus.scheduled, MeetingStatus.in_session, MeetingStatus.paused)
ALTERNATIVES = 5
ALTERNATIVES_WINDOW = timedelta(days=28)
PHONE_PIN_DIGITS = 6


@dataclass(frozen=True)
class Venue:
    """Where an in-person meeting happens."""

    name: str | None
    address: str
    access_notes: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "access_notes": self.access_notes}

    @property
    def key(self) -> str:
        """A stable key for "the same place" (the address, normalised, then hashed)."""
        normal = " ".join(self.address.lower().replace(",", " ").split())
        return hashlib.sha256(normal.encode()).hexdigest()[:40]


# ---------------------------------------------------------------------------- windows


def join_opens_at(meeting: Meeting, settings: Settings) -> datetime:
    return meeting.start_at - timedelta(minutes=settings.join_opens_minutes)


def join_closes_at(meeting: Meeting, settings: Settings) -> datetime:
    return meeting.end_at + timedelta(minutes=settings.join_grace_minutes)


def has_own_pins(meeting: Meeting) -> bool:
    """True when each person dials in with a PIN of their own (the mediator's among them)."""
    return meeting.mediator_pin is not None


def uses_phone_bridge(meeting: Meeting) -> bool:
    """True when people join this meeting by dialling the bridge and keying their own PIN."""
    return has_own_pins(meeting) and meeting.mode in (MeetingMode.phone, MeetingMode.hybrid)


def uses_jitsi_dial_in(meeting: Meeting, settings: Settings) -> bool:
    """True when people dial into this meeting's Jitsi room with their own PIN (Jigasi)."""
    return (
        has_own_pins(meeting)
        and meeting.provider == "jitsi"
        and bool(settings.jitsi_dial_in_number)
    )


@dataclass(frozen=True)
class DialIn:
    """The number a person calls and the PIN they key."""

    number: str
    pin: str
    own: bool  # their own PIN; False: the room's, which everyone in the meeting keys


def dial_in(meeting: Meeting, settings: Settings, *, own_pin: str | None) -> DialIn | None:
    """How this person joins by phone: their own PIN where the meeting gives each person
    one (the phone bridge, Jitsi's dial-in), else the PIN of the provider's room."""
    if own_pin:
        if uses_phone_bridge(meeting) and settings.phone_dial_in_number:
            return DialIn(settings.phone_dial_in_number, own_pin, own=True)
        if uses_jitsi_dial_in(meeting, settings):
            return DialIn(str(settings.jitsi_dial_in_number), own_pin, own=True)
    if meeting.dial_in_pin:
        stored = (meeting.provider_room or {}).get("dial_in_number")
        number = stored or (settings.jitsi_dial_in_number if meeting.provider == "jitsi" else None)
        if number:
            return DialIn(str(number), meeting.dial_in_pin, own=False)
    return None


def dial_in_for(
    meeting: Meeting, settings: Settings, *, invitation: Invitation | None, mediator: bool
) -> DialIn | None:
    """How one person joins by phone: the one rule for their invite, its calendar event and
    their join page. The mediator keys the meeting's mediator PIN, a party the PIN of their
    invitation; ``dial_in`` then picks the number (and the room's PIN where they have none)."""
    own_pin = meeting.mediator_pin if mediator else invitation.phone_pin if invitation else None
    return dial_in(meeting, settings, own_pin=own_pin)


def domain_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


# ---------------------------------------------------------------------------- reads


async def get_meeting(session: AsyncSession, meeting_id: uuid.UUID) -> Meeting:
    """The meeting with this id; NotFound when there is none."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("meeting", meeting_id)
    return meeting


async def list_meetings(session: AsyncSession, *, case_id: uuid.UUID) -> list[Meeting]:
    query = select(Meeting).where(col(Meeting.case_id) == case_id).order_by(col(Meeting.start_at))
    return list((await session.scalars(query)).all())


async def meetings_of_mediators(
    session: AsyncSession, *, mediator_ids: set[uuid.UUID] | None
) -> list[tuple[Meeting, Case]]:
    """Meetings not cancelled, with their cases, soonest first: of these mediators (None: all)."""
    query = select(Meeting, Case).join(Case, col(Case.id) == col(Meeting.case_id))
    if mediator_ids is not None:
        query = query.where(col(Meeting.mediator_id).in_(mediator_ids or {uuid.uuid4()}))
    query = query.where(col(Meeting.status) != MeetingStatus.cancelled).order_by(
        col(Meeting.start_at)
    )
    return [(meeting, case) for meeting, case in (await session.execute(query)).all()]


async def current_join_links(session: AsyncSession, meeting: Meeting) -> list[Link]:
    """The live join links of the meeting's current sequence (parties and mediator)."""
    query = (
        select(Link)
        .where(
            col(Link.meeting_id) == meeting.id,
            col(Link.scope) == LinkScope.join_room,
            col(Link.revoked_at).is_(None),
            col(Link.meeting_sequence) == meeting.sequence,
        )
        .order_by(col(Link.created_at))
    )
    return list((await session.scalars(query)).all())


async def invitations(session: AsyncSession, meeting_id: uuid.UUID) -> list[Invitation]:
    query = select(Invitation).where(col(Invitation.meeting_id) == meeting_id)
    return list((await session.scalars(query)).all())


async def party_invitation(
    session: AsyncSession, *, meeting_id: uuid.UUID, party_id: uuid.UUID
) -> Invitation | None:
    """The party's invitation to the meeting, if they have one."""
    return await session.scalar(
        select(Invitation).where(
            col(Invitation.meeting_id) == meeting_id, col(Invitation.party_id) == party_id
        )
    )


async def join_details(
    session: AsyncSession, *, meeting: Meeting, party: Party | None
) -> tuple[Case, Mediator | None, Invitation | None]:
    """What a join page shows besides the meeting: its case, mediator and the party's invite."""
    case = await session.get(Case, meeting.case_id)
    if case is None:
        raise NotFound("case", meeting.case_id)
    mediator = await session.get(Mediator, meeting.mediator_id) if meeting.mediator_id else None
    invitation = None
    if party is not None:
        invitation = await party_invitation(session, meeting_id=meeting.id, party_id=party.id)
    return case, mediator, invitation


# ---------------------------------------------------------------------------- conflicts


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


async def _lock_calendars(session: AsyncSession, *keys: str) -> None:
    """Serialise bookings of one mediator (and venue) across replicas until commit.

    SQLite needs nothing: the writer transaction began with BEGIN IMMEDIATE and holds the
    database's only write lock already.
    """
    if not _is_postgres(session):
        return
    for key in sorted(set(keys)):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def _bookings(
    session: AsyncSession,
    holder: ColumnElement[bool],
    start: datetime,
    end: datetime,
    exclude: uuid.UUID | None,
) -> list[Interval]:
    """Live meetings of one mediator or venue (``holder``) overlapping [start, end)."""
    query = select(Meeting.start_at, Meeting.end_at).where(
        holder,
        col(Meeting.status) != MeetingStatus.cancelled,
        col(Meeting.start_at) < end,
        col(Meeting.end_at) > start,
    )
    if exclude is not None:
        query = query.where(col(Meeting.id) != exclude)
    rows = (await session.execute(query)).all()
    return [Interval(s, e) for s, e in rows]


async def _mediator_bookings(
    session: AsyncSession,
    mediator_id: uuid.UUID,
    start: datetime,
    end: datetime,
    exclude: uuid.UUID | None,
) -> list[Interval]:
    return await _bookings(session, col(Meeting.mediator_id) == mediator_id, start, end, exclude)


async def _venue_bookings(
    session: AsyncSession,
    venue_key: str,
    start: datetime,
    end: datetime,
    exclude: uuid.UUID | None,
) -> list[Interval]:
    return await _bookings(session, col(Meeting.venue_key) == venue_key, start, end, exclude)


async def check_free(
    session: AsyncSession,
    *,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    exclude: uuid.UUID | None = None,
    notice_working_days: int | None = None,
) -> None:
    """Raise Conflict, with the next free times, if the slot clashes or breaks capacity."""
    buffer = timedelta(minutes=mediator.buffer_minutes)
    local_day = start.astimezone(zone).date()
    day_start = datetime.combine(local_day, time(0), tzinfo=zone)
    day_end = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
    around = await _mediator_bookings(
        session,
        mediator.id,
        min(start - buffer, day_start),
        max(end + buffer, day_end),
        exclude,
    )
    reasons: list[str] = []
    slot = Interval(start - buffer, end + buffer)
    if any(booking.overlaps(slot) for booking in around):
        reasons.append("mediator_busy")
    same_day = [b for b in around if b.start.astimezone(zone).date() == local_day]
    if len(same_day) >= mediator.max_sessions_per_day:
        reasons.append("mediator_full")
    venue_busy: list[Interval] = []
    if venue_key is not None:
        venue_busy = await _venue_bookings(session, venue_key, start, end, exclude)
        if venue_busy:
            reasons.append("venue_busy")
    if not reasons:
        return
    alternatives = await next_free_slots(
        session,
        mediator=mediator,
        after=max(start, now),
        duration=end - start,
        zone=zone,
        venue_key=venue_key,
        now=now,
        workdays=workdays,
        exclude=exclude,
        notice_working_days=notice_working_days,
    )
    message = {
        "mediator_busy": "the mediator is already booked then (allowing their buffer)",
        "mediator_full": "the mediator already has their most sessions that day",
        "venue_busy": "the venue is already booked then",
    }[reasons[0]]
    raise Conflict(
        message,
        details={
            "reasons": reasons,
            "alternatives": [
                {
                    "start": s.isoformat().replace("+00:00", "Z"),
                    "end": e.isoformat().replace("+00:00", "Z"),
                }
                for s, e in alternatives
            ],
        },
    )


async def next_free_slots(
    session: AsyncSession,
    *,
    mediator: Mediator,
    after: datetime,
    duration: timedelta,
    zone: ZoneInfo,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    exclude: uuid.UUID | None = None,
    limit: int = ALTERNATIVES,
    notice_working_days: int | None = None,
) -> list[tuple[datetime, datetime]]:
    """The mediator's next free times of ``duration`` after ``after`` that keep every rule."""
    window_end = after + ALTERNATIVES_WINDOW
    bookings = await _mediator_bookings(
        session, mediator.id, after - timedelta(days=1), window_end + timedelta(days=1), exclude
    )
    busy: list[Interval] = []
    if venue_key is not None:
        busy = await _venue_bookings(session, venue_key, after, window_end, exclude)
    starts = candidate_starts(
        Interval(after, window_end),
        duration,
        search_inputs.scheduling_rules(zone.key, workdays, notice_working_days=notice_working_days),
        MediatorRules(
            working_hours=search_inputs.working_hours(mediator.working_hours),
            max_sessions_per_day=mediator.max_sessions_per_day,
            buffer_minutes=mediator.buffer_minutes,
            bookings=bookings,
            busy=busy,
        ),
        now,
        step_minutes=30,
    )
    return [(s, s + duration) for s in starts[:limit]]


async def _insert_meeting(session: AsyncSession, meeting: Meeting) -> None:
    """Insert in a savepoint so the exclusion constraint's refusal leaves the transaction usable."""
    try:
        async with session.begin_nested():
            session.add(meeting)
    except IntegrityError as exc:
        raise Conflict(
            "the mediator or venue is already booked then",
            details={"reasons": ["overlap"], "alternatives": []},
        ) from exc


async def _flush_moved(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "the mediator or venue is already booked then",
            details={"reasons": ["overlap"], "alternatives": []},
        ) from exc


# ---------------------------------------------------------------------------- PINs


async def _taken_pins(session: AsyncSession, candidates: Iterable[str], now: datetime) -> set[str]:
    """The candidate PINs already held by a meeting that has not finished."""
    wanted = list(candidates)
    live = col(Meeting.status).in_(LIVE_STATUSES)
    recent = col(Meeting.end_at) > now - timedelta(days=1)
    party_pins = await session.scalars(
        select(Invitation.phone_pin)
        .join(Meeting, col(Meeting.id) == col(Invitation.meeting_id))
        .where(col(Invitation.phone_pin).in_(wanted), live, recent)
    )
    mediator_pins = await session.scalars(
        select(Meeting.mediator_pin).where(col(Meeting.mediator_pin).in_(wanted), live, recent)
    )
    room_pins = await session.scalars(
        select(Meeting.dial_in_pin).where(col(Meeting.dial_in_pin).in_(wanted), live, recent)
    )
    return {p for p in [*party_pins, *mediator_pins, *room_pins] if p}


async def replace_pins(
    session: AsyncSession, *, party_id: uuid.UUID, now: datetime, removed: bool
) -> int:
    """Revoke a party's own PINs for every live meeting: a new one each (none once removed).

    The old PIN stops opening the meeting at once; the new one reaches the party only in a
    new invitation. Returns how many were replaced.
    """
    rows = (
        await session.scalars(
            select(Invitation)
            .join(Meeting, col(Meeting.id) == col(Invitation.meeting_id))
            .where(
                col(Invitation.party_id) == party_id,
                col(Invitation.phone_pin).is_not(None),
                col(Meeting.status).in_(LIVE_STATUSES),
            )
        )
    ).all()
    fresh = [None] * len(rows) if removed else await unique_pins(session, len(rows), now)
    for invitation, pin in zip(rows, fresh, strict=True):
        invitation.phone_pin = pin
    await session.flush()
    return len(rows)


async def replace_room_pin(session: AsyncSession, *, meeting: Meeting, now: datetime) -> None:
    """A moved room's shared PIN: a new one where we choose it, else the new room's own."""
    if meeting.dial_in_pin is None:
        return
    if meeting.provider == "bbb":  # a voice bridge we chose: five digits again
        meeting.dial_in_pin = (await unique_pins(session, 1, now, digits=5))[0]
    else:  # the provider's meeting number: the new room brings its own
        meeting.dial_in_pin = None


async def unique_pins(
    session: AsyncSession, count: int, now: datetime, *, digits: int = PHONE_PIN_DIGITS
) -> list[str]:
    """``count`` random PINs no live meeting is using (no leading zero)."""
    low, high = 10 ** (digits - 1), 10**digits
    chosen: list[str] = []
    while len(chosen) < count:
        batch = {str(low + secrets.randbelow(high - low)) for _ in range(count - len(chosen))}
        batch -= set(chosen)
        taken = await _taken_pins(session, batch, now)
        chosen.extend(sorted(batch - taken))
    return chosen[:count]


# ---------------------------------------------------------------------------- rules


def broken_rules(
    *,
    case: Case,
    mediator: Mediator | None,
    parties: Sequence[Party],
    start: datetime,
    end: datetime,
    now: datetime,
    workdays: WorkingDays,
    answers: Mapping[uuid.UUID, Mapping[datetime, Answer]] | None = None,
) -> list[RuleBreak]:
    """The rules ``/slots`` applies that this time breaks for the case (empty if none),
    a required party's poll "no" to this very start among them."""
    answers = answers or {}
    return rule_breaks(
        start,
        end,
        rules=search_inputs.scheduling_rules(case.timezone, workdays),
        hours=search_inputs.working_hours(mediator.working_hours if mediator else None),
        parties=[
            search_inputs.party_availability(party, answers=answers.get(party.id))
            for party in parties
        ],
        now=now,
    )


async def breaks_for(
    session: AsyncSession,
    *,
    case: Case,
    start: datetime,
    duration_minutes: int,
    now: datetime,
    workdays: WorkingDays,
) -> list[RuleBreak]:
    """The rules booking this case at ``start`` would break, e.g. to show before booking."""
    mediator = await session.get(Mediator, case.mediator_id) if case.mediator_id else None
    _, breaks = await _parties_and_breaks(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=start + timedelta(minutes=duration_minutes),
        now=now,
        workdays=workdays,
    )
    return breaks


async def _parties_and_breaks(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator | None,
    start: datetime,
    end: datetime,
    now: datetime,
    workdays: WorkingDays,
) -> tuple[list[Party], list[RuleBreak]]:
    """The case's parties, and the rules a meeting from ``start`` to ``end`` breaks for them."""
    parties, answers = await search_inputs.parties_and_answers(session, case_id=case.id)
    breaks = broken_rules(
        case=case,
        mediator=mediator,
        parties=parties,
        answers=answers,
        start=start,
        end=end,
        now=now,
        workdays=workdays,
    )
    return parties, breaks


def _sentence(breaks: Sequence[RuleBreak]) -> str:
    return "; ".join(b.message for b in breaks)


def _enforce_rules(breaks: Sequence[RuleBreak], waiver: str | None) -> str | None:
    """Refuse a time that breaks a rule unless waived with a reason; return the reason used."""
    reason = waiver.strip() if waiver is not None else None
    if waiver is not None and not reason:
        raise ValidationFailed("say why the rules are waived for this meeting")
    if breaks and reason is None:
        raise RulesBroken(
            f"that time breaks the scheduling rules: {_sentence(breaks)}. To book it anyway, "
            "waive the rules and say why (for example, the family agreed to shorter notice)",
            details={
                "rules": [
                    {"rule": b.rule, "message": b.message, "party_id": b.party_id} for b in breaks
                ],
                "waivable": True,
            },
        )
    return reason if breaks else None


def _record_waiver(
    session: AsyncSession,
    *,
    meeting: Meeting,
    breaks: Sequence[RuleBreak],
    reason: str,
    now: datetime,
    actor: str | None,
    actor_id: uuid.UUID | None,
) -> None:
    """Put a waiver on the case timeline and the audit trail: which rules, and why."""
    titles = sorted({b.title for b in breaks})
    details = {
        "rules": [{"rule": b.rule, "party_id": b.party_id} for b in breaks],
        "reason": reason[:1000],
    }
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.rules_waived",
        summary=f"Scheduling rules waived ({', '.join(titles)}): {reason}",
        at=now,
        actor=actor,
        details=details,
    )
    add_audit(
        session,
        actor_id=actor_id,
        action="meeting.rules_waived",
        at=now,
        target_type="meeting",
        target_id=str(meeting.id),
        case_id=meeting.case_id,
        details=details,
    )


async def _claim_time(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    venue_key: str | None,
    now: datetime,
    workdays: WorkingDays,
    waived: str | None,
    exclude: uuid.UUID | None = None,
) -> None:
    """Lock the mediator's (and venue's) calendar, then refuse the time if it is taken.

    Under a waiver, the free times offered instead may fall inside the notice period.
    """
    await _lock_calendars(
        session, f"mediator:{mediator.id}", *([f"venue:{venue_key}"] if venue_key else [])
    )
    await check_free(
        session,
        mediator=mediator,
        start=start,
        end=end,
        zone=ZoneInfo(case.timezone),
        venue_key=venue_key,
        now=now,
        workdays=workdays,
        exclude=exclude,
        notice_working_days=0 if waived else None,
    )


# ---------------------------------------------------------------------------- booking


async def _issue_join_links(
    session: AsyncSession,
    *,
    meeting: Meeting,
    parties: Sequence[Party],
    settings: Settings,
    now: datetime,
) -> list[Link]:
    expires = join_closes_at(meeting, settings)
    issued = []
    for party in parties:
        issued.append(
            await links.issue(
                session,
                case_id=meeting.case_id,
                scope=LinkScope.join_room,
                now=now,
                expires_at=expires,
                party_id=party.id,
                meeting=meeting,
            )
        )
    if meeting.mediator_id is not None:
        issued.append(
            await links.issue(
                session,
                case_id=meeting.case_id,
                scope=LinkScope.join_room,
                now=now,
                expires_at=expires,
                mediator_id=meeting.mediator_id,
                meeting=meeting,
            )
        )
    return issued


async def _ensure_invitations(
    session: AsyncSession, *, meeting: Meeting, parties: Sequence[Party], now: datetime
) -> None:
    """One Invitation per reachable party; a PIN each when people dial in with their own."""
    existing = {inv.party_id: inv for inv in await invitations(session, meeting.id)}
    reachable = [p for p in parties if (p.email or p.phone) and p.id not in existing]
    pins: list[str | None] = [None] * len(reachable)
    if has_own_pins(meeting) and reachable:
        pins = list(await unique_pins(session, len(reachable), now))
    for party, pin in zip(reachable, pins, strict=True):
        session.add(Invitation(meeting_id=meeting.id, party_id=party.id, phone_pin=pin))
    await session.flush()


async def _queue_room(
    session: AsyncSession, *, meeting: Meeting, room: Room, now: datetime, action: str
) -> None:
    await provider_queue.queue_provider_call(
        session,
        meeting=meeting,
        action=action,
        key=f"{room.id}:{meeting.sequence}",
        now=now,
        room_id=str(room.id),
        provider=meeting.provider,
        sequence=meeting.sequence,
    )


def _describe(start: datetime, mode: MeetingMode) -> str:
    return f"{start.strftime('%Y-%m-%d %H:%M')} UTC ({mode.value.replace('_', ' ')})"


# A mediation is held within weeks of the go-ahead; a start further off than this is a
# typing mistake (and years ahead would overflow the calendar arithmetic).
MAX_BOOKING_AHEAD = timedelta(days=366)


def _check_start(start: datetime, now: datetime) -> None:
    """Refuse a start without an offset, in the past, or more than a year ahead."""
    if start.tzinfo is None:
        raise ValidationFailed("start must carry a time zone offset")
    if start < now:
        raise ValidationFailed("start is in the past")
    if start - now > MAX_BOOKING_AHEAD:
        raise ValidationFailed(
            "start is more than a year ahead; check the date", details={"field": "start"}
        )


async def book(
    session: AsyncSession,
    *,
    case: Case,
    start: datetime,
    duration_minutes: int,
    mode: MeetingMode,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    workdays: WorkingDays,
    provider: str | None = None,
    venue: Venue | None = None,
    actor: str | None = None,
    actor_id: uuid.UUID | None = None,
    waiver: str | None = None,
) -> Meeting:
    """Book the meeting, its room, links and invitations in one transaction; emit MeetingBooked.

    A time that breaks the rules the slot search applies is refused (RulesBroken) unless
    ``waiver`` says why they are waived; the waiver goes on the timeline and the audit trail.
    """
    if case.status in lifecycle.CLOSED_STATUSES:
        # Final (lifecycle): a family that comes back is a new referral, a new case.
        raise InvalidState(f"the case is {case.status.value}; a meeting cannot be booked")
    if case.mediator_id is None:
        raise ValidationFailed("assign a mediator to the case before booking")
    _check_start(start, now)
    if mode is MeetingMode.in_person and venue is None:
        raise ValidationFailed("an in-person meeting needs a venue")
    mediator = await session.get(Mediator, case.mediator_id)
    if mediator is None or not mediator.active:
        raise ValidationFailed("the case's mediator is no longer active")
    end = start + timedelta(minutes=duration_minutes)
    parties, breaks = await _parties_and_breaks(
        session, case=case, mediator=mediator, start=start, end=end, now=now, workdays=workdays
    )
    waived = _enforce_rules(breaks, waiver)
    venue_key = venue.key if venue is not None else None
    await _claim_time(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=end,
        venue_key=venue_key,
        now=now,
        workdays=workdays,
        waived=waived,
    )
    video = mode in (MeetingMode.video, MeetingMode.hybrid)
    bridge = mode in (MeetingMode.phone, MeetingMode.hybrid) and bool(settings.phone_bridge)
    provider_name = (provider or settings.video_provider) if video else None
    if bridge and not video:
        provider_name = settings.phone_bridge
    meeting_id = uuid.uuid4()
    meeting = Meeting(
        id=meeting_id,
        case_id=case.id,
        mediator_id=mediator.id,
        start_at=start,
        end_at=end,
        mode=mode,
        status=MeetingStatus.scheduled,
        provider=provider_name,
        venue=venue.as_dict() if venue is not None else None,
        venue_key=venue_key,
        ical_uid=uid_for_meeting(str(meeting_id), domain_of(settings.base_url)),
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    if bridge or (provider_name == "jitsi" and settings.jitsi_dial_in_number):
        # A PIN per person (the mediator's here, the parties' on their invitations): the
        # bridge and Jitsi's dial-in mapper know who dialled, and one PIN can be revoked.
        meeting.mediator_pin = (await unique_pins(session, 1, now))[0]
    if provider_name == "bbb":  # BigBlueButton's voice bridge: five digits, 10000-99999
        meeting.dial_in_pin = (await unique_pins(session, 1, now, digits=5))[0]
    await _insert_meeting(session, meeting)
    room = Room(meeting_id=meeting.id, kind="main", label="Joint room", room_key=meeting.room_key)
    session.add(room)
    await transitions.record_transition(
        session, meeting=meeting, to=MeetingStatus.scheduled, source="booking", now=now
    )
    await _ensure_invitations(session, meeting=meeting, parties=parties, now=now)
    await _issue_join_links(session, meeting=meeting, parties=parties, settings=settings, now=now)
    if video:
        await session.flush()
        await _queue_room(session, meeting=meeting, room=room, now=now, action="create_room")
    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.booked,
        cause=CaseStatusCause.meeting_booked,
        actor=actor,
        now=now,
    )
    add_timeline(
        session,
        case_id=case.id,
        meeting_id=meeting.id,
        kind="meeting.booked",
        summary=f"Meeting booked for {_describe(start, mode)}",
        at=now,
        actor=actor,
    )
    if waived:
        _record_waiver(
            session,
            meeting=meeting,
            breaks=breaks,
            reason=waived,
            now=now,
            actor=actor,
            actor_id=actor_id,
        )
    await session.flush()
    await bus.emit(session, MeetingBooked(case_id=case.id, at=now, meeting_id=meeting.id))
    return meeting


async def reschedule(
    session: AsyncSession,
    *,
    meeting: Meeting,
    start: datetime,
    duration_minutes: int,
    now: datetime,
    bus: EventBus,
    settings: Settings,
    workdays: WorkingDays,
    actor: str | None = None,
    actor_id: uuid.UUID | None = None,
    waiver: str | None = None,
) -> Meeting:
    """Move the meeting: new times, sequence + 1, old join links dead, new ones issued.

    The new time must keep the same rules as a booking, unless ``waiver`` says why not.
    """
    if meeting.status is not MeetingStatus.scheduled:
        raise InvalidState(f"a meeting that is {meeting.status.value} cannot be moved")
    _check_start(start, now)
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    end = start + timedelta(minutes=duration_minutes)
    mediator = await session.get(Mediator, meeting.mediator_id) if meeting.mediator_id else None
    parties, breaks = await _parties_and_breaks(
        session, case=case, mediator=mediator, start=start, end=end, now=now, workdays=workdays
    )
    waived = _enforce_rules(breaks, waiver)
    if mediator is not None:
        await _claim_time(
            session,
            case=case,
            mediator=mediator,
            start=start,
            end=end,
            venue_key=meeting.venue_key,
            now=now,
            workdays=workdays,
            waived=waived,
            exclude=meeting.id,
        )
    previous = meeting.start_at
    meeting.start_at = start
    meeting.end_at = end
    meeting.sequence += 1
    meeting.calendar_sequence += 1
    meeting.updated_at = now
    await _flush_moved(session)
    await links.revoke_for(session, meeting_id=meeting.id, scope=LinkScope.join_room, now=now)
    await _ensure_invitations(session, meeting=meeting, parties=parties, now=now)
    await _issue_join_links(session, meeting=meeting, parties=parties, settings=settings, now=now)
    if meeting.mode in (MeetingMode.video, MeetingMode.hybrid):
        main = await rooms.main_room(session, meeting.id)
        await _queue_room(session, meeting=meeting, room=main, now=now, action="create_room")
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.rescheduled",
        summary=f"Meeting moved to {_describe(start, meeting.mode)}",
        at=now,
        actor=actor,
        details={"previous_start": previous.isoformat()},
    )
    if waived:
        _record_waiver(
            session,
            meeting=meeting,
            breaks=breaks,
            reason=waived,
            now=now,
            actor=actor,
            actor_id=actor_id,
        )
    await session.flush()
    await bus.emit(
        session,
        MeetingRescheduled(
            case_id=meeting.case_id,
            at=now,
            meeting_id=meeting.id,
            previous_start=previous.isoformat(),
        ),
    )
    return meeting


async def cancel(
    session: AsyncSession,
    *,
    meeting: Meeting,
    reason: str,
    now: datetime,
    bus: EventBus,
    actor: str | None = None,
    actor_id: uuid.UUID | None = None,
    reason_on_timeline: bool = False,
) -> Meeting:
    """Cancel the meeting: its links die at once; emit MeetingCancelled.

    ``reason_on_timeline`` is for a reason in the service's own words ("School will not
    take part"): staff's free text stays on the meeting only, where retention clears it.
    """
    await transitions.transition(
        session,
        meeting=meeting,
        to=MeetingStatus.cancelled,
        source="booking",
        now=now,
        actor_id=actor_id,
    )
    meeting.cancel_reason = reason[:1000]
    meeting.calendar_sequence += 1  # the CANCEL everyone is sent
    await links.revoke_for(session, meeting_id=meeting.id, scope=LinkScope.join_room, now=now)
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    others = await session.scalar(
        select(Meeting.id).where(
            col(Meeting.case_id) == case.id,
            col(Meeting.id) != meeting.id,
            col(Meeting.status).in_(LIVE_STATUSES),
        )
    )
    if case.status is CaseStatus.booked and others is None:
        await lifecycle.move_case(
            session,
            case=case,
            to=CaseStatus.negotiating,
            cause=CaseStatusCause.meeting_cancelled,
            actor=actor,
            now=now,
        )
    summary = "Meeting cancelled"
    if reason_on_timeline:
        summary += f": {meeting.cancel_reason}"
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind="meeting.cancelled",
        summary=summary,
        at=now,
        actor=actor,
    )
    await session.flush()
    await bus.emit(
        session, MeetingCancelled(case_id=meeting.case_id, at=now, meeting_id=meeting.id)
    )
    return meeting
