"""Book a meeting in one transaction, without ever double-booking a mediator or a venue.

Booking is one transaction: the conflict check (``conflicts``), the Meeting, its joint
Room, one Invitation per reachable party, a personal join Link per party and one for the
mediator, a PIN per person when people dial in (the phone bridge, Jitsi's dial-in), the
``provider_call`` outbox row that creates the video room after commit, the timeline, and
``MeetingBooked`` for the capabilities that send invites and reminders. Nothing here waits
on a remote system. Moving a meeting repeats the invitations, links and room call.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from calendars.invite_spec import uid_for_meeting
from calendars.workdays import WorkingDays
from orchestrator.cases import lifecycle, links, timeline
from orchestrator.core.errors import InvalidState, ValidationFailed
from orchestrator.core.events import EventBus, MeetingBooked
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
    in_words,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.meeting import provider_queue, rooms, transitions
from orchestrator.scheduling import booking_rules, conflicts, joining, lookups, pins

VIDEO_MODES = (MeetingMode.video, MeetingMode.hybrid)
PHONE_MODES = (MeetingMode.phone, MeetingMode.hybrid)
# A mediation is held within weeks of the go-ahead; a start further off than this is a
# typing mistake (and years ahead would overflow the calendar arithmetic).
MAX_BOOKING_AHEAD = timedelta(days=366)


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


def domain_of(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def check_start(start: datetime, now: datetime) -> None:
    """Refuse a start without an offset, in the past, or more than a year ahead."""
    if start.tzinfo is None:
        raise ValidationFailed("start must carry a time zone offset")
    if start < now:
        raise ValidationFailed("start is in the past")
    if start - now > MAX_BOOKING_AHEAD:
        raise ValidationFailed(
            "start is more than a year ahead; check the date", details={"field": "start"}
        )


# ---------------------------------------------------------------------------- people


async def _ensure_invitations(
    session: AsyncSession, *, meeting: Meeting, parties: Sequence[Party], now: datetime
) -> None:
    """One Invitation per reachable party; a PIN each when people dial in with their own."""
    existing = {inv.party_id: inv for inv in await lookups.invitations(session, meeting.id)}
    reachable = [p for p in parties if (p.email or p.phone) and p.id not in existing]
    chosen: list[str | None] = [None] * len(reachable)
    if joining.has_own_pins(meeting) and reachable:
        chosen = list(await pins.unique_pins(session, len(reachable), now))
    for party, pin in zip(reachable, chosen, strict=True):
        session.add(Invitation(meeting_id=meeting.id, party_id=party.id, phone_pin=pin))
    await session.flush()


async def _issue_join_links(
    session: AsyncSession,
    *,
    meeting: Meeting,
    parties: Sequence[Party],
    settings: Settings,
    now: datetime,
) -> list[Link]:
    """A join link per party and one for the mediator, alive until the join window closes."""
    holders: list[tuple[uuid.UUID | None, uuid.UUID | None]] = [(p.id, None) for p in parties]
    if meeting.mediator_id is not None:
        holders.append((None, meeting.mediator_id))
    expires = joining.join_closes_at(meeting, settings)
    issued = [
        await links.issue(
            session,
            case_id=meeting.case_id,
            scope=LinkScope.join_room,
            now=now,
            expires_at=expires,
            party_id=party_id,
            mediator_id=mediator_id,
            meeting=meeting,
            flush=False,
        )
        for party_id, mediator_id in holders
    ]
    await session.flush()  # every link in one INSERT
    return issued


async def invite_and_link(
    session: AsyncSession,
    *,
    meeting: Meeting,
    parties: Sequence[Party],
    settings: Settings,
    now: datetime,
    room: Room | None = None,
) -> None:
    """Invite each reachable party, issue everyone's join link for this sequence, and queue
    the video room's making (``room``, else the meeting's main room)."""
    await _ensure_invitations(session, meeting=meeting, parties=parties, now=now)
    await _issue_join_links(session, meeting=meeting, parties=parties, settings=settings, now=now)
    if meeting.mode in VIDEO_MODES:
        await session.flush()
        if room is None:
            room = await rooms.main_room(session, meeting.id)
        await provider_queue.queue_provider_call(
            session,
            meeting=meeting,
            action="create_room",
            key=f"{room.id}:{meeting.sequence}",
            now=now,
            room_id=str(room.id),
            provider=meeting.provider,
            sequence=meeting.sequence,
        )


def record_on_timeline(
    session: AsyncSession,
    *,
    meeting: Meeting,
    kind: str,
    summary: str,
    rules: booking_rules.RuleCheck,
    now: datetime,
    actor: str | None,
    actor_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Put a booking or a move on the case timeline, and any waiver of the rules with it."""
    add_timeline(
        session,
        case_id=meeting.case_id,
        meeting_id=meeting.id,
        kind=kind,
        summary=summary,
        at=now,
        actor=actor,
        details=details,
    )
    booking_rules.record_waiver(
        session, meeting=meeting, check=rules, now=now, actor=actor, actor_id=actor_id
    )


# ---------------------------------------------------------------------------- booking


async def _bookable_mediator(
    session: AsyncSession,
    *,
    case: Case,
    start: datetime,
    mode: MeetingMode,
    venue: Venue | None,
    now: datetime,
) -> Mediator:
    """The case's mediator, once the case, the start and the venue allow a booking."""
    if case.status in lifecycle.CLOSED_STATUSES:
        # Final (lifecycle): a family that comes back is a new referral, a new case.
        raise InvalidState(f"the case is {in_words(case.status)}; a meeting cannot be booked")
    if case.mediator_id is None:
        raise ValidationFailed("assign a mediator to the case before booking")
    check_start(start, now)
    if mode is MeetingMode.in_person and venue is None:
        raise ValidationFailed("an in-person meeting needs a venue", details={"field": "venue"})
    mediator = await session.get(Mediator, case.mediator_id)
    if mediator is None or not mediator.active:
        raise ValidationFailed("the case's mediator is no longer active")
    return mediator


