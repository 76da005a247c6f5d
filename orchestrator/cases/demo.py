"""A realistic sample caseload for trying the service: cases at every stage, with people."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import intake, panel, roster
from orchestrator.core.db import Database
from orchestrator.core.events import EventBus
from orchestrator.core.models import (
    Case,
    CaseCreate,
    CaseKind,
    CaseStatus,
    Channel,
    Mediator,
    MediatorCreate,
    PartyCreate,
    PartyRole,
)
from orchestrator.core.models import utcnow as _utcnow
from orchestrator.core.settings import Settings

MEDIATORS = [
    ("Amira Hussain", "amira.hussain@mediation.example", 1),
    ("Ben Okafor", "ben.okafor@mediation.example", 2),
    ("Claire Dawson", "claire.dawson@mediation.example", 1),
    ("Dev Patel", "dev.patel@mediation.example", 1),
]
AUTHORITIES = ["Kent", "Essex", "Hertfordshire", "Surrey", "Croydon", "Bromley"]
FAMILY_NAMES = [
    "Jordan",
    "Khan",
    "Morgan",
    "Nowak",
    "Osei",
    "Price",
    "Quinn",
    "Roberts",
    "Singh",
    "Taylor",
    "Usman",
    "Walsh",
]
# (kind, days since referral, status)
STAGES = [
    (CaseKind.mediation, 2, CaseStatus.referred),
    (CaseKind.mediation, 5, CaseStatus.negotiating),
    (CaseKind.mediation, 9, CaseStatus.negotiating),
    (CaseKind.mediation, 14, CaseStatus.negotiating),
    (CaseKind.mediation, 20, CaseStatus.booked),
    (CaseKind.mediation, 27, CaseStatus.booked),
    (CaseKind.mediation, 31, CaseStatus.negotiating),
    (CaseKind.disagreement_resolution, 6, CaseStatus.referred),
    (CaseKind.disagreement_resolution, 18, CaseStatus.booked),
    (CaseKind.mias, 1, CaseStatus.referred),
    (CaseKind.mediation, 35, CaseStatus.held),
    (CaseKind.mediation, 40, CaseStatus.outcome_recorded),
]


async def load_demo(db: Database, *, settings: Settings, seed: int = 2014) -> str:
    """Load the sample caseload once; a second run changes nothing."""
    rng = random.Random(seed)
    bus = EventBus(settings)  # the demo sends no mail: nobody subscribes
    now = _utcnow()
    async with db.write() as session:
        if await session.scalar(select(Case.id).where(col(Case.reference).startswith("DEMO-"))):
            return "demo caseload already loaded"
        mediators = [
            await panel.create_mediator(
                session,
                data=MediatorCreate(name=name, email=email, max_sessions_per_day=cap),
                now=now,
            )
            for name, email, cap in MEDIATORS
        ]
        for n, (kind, age, status) in enumerate(STAGES, start=1):
            await _add_demo_case(
                session,
                n=n,
                kind=kind,
                age=age,
                status=status,
                mediator=mediators[n % len(mediators)],
                rng=rng,
                now=now,
                bus=bus,
            )
    return f"loaded {len(STAGES)} demo cases with {len(MEDIATORS)} mediators"


async def _add_demo_case(
    session: AsyncSession,
    *,
    n: int,
    kind: CaseKind,
    age: int,
    status: CaseStatus,
    mediator: Mediator,
    rng: random.Random,
    now: datetime,
    bus: EventBus,
) -> None:
    """Open the ``n``th sample case, ``age`` days after its referral, with its people."""
    today = now.date()
    family = FAMILY_NAMES[n - 1]
    la = AUTHORITIES[n % len(AUTHORITIES)]
    referral = today - timedelta(days=age)
    case = await intake.create_case(
        session,
        data=CaseCreate(
            reference=f"DEMO-{today.year}-{n:03d}",
            kind=kind,
            local_authority=la,
            referral_date=referral,
            decision_date=referral - timedelta(days=rng.randint(7, 40)),
        ),
        now=now,
        bus=bus,
        actor="demo",
    )
    case.status = status  # seed data shown as if it got there; not a transition
    await panel.assign_mediator(
        session, case=case, mediator=mediator, now=now, actor="demo", bus=bus
    )
    for person in _demo_people(n, kind=kind, family=family, la=la):
        await roster.add_party(session, case=case, data=person, now=now, bus=bus, actor="demo")


def _demo_people(n: int, *, kind: CaseKind, family: str, la: str) -> list[PartyCreate]:
    """A parent and the LA's officer; a school too unless a MIAS call; every third, an adviser."""
    people = [
        PartyCreate(
            role=PartyRole.parent,
            name=f"Sam {family}",
            channel=Channel.video,
            email=f"sam.{family.lower()}@family.example",
            phone=f"07700 900{n:03d}",
        ),
        PartyCreate(
            role=PartyRole.la_officer,
            name=f"{la} SEN officer",
            channel=Channel.video,
            email=f"sen.officer@{la.lower()}.gov.example",
            organisation=f"{la} Council",
        ),
    ]
    if kind is not CaseKind.mias:
        people.append(
            PartyCreate(
                role=PartyRole.school,
                name="SENCo",
                channel=Channel.phone,
                email=f"senco{n}@school.example",
                organisation="Hillside Primary",
                phone="01632 960000",
            )
        )
    if n % 3 == 0:
        people.append(
            PartyCreate(
                role=PartyRole.sendiass,
                name="IASS adviser",
                channel=Channel.video,
                email=f"adviser{n}@iass.example",
            )
        )
    return people
