"""A mediator runs the room: a party arrives live (provider call-back), caucus, recall, end, outcome."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.core.models import Channel, Meeting, Outcome, ParticipantStatus
from orchestrator.meeting import attendance
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def test_mediator_sees_a_party_arrive_and_runs_the_session(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    async with live_app.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    live_app.clock.set(meeting.start_at)

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/sign-in")
    await page.get_by_label("Email address").fill("mo@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="My sessions").wait_for()
    await assert_accessible(page, "my sessions")
    await page.get_by_role("link", name="Open the room console for KIDS-2026-021").click()
    await page.get_by_role("heading", name="Room console").wait_for()
    await page.get_by_role("button", name="Start the session").click()
    await page.get_by_text("Session: in session").wait_for()

    # The video provider calls back: Pat has joined and waits in the lobby. No reload here:
    # the console hears of it through Server-Sent Events.
    live_app.clock.advance(minutes=2)
    async with live_app.app[DB].write() as session:
        await attendance.append(
            session,
            attendance.event_row(
                meeting_id=meeting_id,
                party_id=scenario.parent_id,
                status=ParticipantStatus.in_lobby,
                source="jitsi",
                channel=Channel.video,
                at=live_app.clock(),
            ),
        )
    lobby = page.locator("#lobby")
    await lobby.get_by_text("Pat Jordan").wait_for()
    await assert_accessible(page, "console with someone in the lobby")

    live_app.clock.advance(minutes=1)
    await lobby.get_by_role("button", name="Admit Pat Jordan").click()
    joint = page.locator("[data-room='joint']")
    await joint.get_by_text("Pat Jordan").wait_for()

    live_app.clock.advance(minutes=1)
    await page.get_by_label("Room name").fill("Family room")
    await page.get_by_label("Pat Jordan", exact=True).check()
    await page.get_by_role("button", name="Open room and move them").click()
    await page.locator("[data-room='Family room']").get_by_text("Pat Jordan").wait_for()
    await screenshot(page, "room-console")

    live_app.clock.advance(minutes=1)
    await page.get_by_role("button", name="Recall everyone to the joint room").click()
    await page.locator("[data-room='joint']").get_by_text("Pat Jordan").wait_for()

    live_app.clock.advance(minutes=1)
    await page.get_by_role("button", name="End the session for everyone").click()
    await page.get_by_role("button", name="Yes, end the session").click()
    await page.get_by_role("heading", name="Record the outcome").wait_for()
    await assert_accessible(page, "outcome form")
    await page.get_by_label("Agreement on some issues").check()
    await page.get_by_label("Issue 1").fill("Scribe support in exams")
    await page.locator("#agreed_1").check()
    await page.get_by_label("Issue 2 (optional)").fill("Full EHC assessment")
    await page.get_by_role("button", name="Save the outcome").click()
    await page.get_by_role("heading", name="Outcome recorded").wait_for()
    async with live_app.app[DB].read() as session:
        outcome = (await session.scalars(select(Outcome))).one()
    assert outcome.result.value == "partial_agreement"
    assert [i["agreed"] for i in outcome.issues] == [True, False]
