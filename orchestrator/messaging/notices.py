"""The other mail of a case: the referral notice and the mediator's introduction.

- Mediation: when the first local-authority officer with an email address joins the case,
  they are told the family has asked for mediation; the moment that notice is queued is
  recorded as ``Case.referral_sent_at``, the start of the statutory 30 days.
- When a mediator is assigned, each party is told a mediator will contact them (and
  anyone who joins the case later is told too).
- Disagreement resolution's "will you take part?" is ``consent``, and the family's own
  page is ``family_links``; both are sent from here as each party joins.

Everything goes through the outbox under one idempotency key per notice and person.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.core import languages
from orchestrator.core.events import (
    CaseCreated,
    EventBus,
    EventContext,
    MediatorAssigned,
    PartyAdded,
)
from orchestrator.core.models import Case, CaseKind, Mediator, Party, PartyRole
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging import consent, family_links
from orchestrator.messaging.invitees import MEETING_LABELS
from orchestrator.messaging.outgoing_mail import send_plain


async def _parties(session: AsyncSession, case_id: uuid.UUID) -> list[Party]:
    rows = await session.scalars(
        select(Party)
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at))
    )
    return list(rows.all())


# ---------------------------------------------------------------------------- referral notice


async def send_referral_notice(
    session: AsyncSession, *, case: Case, settings: Settings, now: datetime
) -> bool:
    """Tell the LA the family wants mediation (once per case); start the statutory clock."""
    if case.kind is not CaseKind.mediation or case.referral_sent_at is not None:
        return False
    officer = next(
        (p for p in await _parties(session, case.id) if p.role is PartyRole.la_officer and p.email),
        None,
    )
    if officer is None or officer.email is None:
        return False
    sent_on = now.astimezone(ZoneInfo(case.timezone))
    queued = await send_plain(
        session,
        kind="referral",
        key=f"notice:referral:{case.id}",
        to_name=officer.name,
        to_addr=officer.email,
        context={
            "recipient_name": officer.name,
            "reference": case.reference,
            "local_authority": case.local_authority,
            "sent_on": wording.day(sent_on, locale=languages.language(officer.language).locale),
        },
        settings=settings,
        now=now,
        case_id=case.id,
        language=officer.language,
    )
    if not queued:
        return False
    case.referral_sent_at = now
    case.updated_at = now
    add_timeline(
        session,
        case_id=case.id,
        party_id=officer.id,
        kind="referral.sent",
        summary="Referral notice sent to the local authority: the 30 days start now",
        at=now,
    )
    return True


# ---------------------------------------------------------------------------- introduction


async def send_introduction(
    session: AsyncSession,
    *,
    case: Case,
    mediator: Mediator,
    party: Party,
    settings: Settings,
    now: datetime,
) -> bool:
    """Tell one party who their mediator is and that they will be in touch."""
    if not party.email or party.removed_at is not None:
        return False
    return await send_plain(
        session,
        kind="introduction",
        key=f"notice:intro:{case.id}:{mediator.id}:{party.id}",
        to_name=party.name,
        to_addr=party.email,
        context={
            "recipient_name": party.name,
            "mediator_name": mediator.name,
            "meeting_label": MEETING_LABELS.get(case.kind, "mediation meeting"),
        },
        settings=settings,
        now=now,
        case_id=case.id,
        easy_read=party.easy_read,
        language=party.language,
    )


async def introduce_mediator(
    session: AsyncSession, *, case_id: uuid.UUID, settings: Settings, now: datetime
) -> int:
    case = await session.get(Case, case_id)
    if case is None or case.mediator_id is None:
        return 0
    mediator = await session.get(Mediator, case.mediator_id)
    if mediator is None:
        return 0
    sent = 0
    for party in await _parties(session, case.id):
        sent += await send_introduction(
            session, case=case, mediator=mediator, party=party, settings=settings, now=now
        )
    if sent:
        add_timeline(
            session,
            case_id=case.id,
            kind="mediator.introduced",
            summary=f"Told {sent} people who their mediator is",
            at=now,
        )
    return sent


# ---------------------------------------------------------------------------- subscriptions


def install(bus: EventBus) -> None:
    """Send the case's notices as people join it and a mediator is assigned."""

    async def on_case_created(session: AsyncSession, event: CaseCreated, ctx: EventContext) -> None:
        case = await session.get(Case, event.case_id)
        if case is not None:
            await send_referral_notice(session, case=case, settings=ctx.settings, now=ctx.now)

    async def on_party_added(session: AsyncSession, event: PartyAdded, ctx: EventContext) -> None:
        case = await session.get(Case, event.case_id)
        party = await session.get(Party, event.party_id)
        if case is None or party is None:
            return
        await send_referral_notice(session, case=case, settings=ctx.settings, now=ctx.now)
        await consent.send_consent_request(
            session, case=case, party=party, settings=ctx.settings, now=ctx.now
        )
        await family_links.send_family_link(
            session, case=case, party=party, settings=ctx.settings, now=ctx.now
        )
        if case.mediator_id is not None:
            mediator = await session.get(Mediator, case.mediator_id)
            if mediator is not None:
                await send_introduction(
                    session,
                    case=case,
                    mediator=mediator,
                    party=party,
                    settings=ctx.settings,
                    now=ctx.now,
                )

    async def on_mediator(
        session: AsyncSession, event: MediatorAssigned, ctx: EventContext
    ) -> None:
        await introduce_mediator(session, case_id=event.case_id, settings=ctx.settings, now=ctx.now)

    bus.subscribe(CaseCreated, on_case_created)
    bus.subscribe(PartyAdded, on_party_added)
    bus.subscribe(MediatorAssigned, on_mediator)
