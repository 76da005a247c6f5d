"""Provider attendance signals into the attendance record, whichever way they arrive.

Join and leave facts reach us from providers in two ways: call-backs while the meeting
runs (Jitsi, BigBlueButton, Zoom, the phone bridge; see ``orchestrator.web.hooks.providers``) and
reports read after it (Teams, through the outbox; see ``orchestrator.meeting.provider_calls``).
Both end here as ``ParticipantEvent`` rows keyed by the provider's dedup key, so the same fact
delivered or read twice is counted once.

A provider's clock is not ours: its times are kept inside the meeting's join window (from
when joining opens to the end of the grace after the meeting), so a wrong clock can never
make someone present for longer than the meeting could hold them. A time far outside is
logged as clock skew, with the provider and the meeting, never the person.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from integrations.base import AttendanceSignal
from orchestrator.core.models import (
    Channel,
    Mediator,
    Meeting,
    MeetingStatus,
    ParticipantStatus,
    Party,
    Room,
)
from orchestrator.core.settings import Settings
from orchestrator.meeting import attendance, join_facts
from orchestrator.scheduling import joining

log = logging.getLogger(__name__)

# A provider's time this far outside the meeting's join window is logged as clock skew.
CLOCK_SKEW_LOGGED = timedelta(minutes=5)

_STATUS_FOR_KIND = {
    "waiting": ParticipantStatus.in_lobby,
    "admitted": ParticipantStatus.in_session,
    "left": ParticipantStatus.left,
}


async def _room_for(session: AsyncSession, signal: AttendanceSignal) -> Room | None:
    if signal.channel == "phone":
        query = select(Room).where(col(Room.room_key) == signal.room_id)
    else:
        query = select(Room).where(col(Room.provider_room_id) == signal.room_id.lower())
    return await session.scalar(query.limit(1))


async def record_signals(
    session: AsyncSession,
    signals: Sequence[AttendanceSignal],
    *,
    source: str,
    settings: Settings,
    call_id: str | None = None,
) -> int:
    """Store verified join/leave facts as participant events; return how many were new."""
    stored = 0
    for signal in signals:
        if signal.kind in ("room_started", "room_ended"):
            continue
        room = await _room_for(session, signal)
        if room is None:
            continue
        meeting = await session.get(Meeting, room.meeting_id)
        if meeting is None or meeting.status is MeetingStatus.cancelled:
            continue
        party_id: uuid.UUID | None = None
        mediator_id: uuid.UUID | None = None
        ref = signal.participant_ref
        if ref and meeting.mediator_id and ref == join_facts.mediator_ref(meeting.mediator_id):
            mediator_id = meeting.mediator_id
        elif ref:
            party_id = await session.scalar(
                select(Party.id).where(
                    col(Party.participant_ref) == ref, col(Party.case_id) == meeting.case_id
                )
            )
        if signal.kind == "joined":
            if room.kind == "caucus":
                status = ParticipantStatus.in_caucus
            elif (
                signal.channel == "phone"
                and mediator_id is None
                and meeting.status is MeetingStatus.scheduled
            ):
                status = ParticipantStatus.in_lobby  # waiting for the mediator to start
            else:
                status = ParticipantStatus.in_session
        else:
            status = _STATUS_FOR_KIND[signal.kind]
        new = await attendance.append(
            session,
            attendance.event_row(
                meeting_id=meeting.id,
                party_id=party_id,
                mediator_id=mediator_id,
                status=status,
                source=source,
                at=within_join_window(signal.at, meeting, settings, source=source),
                room_id=room.id,
                channel=Channel.phone if signal.channel == "phone" else Channel.video,
                dedup_key=signal.dedup_key,
                call_id=call_id if signal.channel == "phone" else None,
            ),
        )
        stored += int(new)
    return stored


def within_join_window(
    at: datetime, meeting: Meeting, settings: Settings, *, source: str
) -> datetime:
    """A provider's time, kept between when joining opens and when it closes."""
    opens = joining.join_opens_at(meeting, settings)
    closes = joining.join_closes_at(meeting, settings)
    kept = min(max(at, opens), closes)
    if abs(kept - at) > CLOCK_SKEW_LOGGED:
        log.warning(
            "clock skew: a %s time for meeting %s was %d s outside its join window; "
            "kept to the window",
            source,
            meeting.id,
            abs(kept - at).total_seconds(),
        )
    return kept


async def refs_by_email(session: AsyncSession, meeting: Meeting) -> dict[str, str]:
    """The participant ref of each e-mail address invited to ``meeting`` (lower-cased).

    A provider that hands everyone the same join URL (Teams) never sees our participant
    refs: the join identity it reports is the account a person signed in with. The only
    tie back to a party is the address their invitation went to; the mediator is known by
    their own. Guests who join anonymously report only a typed name, which we do not
    guess from: their facts stay unidentified.
    """
    refs: dict[str, str] = {}
    if meeting.mediator_id is not None:
        mediator = await session.get(Mediator, meeting.mediator_id)
        if mediator is not None and mediator.email:
            refs[mediator.email.lower()] = join_facts.mediator_ref(mediator.id)
    parties = await session.scalars(
        select(Party).where(
            col(Party.case_id) == meeting.case_id,
            col(Party.removed_at).is_(None),
            col(Party.email).is_not(None),
        )
    )
    for party in parties.all():
        if party.email:
            refs[party.email.lower()] = party.participant_ref
    return refs
