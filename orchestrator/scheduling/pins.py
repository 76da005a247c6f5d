"""Choose and replace the PINs people key to dial into a meeting.

A PIN is unique among the meetings still in play, so the phone bridge (and Jitsi's dial-in
mapper) can tell from the PIN alone whose call it is, and one person's PIN can be revoked
without touching anyone else's.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.models import Invitation, Meeting
from orchestrator.scheduling import lookups

PHONE_PIN_DIGITS = 6


async def _taken_pins(session: AsyncSession, candidates: Iterable[str], now: datetime) -> set[str]:
    """The candidate PINs already held by a meeting that has not finished."""
    wanted = list(candidates)
    live = col(Meeting.status).in_(lookups.LIVE_STATUSES)
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
                col(Meeting.status).in_(lookups.LIVE_STATUSES),
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
