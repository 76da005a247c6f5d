"""The people on a case: adding, reading, correcting and removing them, and whether
each can be reached.

Taking someone off a case, or withdrawing their links, also moves every room they may
hold a URL for.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import links, timeline
from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import EventBus, PartyAdded, PartyRemoved
from orchestrator.core.models import (
    Case,
    Party,
    PartyCreate,
    PartyPublic,
    PartyRole,
    PartyUpdate,
)
from orchestrator.core.records import add_timeline
from orchestrator.meeting import room_access

# Supporters attend as OPT-PARTICIPANT unless the family wants them required (DOMAIN.md).
OPTIONAL_BY_DEFAULT = frozenset({PartyRole.sendiass, PartyRole.advocate, PartyRole.observer})

UNREACHABLE = (
    "a required person needs an email address, a phone number or a postal address, "
    "so they can be invited"
)


def must_be_invited(role: PartyRole, required: bool | None) -> bool:
    """Required people, and always the LA's decision-maker, are invited (DOMAIN.md)."""
    return bool(required) or role is PartyRole.la_officer


def cannot_reach(party: Party) -> bool:
    """Someone who must be invited but has no email address, phone number or postal address."""
    return must_be_invited(party.role, party.required) and not (
        party.email or party.phone or has_postal_address(party)
    )


def has_postal_address(party: Party) -> bool:
    """True when a letter can be addressed to this person: address lines and a postcode."""
    return bool(party.postal_address and party.postcode)


def _check_reachable(role: PartyRole, required: bool | None, *contacts: object) -> None:
    if must_be_invited(role, required) and not any(contacts):
        raise ValidationFailed(UNREACHABLE, details={"fields": ["email", "phone"]})


async def unreachable_parties(session: AsyncSession) -> dict[uuid.UUID, list[Party]]:
    """By case: current parties who must be invited but have no email and no phone."""
    no_email = or_(col(Party.email).is_(None), col(Party.email) == "")
    no_phone = or_(col(Party.phone).is_(None), col(Party.phone) == "")
    rows = await session.scalars(
        select(Party)
        .where(col(Party.removed_at).is_(None), no_email, no_phone)
        .order_by(col(Party.created_at))
    )
    found: dict[uuid.UUID, list[Party]] = {}
    for party in rows.all():
        if cannot_reach(party):
            found.setdefault(party.case_id, []).append(party)
    return found


def party_public(party: Party) -> PartyPublic:
    return PartyPublic(
        **party.model_dump(exclude={"calendar"}),
        has_calendar=bool(party.calendar),
    )


async def add_party(
    session: AsyncSession,
    *,
    case: Case,
    data: PartyCreate,
    now: datetime,
    bus: EventBus,
    actor: str | None,
) -> Party:
    """Add a person to the case; required unless a supporter (and not said otherwise)."""
    await _refuse_shared_email(session, case_id=case.id, email=data.email)
    required = data.required if data.required is not None else data.role not in OPTIONAL_BY_DEFAULT
    _check_reachable(
        data.role, required, data.email, data.phone, data.postal_address and data.postcode
    )
    party = Party(
        **data.model_dump(exclude={"required", "calendar", "rules"}),
        case_id=case.id,
        required=required,
        calendar=data.calendar.model_dump(exclude_none=True) if data.calendar else None,
        rules=data.rules.model_dump(mode="json", exclude_none=True) if data.rules else None,
        created_at=now,
    )
    session.add(party)
    await session.flush()
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="party.added",
        summary=f"Added {timeline.a_party(party.role, first=False)}",
        at=now,
        actor=actor,
    )
    await bus.emit(session, PartyAdded(case_id=case.id, at=now, party_id=party.id))
    return party


async def _refuse_shared_email(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    email: str | None,
    other_than: uuid.UUID | None = None,
) -> None:
    """One email address is one person on a case: a second party with it would get every
    invitation twice (a retried request is the usual way this happens)."""
    if not email:
        return
    query = select(Party.id).where(
        col(Party.case_id) == case_id,
        col(Party.removed_at).is_(None),
        func.lower(col(Party.email)) == email.lower(),
    )
    if other_than is not None:
        query = query.where(col(Party.id) != other_than)
    if await session.scalar(query.limit(1)) is not None:
        raise Conflict("another party on this case already has this email address")


async def get_party(session: AsyncSession, *, case_id: uuid.UUID, party_id: uuid.UUID) -> Party:
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case_id or party.removed_at is not None:
        raise NotFound("party", party_id)
    return party


async def list_parties(session: AsyncSession, *, case_id: uuid.UUID) -> list[Party]:
    query = (
        select(Party)
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at))
    )
    return list((await session.scalars(query)).all())


async def update_party(
    session: AsyncSession, *, party: Party, data: PartyUpdate, now: datetime, actor: str | None
) -> Party:
    changes = data.model_dump(exclude_unset=True)
    if changes.keys() & {"email", "phone", "required", "postal_address", "postcode"}:
        _check_reachable(
            party.role,
            changes.get("required", party.required),
            changes.get("email", party.email),
            changes.get("phone", party.phone),
            changes.get("postal_address", party.postal_address)
            and changes.get("postcode", party.postcode),
        )
    if changes.get("email"):
        await _refuse_shared_email(
            session, case_id=party.case_id, email=changes["email"], other_than=party.id
        )
    for key, value in changes.items():
        if key == "calendar":
            value = data.calendar.model_dump(exclude_none=True) if data.calendar else None
        elif key == "rules":
            value = data.rules.model_dump(mode="json", exclude_none=True) if data.rules else None
        setattr(party, key, value)
    if changes:
        add_timeline(
            session,
            case_id=party.case_id,
            party_id=party.id,
            kind="party.updated",
            summary="Party details changed: " + timeline.field_words(list(changes)),
            at=now,
            actor=actor,
        )
    await session.flush()
    return party


async def remove_party(
    session: AsyncSession, *, party: Party, now: datetime, bus: EventBus, actor: str | None
) -> None:
    """Take a person off the case; every link they hold dies with it, and every room they
    may hold a URL for moves."""
    party.removed_at = now
    await _withdraw_access(
        session,
        party=party,
        now=now,
        actor=actor,
        kind="party.removed",
        summary=f"Removed {timeline.a_party(party.role, first=False)}",
    )
    await bus.emit(session, PartyRemoved(case_id=party.case_id, at=now, party_id=party.id))


async def revoke_party_links(
    session: AsyncSession, *, party: Party, now: datetime, actor: str | None
) -> None:
    """Withdraw every link a party holds (a lost phone, a forwarded email), and what they
    let in: the rooms they may hold a URL for move."""
    await _withdraw_access(
        session,
        party=party,
        now=now,
        actor=actor,
        kind="links.revoked",
        summary=f"Withdrew every link of {timeline.a_party(party.role, first=False)}",
    )


async def _withdraw_access(
    session: AsyncSession,
    *,
    party: Party,
    now: datetime,
    actor: str | None,
    kind: str,
    summary: str,
) -> None:
    """Kill every link the party holds, move the rooms they may hold a URL for, and say so."""
    await links.revoke_for(session, party_id=party.id, now=now)
    await room_access.withdraw(session, party=party, now=now)
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        kind=kind,
        summary=summary,
        at=now,
        actor=actor,
    )
    await session.flush()
