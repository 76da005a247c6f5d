"""A scheduler gets a new-case form wrong: GOV.UK's error summary, plain words, focus moved.

The summary is focused on load (GOV.UK Frontend's script), its links move focus to each
field, the page title starts "Error:", and every message is a plain sentence.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.core.models import StaffRole
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import DB
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
PHONE = {"width": 390, "height": 844}


async def signed_in_scheduler(
    live_app: LiveApp, browser: Any, viewport: dict[str, int], **context: Any
) -> Any:
    async with live_app.app[DB].write() as session:
        await add_user(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            name="Sam",
            password=PASSWORD,
        )
    page = await new_page(browser, viewport=viewport, **context)
    await page.goto(f"{live_app.url}/staff/cases/new")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Open a case from a referral").wait_for()
    return page


async def summary_links(page: Any) -> list[str]:
    summary = page.locator(".govuk-error-summary")
    await summary.wait_for()
    return [text.strip() for text in await summary.get_by_role("link").all_inner_texts()]


async def assert_summary_focused(page: Any) -> None:
    await page.wait_for_function(
        "document.activeElement && document.activeElement.classList.contains('govuk-error-summary')"
    )


async def fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_an_empty_new_case_form_says_what_to_enter(
    live_app: LiveApp, browser: Any, viewport: dict[str, int]
) -> None:
    page = await signed_in_scheduler(live_app, browser, viewport)
    assert not (await page.title()).startswith("Error")
    referral = page.get_by_role("group", name="Date the family said go ahead")
    for box in ("Day", "Month", "Year"):
        await referral.get_by_label(box).fill("")
    await page.get_by_role("button", name="Open case").click()

    assert await summary_links(page) == [
        "Enter the case reference",
        "Enter the local authority",
        "Enter the referral date",
    ]
    await assert_summary_focused(page)
    assert (await page.title()).startswith("Error: New case")
    body = await page.locator("main").inner_text()
    assert "Field required" not in body and "Input should" not in body
    await page.locator("#reference-error").get_by_text("Enter the case reference").wait_for()
    await assert_accessible(page, f"new case, empty, {viewport['width']}px")
    if viewport is PHONE:
        await fits(page)

    # Each link in the summary moves focus to its field.
    for link, field in (
        ("Enter the case reference", "reference"),
        ("Enter the local authority", "local_authority"),
        ("Enter the referral date", "referral_date-day"),
    ):
        await page.locator(".govuk-error-summary").get_by_role("link", name=link).click()
        focused = await page.evaluate("document.activeElement.id")
        assert focused == field, link


async def test_a_bad_date_and_target_are_said_plainly(live_app: LiveApp, browser: Any) -> None:
    page = await signed_in_scheduler(live_app, browser, DESKTOP)
    await page.get_by_label("Case reference").fill("KIDS-2026-030")
    await page.get_by_label("Local authority", exact=True).fill("Kent")
    referral = page.get_by_role("group", name="Date the family said go ahead")
    await referral.get_by_label("Day").fill("27")
    await referral.get_by_label("Month").fill("")
    await referral.get_by_label("Year").fill("2026")
    decision = page.get_by_role("group", name="Date of the local authority's decision")
    await decision.get_by_label("Day").fill("31")
    await decision.get_by_label("Month").fill("2")
    await decision.get_by_label("Year").fill("2026")
    await page.get_by_label("Target in days (optional)").fill("twenty")
    await page.get_by_role("button", name="Open case").click()

    assert await summary_links(page) == [
        "The referral date must include a month",
        "The decision date must be a real date",
        "Enter the target as a whole number of days, like 20",
    ]
    await assert_summary_focused(page)
    assert (await page.title()).startswith("Error: ")
    # The month is missing: its link goes to the month box, and only that box is marked.
    await (
        page.locator(".govuk-error-summary")
        .get_by_role("link", name="The referral date must include a month")
        .click()
    )
    assert await page.evaluate("document.activeElement.id") == "referral_date-month"
    marked = await referral.locator(".govuk-input--error").evaluate_all("els => els.map(e => e.id)")
    assert marked == ["referral_date-month"]
    # What was typed stays in the boxes.
    assert await referral.get_by_label("Day").input_value() == "27"
    assert await decision.get_by_label("Month").input_value() == "2"
    await (
        page.locator(".govuk-error-summary")
        .get_by_role("link", name="The decision date must be a real date")
        .click()
    )
    assert await page.evaluate("document.activeElement.id") == "decision_date-day"
    await assert_accessible(page, "new case, bad date")

    # A day in the future: the use case refuses it, and the page says so in the date's words.
    await referral.get_by_label("Month").fill("3")
    await referral.get_by_label("Day").fill("27")
    for box in ("Day", "Month", "Year"):
        await decision.get_by_label(box).fill("")
    await page.get_by_label("Target in days (optional)").fill("")
    await page.get_by_role("button", name="Open case").click()
    assert await summary_links(page) == ["The referral date must be today or in the past"]
    await assert_summary_focused(page)

    await referral.get_by_label("Day").fill("27")
    await referral.get_by_label("Month").fill("2")
    await page.get_by_role("button", name="Open case").click()
    await page.get_by_role("heading", name="Case KIDS-2026-030").wait_for()
    assert not (await page.title()).startswith("Error")


async def test_a_party_with_a_bad_email_is_told_the_format(live_app: LiveApp, browser: Any) -> None:
    page = await signed_in_scheduler(live_app, browser, PHONE)
    await page.get_by_label("Case reference").fill("KIDS-2026-031")
    await page.get_by_label("Local authority", exact=True).fill("Kent")
    await page.get_by_role("button", name="Open case").click()
    await page.get_by_role("heading", name="Case KIDS-2026-031").wait_for()

    form = page.locator("#add-party")
    await form.get_by_label("Full name").fill("")
    await form.get_by_label("Email address").fill("pat.family.example")
    await form.get_by_role("button", name="Add person").click()
    assert await summary_links(page) == [
        "Enter the full name",
        "Enter an email address in the correct format, like name@example.com",
    ]
    await assert_summary_focused(page)
    assert (await page.title()).startswith("Error: Case KIDS-2026-031")
    await assert_accessible(page, "add a person, bad email, 390px")
    await fits(page)
    await (
        page.locator(".govuk-error-summary")
        .get_by_role("link", name="Enter an email address in the correct format")
        .click()
    )
    assert await page.evaluate("document.activeElement.id") == "email"


async def test_without_javascript_the_form_still_says_what_is_wrong(
    live_app: LiveApp, browser: Any
) -> None:
    page = await signed_in_scheduler(live_app, browser, PHONE, java_script_enabled=False)
    await page.get_by_label("Case reference").fill("KIDS-2026-032")
    await page.get_by_role("button", name="Open case").click()
    assert await summary_links(page) == ["Enter the local authority"]
    assert (await page.title()).startswith("Error: New case")
    await page.get_by_label("Local authority", exact=True).fill("Kent")
    await page.get_by_role("button", name="Open case").click()
    await page.get_by_role("heading", name="Case KIDS-2026-032").wait_for()
