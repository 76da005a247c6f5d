"""A scheduler moves a booked meeting from the case page: a best time, a check, new invites."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.scheduling import lookups
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def test_scheduler_moves_the_meeting_to_an_offered_time(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    async with live_app.app[DB].read() as session:
        before = await lookups.get_meeting(session, meeting_id)
    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await page.locator("#meetings").wait_for()
    await page.get_by_role("link", name="Move the meeting on").click()
    await page.get_by_role("heading", name="Move the meeting").wait_for()
    await assert_accessible(page, "moving a meeting")
    # Offered the way booking offers them: ranked, each with its reasons in words.
    offered_text = await page.locator("#slots").inner_text()
    assert "feasible" not in offered_text
    assert re.search(r"\(parent or carer\)|Everyone", offered_text), offered_text
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", offered_text)
    offered = page.locator("#slots a").first
    chosen = (await offered.inner_text()).strip()
    await offered.click()
    await page.get_by_text(f"New time: {chosen}").wait_for()
    await page.get_by_role("button", name="Yes, move it and tell everyone").click()

    await page.get_by_text("Meeting moved; new invites are on their way").wait_for()
    meetings = await page.locator("#meetings + .app-table-wrap table").inner_text()
    assert chosen in meetings
    async with live_app.app[DB].read() as session:
        after = await lookups.get_meeting(session, meeting_id)
    assert after.sequence == before.sequence + 1 and after.start_at != before.start_at
