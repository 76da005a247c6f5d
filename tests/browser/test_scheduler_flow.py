"""A scheduler signs in, opens a case and adds the people, in Chromium, checked by axe."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.core.models import StaffRole
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


async def test_scheduler_signs_in_opens_a_case_and_adds_parties(
    live_app: LiveApp, browser: Any
) -> None:
    async with live_app.app[DB].write() as session:
        await add_user(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            name="Sam",
            password=PASSWORD,
        )
    page = await new_page(browser)

    # The service's own address says what it is and leads staff to sign in.
    await page.goto(f"{live_app.url}/")
    await page.get_by_text("This service organises SEND mediation meetings").wait_for()
    await assert_accessible(page, "front door")
    await page.get_by_role("link", name="Staff sign in").click()
    await page.get_by_role("heading", name="Sign in").wait_for()
    assert page.url.endswith("/sign-in")

    # Signed out: sent to sign in, and brought back afterwards.
    await page.goto(f"{live_app.url}/staff/cases/new")
    assert "/sign-in" in page.url
    await assert_accessible(page, "sign in")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("The email address or password is not right").first.wait_for()
    await assert_accessible(page, "sign in with an error")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Open a case from a referral").wait_for()
    await assert_accessible(page, "new case")

    await page.get_by_label("Case reference").fill("KIDS-2026-014")
    await page.get_by_label("Local authority", exact=True).fill("Kent")
    referral = page.get_by_role("group", name="Date the family said go ahead")
    await referral.get_by_label("Day").fill("27")
    await referral.get_by_label("Month").fill("2")
    await referral.get_by_label("Year").fill("2026")
    await page.get_by_role("button", name="Open case").click()
    await page.get_by_role("heading", name="Case KIDS-2026-014").wait_for()
    await page.get_by_text("Case KIDS-2026-014 is open").wait_for()

    for role, name, email in (
        ("parent", "Pat Jordan", "pat@family.example"),
        ("la_officer", "Lee Grant", "lee@kent.example"),
    ):
        details = page.locator("details.govuk-details")
        if await details.get_attribute("open") is None:
            await page.get_by_text("Add a person").click()
        await page.locator("#role").select_option(role)
        await page.locator("#name").fill(name)
        await page.locator("#email").fill(email)
        await page.get_by_role("button", name="Add person").click()
        await page.get_by_text("Party added.").wait_for()
    table = page.locator("#party-table")
    assert await table.get_by_role("rowheader", name="Pat Jordan").count() == 1
    assert await table.get_by_text("Local authority officer").count() == 1
    await assert_accessible(page, "case page")
    await screenshot(page, "case-page")

    await page.get_by_role("link", name="Deadline board").click()
    await page.locator("#board").wait_for()
    row = page.locator("#board tbody tr").first
    assert "KIDS-2026-014" in await row.inner_text()
    assert "On track" in await row.inner_text()
    await assert_accessible(page, "board")
    await screenshot(page, "deadline-board")
