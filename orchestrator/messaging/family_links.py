"""The family's own page (``/f/{token}``): the link sent to them, and what it opens.

Each parent or young person on a case gets one ``family`` link by email when they join
it. For an information call (MIAS) the page books the 20-minute phone call at a time that
suits them; for mediation and disagreement resolution it lets them withdraw at any time
and ask for the certificate. The link carries nothing personal (``links``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import deadlines, links
from orchestrator.core.models import (
    FAMILY_ROLES,
    Case,
    CaseKind,
    LinkScope,
    Meeting,
    Party,
)
from orchestrator.core.records import add_timeline
from orchestrator.core.settings import Settings
from orchestrator.messaging.outgoing_mail import send_own_link
from orchestrator.scheduling import lookups


def gets_family_link(party: Party) -> bool:
    """Parents and young people get their own page, once they have an email address."""
    return party.role in FAMILY_ROLES and bool(party.email) and party.removed_at is None


async def send_family_link(
    session: AsyncSession, *, case: Case, party: Party, settings: Settings, now: datetime
) -> bool:
    """Email one parent or young person the link to their own page (once per case)."""
    if not gets_family_link(party):
        return False
    sent = await send_own_link(
        session,
        case=case,
        party=party,
        scope=LinkScope.family,
        kind="family_link",
        key=f"notice:family:{case.id}:{party.id}",
        url_name="family_url",
        settings=settings,
        now=now,
        short=True,
        context={"is_mias": case.kind is CaseKind.mias},
    )
    if not sent:
        return False
    add_timeline(
        session,
        case_id=case.id,
        party_id=party.id,
        kind="family.link_sent",
        summary="Sent the family the link to their own page"
        + (" to book the information call" if case.kind is CaseKind.mias else ""),
        at=now,
    )
    return True


@dataclass(frozen=True)
class FamilyView:
    """What the family's page shows: their case, themselves, and the meeting still ahead."""

    case: Case
    party: Party
    meeting: Meeting | None
    certificate_issued_on: date | None = None  # the latest certificate's day, if any


async def open_family_page(
    session: AsyncSession, token: str, *, settings: Settings, now: datetime
) -> FamilyView:
    """Check a family link; raise LinkInvalid (the friendly 4xx page) when it is dead."""
    case, party = await links.resolve_party_link(
        session,
        token,
        scope=LinkScope.family,
        secret=settings.secret_key.get_secret_value(),
        now=now,
    )
    return FamilyView(
        case=case,
        party=party,
        meeting=await lookups.next_live_meeting(session, case.id),
        certificate_issued_on=await deadlines.certificate_issued_on(session, case),
    )
