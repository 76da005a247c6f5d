"""A young person's own "Who would you like to bring?": from their link, they add a parent
or carer, an advocate or a SENDIASS supporter to their case.

Over compulsory school age the young person decides who comes (DOMAIN.md): nobody else
can add to the list through this link, and the people they add are supporters, invited
as optional unless staff make them required.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import model_validator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig

from orchestrator.cases import links, roster
from orchestrator.core.errors import LinkInvalid
from orchestrator.core.events import EventBus
from orchestrator.core.models import (
    Case,
    Channel,
    LinkScope,
    Party,
    PartyCreate,
    PartyRole,
)
from orchestrator.core.models.values import EmailAddress, PersonName, PhoneNumber
from orchestrator.core.settings import Settings

SUPPORTER_ROLES = (PartyRole.parent, PartyRole.advocate, PartyRole.sendiass)


class SupporterCreate(SQLModel):
    """Who a young person would like to bring, and how we reach them."""

    model_config = SQLModelConfig(extra="forbid")

    role: PartyRole
    name: PersonName
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None

    @model_validator(mode="after")
    def _reachable(self) -> SupporterCreate:
        if self.role not in SUPPORTER_ROLES:
            raise ValueError("role must be a parent or carer, an advocate or a SENDIASS supporter")
        if not (self.email or self.phone):
            raise ValueError("email or phone is needed, so we can invite them")
        return self


@dataclass(frozen=True)
class SupportersView:
    case: Case
    young_person: Party
    supporters: list[Party]


async def open_supporters(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> SupportersView:
    """Check a young person's link; their case and whom they bring so far."""
    resolved = await links.resolve(
        session,
        token,
        scope=LinkScope.supporters,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    person = resolved.party
    if person is None or person.role is not PartyRole.young_person:
        raise LinkInvalid("this link is not valid here", details={"reason": "scope"})
    case = await session.get(Case, person.case_id)
    assert case is not None
    everyone = await roster.list_parties(session, case_id=case.id)
    return SupportersView(
        case=case,
        young_person=person,
        supporters=[p for p in everyone if p.role in SUPPORTER_ROLES],
    )


async def add_supporter(
    session: AsyncSession,
    token: str,
    *,
    data: SupporterCreate,
    settings: Settings,
    now: datetime,
    bus: EventBus,
) -> Party:
    """Add someone the young person chose; they are invited like every other supporter."""
    view = await open_supporters(session, token, settings=settings, now=now)
    return await roster.add_party(
        session,
        case=view.case,
        data=PartyCreate(
            role=data.role,
            name=data.name,
            email=data.email,
            phone=data.phone,
            channel=Channel.phone if data.phone and not data.email else Channel.video,
            required=False,
        ),
        now=now,
        bus=bus,
        actor=f"young_person:{view.young_person.id}",
    )
