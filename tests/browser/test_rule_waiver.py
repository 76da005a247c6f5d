"""A scheduler books a time inside the family's notice: the page says why, the waiver books it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.core.models import Meeting
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD, case_with_people

pytestmark = pytest.mark.browser


async def test_scheduler_waives_the_notice_with_a_reason(live_app: LiveApp, browser: Any) -> None:
    scenario = await case_with_people(live_app, poll=False)
    page = await new_page(browser)
    # Wednesday 4 March, when the test clock says Monday 2 March: too little notice.
    await page.goto(
        f"{live_app.url}/staff/cases/{scenario.case_id}/book?start=2026-03-04T10:00:00%2B00:00"
    )
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Check and book the meeting").wait_for()
    warning = page.locator("#rules-broken")
    assert "at least 5 working days before" in await warning.inner_text()
    await assert_accessible(page, "booking a time that breaks a rule")

    await page.get_by_role("button", name="Book and send invites").click()
    await page.get_by_text("That time breaks the scheduling rules shown below").wait_for()
    async with live_app.app[DB].read() as session:
        assert (await session.scalars(select(Meeting))).first() is None

    await page.get_by_label("Waive the rules for this meeting").check()
    await page.get_by_label("Why are the rules waived?").fill("Family agreed to shorter notice")
    await screenshot(page, "booking-rule-waiver")
    await page.get_by_role("button", name="Book and send invites").click()
    await page.get_by_text("Meeting booked; invites are on their way.").wait_for()
    await page.get_by_text("Family agreed to shorter notice").first.wait_for()  # the timeline
    async with live_app.app[DB].read() as session:
        assert len((await session.scalars(select(Meeting))).all()) == 1
