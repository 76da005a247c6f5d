"""A family's own referral: received from the public form or the API, then accepted into a
case or declined by a scheduler.

Every referral gets the same answer whoever sends it: nothing says whether the person,
the email address or the family is known already (a second referral is a second row for
the scheduler to see). A young person is asked their date of birth, which is turned into
the day they were over compulsory school age and not kept (decision 018).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars.school_age import over_compulsory_school_age_on
from orchestrator.cases import intake, roster
from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.events import EventBus
from orchestrator.core.models import (
    Case,
    CaseCreate,
    CaseKind,
    Channel,
    ContactBy,
    Party,
    PartyCreate,
    PartyRole,
    Referral,
    ReferralCreate,
    ReferralIssue,
    ReferralStatus,
    ReferralWants,
    Referrer,
)
from orchestrator.core.records import add_timeline

CASE_KINDS = {
    ReferralWants.mediation: CaseKind.mediation,
    ReferralWants.disagreement_resolution: CaseKind.disagreement_resolution,
    ReferralWants.mias_certificate: CaseKind.mias,
}
TOO_YOUNG = (
    "a young person can refer themselves from the last Friday in June of the school year "
    "they turn 16; until then, a parent or carer makes the referral"
)


def _today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def young_person_since(data: ReferralCreate, *, today: date) -> date | None:
    """The day a self-referring young person was over compulsory school age (None: a
    parent's referral); refused before that day."""
    if data.who is not Referrer.young_person or data.date_of_birth is None:
        return None
    since = over_compulsory_school_age_on(data.date_of_birth)
    if since > today:
        raise ValidationFailed(TOO_YOUNG, details={"field": "date_of_birth"})
    return since


async def submit_referral(
    session: AsyncSession, *, data: ReferralCreate, now: datetime, zone: str
) -> Referral | None:
    """Keep a family's referral for the schedulers; None when the honeypot was filled."""
    if data.website:  # a bot: nothing is stored, and the answer is the same
        return None
    today = _today(now, zone)
    if data.decision_date is not None and data.decision_date > today:
        raise ValidationFailed(
            "decision_date cannot be in the future: it is the date of the LA's decision letter",
            details={"field": "decision_date"},
        )
    since = young_person_since(data, today=today)
    keeps_parent = data.invite_parent and data.who is Referrer.young_person
    referral = Referral(
        **data.model_dump(
            exclude={"date_of_birth", "website", "issues", "invite_parent"}
            | ({"parent_name", "parent_email", "parent_phone"} if not keeps_parent else set())
        ),
        issues=[issue.value for issue in dict.fromkeys(data.issues)],
        invite_parent=keeps_parent,
        referral_date=today,
        young_person_since=since,
        created_at=now,
    )
    session.add(referral)
    await session.flush()
    return referral


async def list_referrals(
    session: AsyncSession, *, status: ReferralStatus | None = ReferralStatus.new, limit: int = 200
) -> list[Referral]:
    """Referrals oldest first (by default those still waiting for a scheduler)."""
    query = select(Referral).order_by(col(Referral.created_at)).limit(limit)
    if status is not None:
        query = query.where(col(Referral.status) == status)
    return list((await session.scalars(query)).all())


async def get_referral(session: AsyncSession, referral_id: uuid.UUID) -> Referral:
    referral = await session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("referral", referral_id)
    return referral


def _still_new(referral: Referral) -> None:
    if referral.status is not ReferralStatus.new:
        raise Conflict(
            f"this referral was {referral.status.value} already",
            details={"status": referral.status.value},
        )


def _person(
    role: PartyRole, name: str, email: str | None, phone: str | None, *, by_phone: bool = False
) -> PartyCreate:
    """A family member as a party: on the phone if that is how they asked to be reached or
    all we have; someone with neither email nor phone (a letter) is not one the service
    can invite, so not required."""
    return PartyCreate(
        role=role,
        name=name,
        email=email,
        phone=phone,
        channel=Channel.phone if phone and (by_phone or not email) else Channel.video,
        required=None if (email or phone) else False,
    )


def family_parties(referral: Referral) -> list[PartyCreate]:
    """Who the referral puts on the case: the one who decides first (the addressee), and a
    parent only when a young person asked for them."""
    role = PartyRole.parent if referral.who is Referrer.parent_carer else PartyRole.young_person
    by_phone = referral.contact_by is ContactBy.phone
    people = [_person(role, referral.name, referral.email, referral.phone, by_phone=by_phone)]
    if role is PartyRole.parent:
        return people
    if referral.invite_parent and referral.parent_name:
        people.append(
            _person(
                PartyRole.parent, referral.parent_name, referral.parent_email, referral.parent_phone
            )
        )
    return people


async def accept_referral(
    session: AsyncSession,
    *,
    referral: Referral,
    reference: str,
    now: datetime,
    bus: EventBus,
    actor: str | None,
) -> tuple[Case, Party]:
    """Open the case the family asked for, its go-ahead the day they asked; answer the case
    and its addressee (the young person, or the parent or carer)."""
    _still_new(referral)
    kind = CASE_KINDS[referral.wants]
    try:
        data = CaseCreate(
            reference=reference,
            kind=kind,
            local_authority=referral.local_authority,
            referral_date=referral.referral_date,
            decision_date=referral.decision_date,
            health_in_issue=kind is CaseKind.mediation and ReferralIssue.health in referral.issues,
        )
    except ValidationError:
        raise ValidationFailed(
            "the case reference must be one line of up to 64 characters",
            details={"field": "reference"},
        ) from None
    case = await intake.create_case(session, data=data, now=now, bus=bus, actor=actor)
    added = [
        await roster.add_party(session, case=case, data=person, now=now, bus=bus, actor=actor)
        for person in family_parties(referral)
    ]
    referral.status = ReferralStatus.accepted
    referral.case_id = case.id
    referral.decided_at = now
    referral.decided_by = actor
    how = {ContactBy.email: "email", ContactBy.phone: "phone", ContactBy.letter: "letter"}
    add_timeline(
        session,
        case_id=case.id,
        kind="referral.accepted",
        summary=f"Opened from the family's own referral (contact by {how[referral.contact_by]})",
        at=now,
        actor=actor,
    )
    await session.flush()
    return case, added[0]


async def decline_referral(
    session: AsyncSession, *, referral: Referral, reason: str, now: datetime, actor: str | None
) -> Referral:
    """Decline a referral, saying why (the family is told the reason)."""
    _still_new(referral)
    if not reason.strip():
        raise ValidationFailed("give the reason for declining", details={"field": "reason"})
    referral.status = ReferralStatus.declined
    referral.decline_reason = reason.strip()[:500]
    referral.decided_at = now
    referral.decided_by = actor
    await session.flush()
    return referral


async def referral_of_case(session: AsyncSession, case_id: uuid.UUID) -> Referral | None:
    """The family's own referral a case was opened from, if it was."""
    return await session.scalar(select(Referral).where(col(Referral.case_id) == case_id))


def _forget(referral: Referral) -> None:
    """Keep what is counted (when, what was asked, the outcome); drop who and how to reach."""
    referral.name = "[removed]"
    for field in ("email", "phone", "address", "best_times", "decline_reason"):
        setattr(referral, field, None)
    referral.parent_name = referral.parent_email = referral.parent_phone = None


def declined_mail_key(referral_id: uuid.UUID) -> str:
    """The outbox key of the mail telling a family their referral was declined."""
    return f"referral:declined:{referral_id}"


async def forget_referrals(
    session: AsyncSession,
    *,
    case_id: uuid.UUID | None = None,
    declined_before: datetime | None = None,
) -> list[Referral]:
    """Under the retention policy: the referral of an anonymised case, and referrals
    declined before a cutoff, lose their names and contact details."""
    query = select(Referral)
    if case_id is not None:
        query = query.where(col(Referral.case_id) == case_id)
    else:
        query = query.where(
            col(Referral.status) == ReferralStatus.declined,
            col(Referral.decided_at) < declined_before,
            col(Referral.name) != "[removed]",
        )
    found = list((await session.scalars(query)).all())
    for referral in found:
        _forget(referral)
    return found