def _uses_bridge(mode: MeetingMode, settings: Settings) -> bool:
    """True when people join by phone through the configured phone bridge."""
    return mode in PHONE_MODES and bool(settings.phone_bridge)


def _provider_name(mode: MeetingMode, provider: str | None, settings: Settings) -> str | None:
    """The video provider asked for (else the configured one), or the phone bridge alone."""
    if mode in VIDEO_MODES:
        return provider or settings.video_provider
    return settings.phone_bridge if _uses_bridge(mode, settings) else None


async def _choose_pins(
    session: AsyncSession, *, meeting: Meeting, settings: Settings, now: datetime
) -> None:
    """The mediator's own PIN where people dial in with their own; BBB's room PIN.

    A video meeting has a phone way in too when there is a bridge: its line reaches the
    video room (``meeting.phone_lines``), except on Jitsi, which has its own dial-in."""
    bridge = _uses_bridge(meeting.mode, settings) or (
        meeting.mode is MeetingMode.video
        and meeting.provider != "jitsi"
        and bool(settings.phone_bridge)
    )
    if bridge or (meeting.provider == "jitsi" and settings.jitsi_dial_in_number):
        # A PIN per person (the mediator's here, the parties' on their invitations): the
        # bridge and Jitsi's dial-in mapper know who dialled, and one PIN can be revoked.
        meeting.mediator_pin = (await pins.unique_pins(session, 1, now))[0]
    if meeting.provider == "bbb":  # BigBlueButton's voice bridge: five digits, 10000-99999
        meeting.dial_in_pin = (await pins.unique_pins(session, 1, now, digits=5))[0]


async def _insert_booking(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator,
    start: datetime,
    end: datetime,
    mode: MeetingMode,
    provider: str | None,
    venue: Venue | None,
    parties: Sequence[Party],
    settings: Settings,
    now: datetime,
) -> Meeting:
    """Insert the meeting (Conflict if the database sees an overlap) and its joint room,
    invite and link everyone, and queue the video room."""
    meeting_id = uuid.uuid4()
    meeting = Meeting(
        id=meeting_id,
        case_id=case.id,
        mediator_id=mediator.id,
        start_at=start,
        end_at=end,
        mode=mode,
        status=MeetingStatus.scheduled,
        provider=_provider_name(mode, provider, settings),
        venue=venue.as_dict() if venue is not None else None,
        venue_key=venue.key if venue is not None else None,
        ical_uid=uid_for_meeting(str(meeting_id), domain_of(settings.base_url)),
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    await _choose_pins(session, meeting=meeting, settings=settings, now=now)
    async with conflicts.exclusion_guard(session):
        session.add(meeting)
    room = Room(meeting_id=meeting.id, kind="main", label="Joint room", room_key=meeting.room_key)
    session.add(room)
    await transitions.record_transition(
        session, meeting=meeting, to=MeetingStatus.scheduled, source="booking", now=now
    )
    await invite_and_link(
        session, meeting=meeting, parties=parties, settings=settings, now=now, room=room
    )
    return meeting


async def _record_booked(
    session: AsyncSession,
    *,
    case: Case,
    meeting: Meeting,
    rules: booking_rules.RuleCheck,
    now: datetime,
    actor: str | None,
    actor_id: uuid.UUID | None,
) -> None:
    """Move the case to booked where its lifecycle allows; timeline (and any waiver) say so."""
    await lifecycle.move_case_if_allowed(
        session,
        case=case,
        to=CaseStatus.booked,
        cause=CaseStatusCause.meeting_booked,
        actor=actor,
        now=now,
    )
    record_on_timeline(
        session,
        meeting=meeting,
        kind="meeting.booked",
        summary="Meeting booked for "
        + timeline.meeting_words(meeting.start_at, meeting.mode, zone=case.timezone, said_at=now),
        details=timeline.meeting_facts(meeting.start_at, meeting.mode),
        rules=rules,
        now=now,
        actor=actor,
        actor_id=actor_id,
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
    check_provider: Callable[[str], None] | None = None,
) -> Meeting:
    """Book the meeting, its room, links and invitations in one transaction; emit MeetingBooked.

    A time that breaks the rules the slot search applies is refused (RulesBroken) unless
    ``waiver`` says why they are waived; the waiver goes on the timeline and the audit trail.
    A video or hybrid meeting needs a provider ``check_provider`` accepts (ValidationFailed).
    """
    if check_provider is not None and mode in VIDEO_MODES:
        check_provider(provider or settings.video_provider)
    mediator = await _bookable_mediator(
        session, case=case, start=start, mode=mode, venue=venue, now=now
    )
    end = start + timedelta(minutes=duration_minutes)
    rules = await booking_rules.clear_time(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=end,
        venue_key=venue.key if venue is not None else None,
        now=now,
        workdays=workdays,
        waiver=waiver,
    )
    meeting = await _insert_booking(
        session,
        case=case,
        mediator=mediator,
        start=start,
        end=end,
        mode=mode,
        provider=provider,
        venue=venue,
        parties=rules.parties,
        settings=settings,
        now=now,
    )
    await _record_booked(
        session, case=case, meeting=meeting, rules=rules, now=now, actor=actor, actor_id=actor_id
    )
    await session.flush()
    await bus.emit(session, MeetingBooked(case_id=case.id, at=now, meeting_id=meeting.id))
    return meeting
