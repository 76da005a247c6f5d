"""Set-up for browser tests, done through the use-cases (the pages under test come after)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from orchestrator.cases import intake, panel, roster
from orchestrator.core.models import (
    CaseCreate,
    CaseKind,
    MediatorCreate,
    Meeting,
    MeetingMode,
    PartyCreate,
    PartyRole,
    StaffRole,
)
from orchestrator.scheduling import booking, poll_requests, slot_search
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import BUS, BUSY_READER, DB, HTTP, SETTINGS, WORKDAYS
from tests.browser.conftest import LiveApp

PASSWORD = "correct horse battery staple"


@dataclass
class Scenario:
    case_id: uuid.UUID
    parent_id: uuid.UUID
    officer_id: uuid.UUID
    poll_url: str = ""
    meeting_id: uuid.UUID | None = None


async def case_with_people(
    live: LiveApp,
    *,
    poll: bool = True,
    kind: CaseKind = CaseKind.mediation,
    language: str | None = None,
) -> Scenario:
    """A case with a mediator, a parent (who reads ``language``) and an officer, polled."""
    app = live.app
    now = live.clock()
    async with app[DB].write() as session:
        await add_user(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            name="Sam",
            password=PASSWORD,
        )
        mo = await add_user(
            session,
            email="mo@staff.example",
            role=StaffRole.mediator,
            name="Mo Ahmed",
            password=PASSWORD,
        )
        mediator = await panel.create_mediator(
            session,
            data=MediatorCreate(name="Mo Ahmed", email="mo@staff.example", user_id=mo.id),
            now=now,
        )
        case = await intake.create_case(
            session,
            data=CaseCreate(
                reference="KIDS-2026-021",
                kind=kind,
                local_authority="Kent",
                referral_date=date(2026, 2, 27),
            ),
            now=now,
            bus=app[BUS],
        )
        await panel.assign_mediator(
            session, case=case, mediator=mediator, now=now, actor=None, bus=app[BUS]
        )
        parent = await roster.add_party(
            session,
            case=case,
            data=PartyCreate(
                role=PartyRole.parent,
                name="Pat Jordan",
                email="pat@family.example",
                language=language,
            ),
            now=now,
            bus=app[BUS],
            actor=None,
        )
        officer = await roster.add_party(
            session,
            case=case,
            data=PartyCreate(role=PartyRole.la_officer, name="Lee Grant", email="lee@kent.example"),
            now=now,
            bus=app[BUS],
            actor=None,
        )
        found = Scenario(case_id=case.id, parent_id=parent.id, officer_id=officer.id)
    if poll:
        read = await poll_requests.read_poll_calendars(
            app[DB],
            case_id=case.id,
            now=now,
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
            reader=app[BUSY_READER],
            http=app[HTTP],
        )
        async with app[DB].write() as session:
            result = await poll_requests.request_availability(
                session,
                case=await intake.get_case(session, case.id),
                duration_minutes=180,
                now=now,
                settings=app[SETTINGS],
                calendar=app[WORKDAYS],
                calendars=read,
            )
            found.poll_url = await poll_requests.poll_link_url(
                session, result.poll, parent, app[SETTINGS]
            )
    return found


async def book_best_slot(live: LiveApp, scenario: Scenario) -> uuid.UUID:
    return (await book_best_time_of(live, scenario.case_id)).id


async def book_best_time_of(live: LiveApp, case_id: uuid.UUID) -> Meeting:
    """Book the case's best 3-hour time by video, through the use-cases."""
    app = live.app
    now = live.clock()
    async with app[DB].write() as session:
        case = await intake.get_case(session, case_id)
        found = await slot_search.find_case_slots(
            session,
            case=case,
            duration=timedelta(minutes=180),
            now=now,
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
            reader=app[BUSY_READER],
            http=app[HTTP],
            limit=1,
        )
        meeting = await booking.book(
            session,
            case=case,
            start=found.slots[0].start,
            duration_minutes=180,
            mode=MeetingMode.video,
            now=now,
            bus=app[BUS],
            settings=app[SETTINGS],
            workdays=app[WORKDAYS],
        )
        return meeting


async def booked_meeting(live: LiveApp) -> tuple[Scenario, Meeting]:
    """The case with its people and its best time booked; the meeting as stored."""
    scenario = await case_with_people(live, poll=False)
    meeting_id = await book_best_slot(live, scenario)
    async with live.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    return scenario, meeting
