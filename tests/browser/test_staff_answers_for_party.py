"""A scheduler, on the phone to a parent with no email, enters their poll answers; the case
page shows them with who entered them."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.cases import intake, roster
from orchestrator.core.models import Channel, PartyCreate, PartyRole
from orchestrator.web.keys import BUS, DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD, case_with_people

pytestmark = pytest.mark.browser


async def test_scheduler_enters_a_phone_only_partys_answers(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    async with live_app.app[DB].write() as session:
        dee = await roster.add_party(
            session,
            case=await intake.get_case(session, scenario.case_id),
            data=PartyCreate(
                role=PartyRole.parent,
                name="Dee Walker",
                phone="07700 900123",
                channel=Channel.phone,
            ),
            now=live_app.clock(),
            bus=live_app.app[BUS],
            actor=None,
        )
    desk = await new_page(browser)
    await desk.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await desk.get_by_label("Email address").fill("sam@staff.example")
    await desk.get_by_label("Password").fill(PASSWORD)
    await desk.get_by_role("button", name="Sign in").click()
    await desk.get_by_role("heading", name="Case KIDS-2026-021").wait_for()

    await desk.get_by_role("link", name="Enter answers from a call for Dee Walker").click()
    await desk.get_by_role("heading", name="Answers from a call with Dee Walker").wait_for()
    await assert_accessible(desk, "answers from a call")
    first = desk.locator("#answers fieldset").first
    await first.get_by_label("Yes, I can").click()  # the choice itself, as a tap lands
    await desk.locator("#answers fieldset").nth(1).get_by_label("No, I cannot").click()
    await desk.get_by_label("Anything else they said about when they can meet").fill(
        "Only mornings; ring the landline"
    )
    await desk.get_by_role("button", name="Save their answers").click()

    await desk.get_by_role("heading", name="Case KIDS-2026-021").wait_for()
    matrix = await desk.locator("#poll-matrix").inner_text()
    assert "Entered by Sam (scheduler) after a phone call" in matrix
    assert "Only mornings; ring the landline" in matrix
    answers = await desk.locator(f"#answers-{dee.id}").inner_text()
    assert "(entered by Sam (scheduler) after a phone call)" in answers
    await assert_accessible(desk, "case page with answers from a call")
    await screenshot(desk, "staff-answers-for-party")
