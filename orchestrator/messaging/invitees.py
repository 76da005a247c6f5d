"""Who a meeting's invitations go to: the meeting read once, and the people in it with an address.

``load_meeting`` reads a meeting with its case, its mediator and the live invitations of
the parties still on the case; ``recipients`` turns that into the people an invitation is
sent to (the mediator, when the service invites them, and every party with an email
address), each with the iTIP role the calendar shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.invite_spec import Role
from orchestrator.core.languages import N_
from orchestrator.core.models import (
    Case,
    CaseKind,
    Invitation,
    Mediator,
    Meeting,
    MeetingStatus,
    Party,
    PartyRole,
)
from orchestrator.core.settings import Settings

MEETING_LABELS = {
    CaseKind.mediation: N_("SEND mediation meeting"),
    CaseKind.disagreement_resolution: N_("disagreement resolution meeting"),
    CaseKind.mias: N_("mediation information call"),
}

# An information call (MIAS) is a telephone call the adviser makes to the family.
MIAS_WHAT_TO_EXPECT = N_(
    "The call takes about 20 minutes. The adviser explains what mediation is, how it "
    "differs from the Tribunal, and answers your questions. You do not have to go to "
    "mediation. Nothing is recorded."
)

ROLE_LABELS = {
    PartyRole.parent: N_("Parent or carer"),
    PartyRole.young_person: N_("Young person"),
    PartyRole.school: N_("School"),
    PartyRole.college: N_("College"),
    PartyRole.la_officer: N_("Local authority officer"),
    PartyRole.health: N_("Health service"),
    PartyRole.social_care: N_("Social care"),
    PartyRole.sendiass: N_("SENDIASS supporter"),
    PartyRole.advocate: N_("Advocate"),
    PartyRole.interpreter: N_("Interpreter"),
    PartyRole.observer: N_("Observer"),
}


def itip_role(party: Party) -> Role:
    """LA decision-maker and other required parties REQ, supporters OPT (DOMAIN.md)."""
    if party.role is PartyRole.la_officer:
        return "REQ-PARTICIPANT"
    return "REQ-PARTICIPANT" if party.required else "OPT-PARTICIPANT"


@dataclass
class Recipient:
    """Someone an invitation goes to: a party (with their invitation) or the mediator."""

    ident: str  # party id, or "mediator-<id>"
    name: str
    email: str
    role: Role
    party: Party | None = None
    invitation: Invitation | None = None
    mediator: Mediator | None = None

    @property
    def easy_read(self) -> bool:
        return bool(self.party and self.party.easy_read)

    @property
    def language(self) -> str | None:
        return self.party.language if self.party else None


@dataclass
class MeetingFacts:
    """A meeting with its case, mediator and live invitations, loaded in one place."""

    meeting: Meeting
    case: Case
    mediator: Mediator | None
    parties: list[tuple[Party, Invitation]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return MEETING_LABELS.get(self.case.kind, "mediation meeting")

    def adviser_calls(self, party: Party | None) -> dict[str, str] | None:
        """For an information call, who phones whom and on which number (else None)."""
        if self.case.kind is not CaseKind.mias or party is None:
            return None
        caller = self.mediator.name if self.mediator else N_("One of our advisers")
        return {"caller": caller, "number": party.phone or ""}

    def people(self) -> list[str]:
        """Who will be there, by role only (no names or contacts of other parties)."""
        chair = N_("Adviser (phones you)") if self.case.kind is CaseKind.mias else None
        shown = [chair or N_("Mediator (chairs the meeting)")] if self.mediator else []
        shown += [ROLE_LABELS.get(p.role, p.role.value) for p, _ in self.parties]
        return shown


def _live_invitations(meeting_ids: Sequence[uuid.UUID]) -> Select[Party, Invitation]:
    """The live invitations of the parties still on the case, oldest party first."""
    return (
        select(Party, Invitation)
        .join(Invitation, col(Invitation.party_id) == col(Party.id))
        .where(
            col(Invitation.meeting_id).in_(meeting_ids),
            col(Invitation.cancelled_at).is_(None),
            col(Party.removed_at).is_(None),
        )
        .order_by(col(Party.created_at))
    )


async def _facts(session: AsyncSession, meeting: Meeting) -> MeetingFacts:
    case = await session.get(Case, meeting.case_id)
    assert case is not None
    mediator_id = meeting.mediator_id or case.mediator_id
    mediator = await session.get(Mediator, mediator_id) if mediator_id else None
    return MeetingFacts(meeting=meeting, case=case, mediator=mediator)


async def load_meeting(session: AsyncSession, meeting_id: uuid.UUID) -> MeetingFacts | None:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    facts = await _facts(session, meeting)
    rows = await session.execute(_live_invitations([meeting.id]))
    facts.parties = [(party, invitation) for party, invitation in rows.all()]
    return facts


async def load_meetings(
    session: AsyncSession, meeting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, MeetingFacts]:
    """``load_meeting`` for many meetings in four queries, whatever their number."""
    wanted = list(dict.fromkeys(meeting_ids))
    meetings = (await session.scalars(select(Meeting).where(col(Meeting.id).in_(wanted)))).all()
    if not meetings:
        return {}
    # Into the session's identity map, so ``_facts`` reads them without a query each.
    cases = (
        await session.scalars(select(Case).where(col(Case.id).in_({m.case_id for m in meetings})))
    ).all()
    mediator_ids = {m.mediator_id for m in meetings} | {c.mediator_id for c in cases}
    await session.scalars(select(Mediator).where(col(Mediator.id).in_(mediator_ids - {None})))
    facts = {meeting.id: await _facts(session, meeting) for meeting in meetings}
    for party, invitation in (await session.execute(_live_invitations(list(facts)))).all():
        facts[invitation.meeting_id].parties.append((party, invitation))
    return facts


def recipients(facts: MeetingFacts, settings: Settings) -> list[Recipient]:
    """Everyone with an email address who gets this meeting's invitations."""
    found: list[Recipient] = []
    if facts.mediator is not None and settings.invite_mediator and facts.mediator.email:
        found.append(mediator_recipient(facts.mediator))
    for party, invitation in facts.parties:
        if party.email:
            found.append(party_recipient(party, invitation))
    return found


def mediator_recipient(mediator: Mediator) -> Recipient:
    return Recipient(
        ident=f"mediator-{mediator.id}",
        name=mediator.name,
        email=mediator.email,
        role="CHAIR",
        mediator=mediator,
    )


def party_recipient(party: Party, invitation: Invitation | None) -> Recipient:
    assert party.email
    return Recipient(
        ident=str(party.id),
        name=party.name,
        email=party.email,
        role=itip_role(party),
        party=party,
        invitation=invitation,
    )


async def live_meetings(session: AsyncSession, case_id: uuid.UUID, now: datetime) -> list[Meeting]:
    rows = await session.scalars(
        select(Meeting).where(
            col(Meeting.case_id) == case_id,
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.end_at) > now,
        )
    )
    return list(rows.all())
