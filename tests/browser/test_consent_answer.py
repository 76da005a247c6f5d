"""The school, from its "will you take part?" email, says no after a meeting was booked."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from orchestrator.cases import intake, panel, roster
from orchestrator.core.models import (
    CaseCreate,
    CaseKind,
    MediatorCreate,
    MeetingMode,
    MeetingStatus,
    OutboxMessage,
    PartyCreate,
    PartyRole,
)
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.scheduling import booking, lookups
from orchestrator.web.keys import BUS, DB, SETTINGS, WORKDAYS
from tests.browser.conftest import LiveApp, assert_accessible, new_page

pytestmark = pytest.mark.browser


async def test_the_school_says_no_and_is_told_the_answer_is_final(
    live_app: LiveApp, browser: Any
) -> None:
    app, now = live_app.app, live_app.clock()
    async with app[DB].write() as session:
        mediator = await panel.create_mediator(
            session,
            data=MediatorCreate(
                name="Mo Ahmed",
                email="mo@staff.example",
                working_hours={d: ("07:00", "21:00") for d in range(1, 8)},
            ),
            now=now,
        )
        case = await intake.create_case(
            session,
            data=CaseCreate(
                reference="KIDS-2026-077",
                kind=CaseKind.disagreement_resolution,
                local_authority="Kent",
                referral_date=date(2026, 2, 27),
            ),
            now=now,
            bus=app[BUS],
        )
        await panel.assign_mediator(
            session, case=case, mediator=mediator, now=now, actor=None, bus=app[BUS]
        )
        for role, name, email in (
            (PartyRole.parent, "Pat Jordan", "pat@family.example"),
            (PartyRole.school, "Ms Patel", "head@school.example"),
        ):
            await roster.add_party(
                session,
                case=case,
                data=PartyCreate(role=role, name=name, email=email),
                now=now,
                bus=app[BUS],
                actor=None,
            )
        meeting = await booking.book(
            session,
            case=case,
            start=datetime(2026, 3, 12, 10, tzinfo=UTC),
            duration_minutes=120,
            mode=MeetingMode.video,
            now=now,
            bus=app[BUS],
            settings=app[SETTINGS],
            workdays=app[WORKDAYS],
        )
        asked = await session.scalar(
            select(OutboxMessage).where(col(OutboxMessage.topic) == "consent_request")
        )
    assert asked is not None
    body = email_from_payload(asked.payload).get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"http://\S+/c/\S+", str(body.get_content()))
    assert found is not None

    page = await new_page(browser)
    await page.goto(found.group(0))
    await page.get_by_label("No, we will not take part").check()
    await page.get_by_role("button", name="Send my answer").click()
    await page.get_by_role("heading", name="Thank you – we have your answer").wait_for()
    await page.get_by_text("This answer is final").wait_for()
    assert await page.get_by_role("link", name="Change your answer").count() == 0
    await assert_accessible(page, "a final no to disagreement resolution")

    await page.goto(found.group(0))  # back on the link later: no form, the help line
    await page.get_by_text("This answer is final").wait_for()
    assert await page.get_by_role("button", name="Send my answer").count() == 0
    async with app[DB].read() as session:
        cancelled = await lookups.get_meeting(session, meeting.id)
        assert cancelled.status is MeetingStatus.cancelled
        assert cancelled.cancel_reason == "School will not take part"
