"""A scheduler records the day the LA told the health commissioners: the clock stops."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.cases import intake
from orchestrator.core.models import CaseUpdate
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, case_with_people

pytestmark = pytest.mark.browser


async def test_scheduler_records_that_the_icb_was_told(live_app: LiveApp, browser: Any) -> None:
    # The LA officer joined (so was told) on Monday 2 March: the ICB is due by Thursday 5.
    scenario = await case_with_people(live_app, poll=False)
    async with live_app.app[DB].write() as session:
        case = await intake.get_case(session, scenario.case_id)
        await intake.update_case(
            session,
            case=case,
            data=CaseUpdate(health_in_issue=True),
            now=live_app.clock(),
            actor=None,
        )
    live_app.clock.set(datetime(2026, 3, 9, 10, tzinfo=UTC))  # Monday 9 March
    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    clock_row = page.get_by_role("row", name="LA tells health (ICB)")
    await clock_row.get_by_text("4 days overdue").wait_for()

    told = page.get_by_role("group", name="Day the local authority told the health commissioners")
    day = told.get_by_label("Day")
    await day.fill("10")  # tomorrow: refused beside the field
    await page.get_by_role("button", name="Record that the ICB was told").click()
    error = page.locator("#icb_notified_on-error")
    await error.get_by_text("The date the ICB was told must be today or in the past").wait_for()
    assert (await page.title()).startswith("Error: ")
    await assert_accessible(page, "the ICB notice refused")

    await day.fill("6")
    await page.get_by_role("button", name="Record that the ICB was told").click()
    await page.get_by_text("Saved: the day the health commissioners (ICB) were told.").wait_for()
    clock_row = page.get_by_role("row", name="LA tells health (ICB)")
    assert "Done late" in await clock_row.inner_text()
    assert "Fri 6 Mar 2026, 1 day late" in await clock_row.inner_text()
    assert "overdue" not in await clock_row.inner_text()
    await assert_accessible(page, "the ICB notice recorded")
