"""Answering a family's own referral: the case it opens and the acknowledgement with the
clocks that now run, or the reason it was declined.

The acknowledgement goes to the person who decides (the young person, or the parent or
carer) by email, or by text message where that is how they are reached; a young person
also gets their own link to say who they would like to bring (``supporters``). The
clocks come from the case's own deadlines (``cases.deadlines``), never restated here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from calendars import wording
from calendars.clocks import CERTIFICATE_WORKING_DAYS
from calendars.workdays import WorkingDays
from orchestrator.cases import deadlines, links, referrals
from orchestrator.core.events import EventBus
from orchestrator.core.models import (
    Case,
    CasePublic,
    LinkScope,
    Party,
    PartyRole,
    Referral,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.channels import texts_person
from orchestrator.messaging.outgoing_mail import send_plain
from orchestrator.messaging.text_messages import queue_text
from orchestrator.messaging.ways_in import link_url, short_link_url


def acknowledgement_words(public: CasePublic) -> dict[str, object]:
    """The clocks the acknowledgement names, as dates in words."""
    d = public.deadlines
    return {
        "kind": public.kind.value,
        "reference": public.reference,
        "target": wording.day(d.target.date),
        "statutory": wording.day(d.statutory.date) if d.statutory else None,
        "appeal": wording.day(d.appeal.date) if d.appeal else None,
        "certificate_working_days": CERTIFICATE_WORKING_DAYS,
    }


async def _supporters_link(
    session: AsyncSession, *, party: Party, settings: Settings, now: datetime
) -> tuple[str, str]:
    """A young person's own "Who would you like to bring?" link: full and short."""
    link = await links.issue(
        session,
        case_id=party.case_id,
        scope=LinkScope.supporters,
        now=now,
        ttl=timedelta(days=settings.link_ttl_days),
        party_id=party.id,
    )
    return link_url(link, settings), short_link_url(link, settings)


async def acknowledge(
    session: AsyncSession,
    *,
    public: CasePublic,
    party: Party,
    settings: Settings,
    now: datetime,
) -> str:
    """Tell the person who decides that their case is open; the way it went (``email``,
    ``text``, ``post``)."""
    context = {"recipient_name": party.name, **acknowledgement_words(public)}
    young = party.role is PartyRole.young_person
    urls = (
        await _supporters_link(session, party=party, settings=settings, now=now) if young else None
    )
    context["young_person"] = young
    went = "post"
    if party.email:
        context["supporters_url"] = urls[0] if urls else ""
        await send_plain(
            session,
            kind="referral_ack",
            key=f"referral:ack:{party.case_id}:{party.id}",
            to_name=party.name,
            to_addr=party.email,
            context=context,
            settings=settings,
            now=now,
            case_id=party.case_id,
        )
        went = "email"
    if texts_person(party, settings):
        context["supporters_url"] = urls[1] if urls else ""
        sent = await queue_text(
            session,
            party=party,
            kind="referral_ack",
            key=f"referral:ack-text:{party.case_id}:{party.id}",
            context=context,
            settings=settings,
            now=now,
        )
        went = "text" if sent and went == "post" else went
    words = {"email": "by email", "text": "by text message", "post": "by post: please send it"}
    add_timeline(
        session,
        case_id=party.case_id,
        party_id=party.id,
        kind="referral.acknowledged",
        summary=f"Acknowledgement of the referral {words[went]}",
        at=now,
    )
    return went


async def accept_referral(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    reference: str,
    settings: Settings,
    calendar: WorkingDays,
    bus: EventBus,
    now: datetime,
    actor: str | None,
) -> tuple[Case, CasePublic]:
    """Accept a referral into a case and acknowledge it with the clocks that now run."""
    referral = await referrals.get_referral(session, referral_id)
    case, addressee = await referrals.accept_referral(
        session, referral=referral, reference=reference, now=now, bus=bus, actor=actor
    )
    public = await deadlines.present_case(
        session, case, default_target_days=settings.target_days, calendar=calendar, now=now
    )
    await acknowledge(session, public=public, party=addressee, settings=settings, now=now)
    return case, public


async def decline_referral(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    reason: str,
    settings: Settings,
    now: datetime,
    actor: str | None,
) -> Referral:
    """Decline a referral with a reason, and tell the family by email where we can."""
    referral = await referrals.get_referral(session, referral_id)
    await referrals.decline_referral(
        session, referral=referral, reason=reason, now=now, actor=actor
    )
    if referral.email:
        await send_plain(
            session,
            kind="referral_declined",
            key=referrals.declined_mail_key(referral.id),
            to_name=referral.name,
            to_addr=referral.email,
            context={"recipient_name": referral.name, "reason": referral.decline_reason},
            settings=settings,
            now=now,
            case_id=None,
        )
    return referral
