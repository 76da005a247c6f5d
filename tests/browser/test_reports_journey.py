"""A scheduler opens Reports from the staff menu, reads the figures overall and per local
authority, narrows them to this financial year and downloads them as CSV, in Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core.models import StaffRole
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD
from tests.orchestrator.test_reports import add_waiting_cases, load_caseload

pytestmark = pytest.mark.browser
PHONE_390 = {"width": 390, "height": 844}


async def seed(live_app: LiveApp) -> None:
    """The caseload of tests/orchestrator/test_reports.py, and Sam who schedules."""
    await load_caseload(live_app.app[DB])
    await add_waiting_cases(live_app.app[DB])
    async with live_app.app[DB].write() as session:
        await add_user(
            session, email="sam@staff.example", role=StaffRole.scheduler, password=PASSWORD
        )


async def signed_in_scheduler(live_app: LiveApp, browser: Any, viewport: dict[str, int]) -> Any:
    page = await new_page(browser, viewport=viewport, accept_downloads=True)
    await page.goto(f"{live_app.url}/sign-in")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Deadline board", level=1).wait_for()
    return page


async def row_cells(page: Any, table: str, header: str) -> list[str]:
    row = page.locator(f"{table} tbody tr").filter(has=page.get_by_role("rowheader", name=header))
    return [text.strip() for text in await row.locator("td").all_inner_texts()]


async def test_scheduler_reads_the_figures_per_local_authority_and_downloads_them(
    live_app: LiveApp, browser: Any
) -> None:
    # Kent: A (18 days, agreement) and B (39 days, no agreement), certificates 2 of 3 on
    # time, and H waiting past its target with no meeting; Medway: C (22 days, partial) and
    # D (30 days); see tests/orchestrator/test_reports.
    await seed(live_app)
    page = await signed_in_scheduler(live_app, browser, {"width": 1280, "height": 900})

    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Reports").click()
    await page.get_by_role("heading", name="Reports", level=1).wait_for()
    assert page.url.endswith("/staff/reports")
    await page.get_by_text("for all dates, in total and by local authority").wait_for()
    totals = page.locator("#totals")
    assert await row_cells(page, "#totals", "First meeting within the target") == ["3 of 4 (75%)"]
    assert await row_cells(page, "#totals", "Cases waiting past their target with no meeting") == [
        "1"
    ]
    assert await row_cells(page, "#totals", "Days from referral to meeting") == [
        "median 26 days; middle half 21 to 32 days; fewest 18, most 39"
    ]
    assert await row_cells(page, "#totals", "People expected who attended") == ["6 of 8 (75%)"]
    assert "67% (1 full, 1 partial, 1 none" in await totals.inner_text()
    assert await row_cells(
        page, "#totals", "Certificates issued on time (within 3 working days)"
    ) == ["2 of 3 (67%)"]

    headers = " | ".join(
        h.strip() for h in await page.locator("#by-group th[scope=col]").all_inner_texts()
    )
    assert headers == (
        "Local authority | First meetings | Within the target | Waiting past the target"
        " | Days from referral to meeting | Attendance | Agreement rate | Certificates on time"
    )
    assert await row_cells(page, "#by-group", "Kent") == [
        "2",
        "1 of 2 (50%)",
        "1",
        "median 28.5 days; middle half 23 to 34 days; fewest 18, most 39",
        "3 of 4 (75%)",
        "50%",
        "2 of 3 (67%)",
    ]
    assert await row_cells(page, "#by-group", "Medway") == [
        "2",
        "2 of 2 (100%)",
        "0",
        "median 26 days; middle half 24 to 28 days; fewest 22, most 30",
        "3 of 4 (75%)",
        "100%",
        "no data",
    ]
    chart = page.get_by_role("img", name="Meetings held within the target, by local authority")
    assert await chart.count() == 1
    await assert_accessible(page, "reports")
    await screenshot(page, "reports")

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download these figures (CSV spreadsheet)").click()
    download = await download_info.value
    assert download.suggested_filename == "mediation-figures-by-local_authority.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["local_authority"] for r in rows] == ["Kent", "Medway", "total"]
    kent, medway, total = rows
    assert (kent["within_target"], kent["meetings_held"], kent["within_target_share"]) == (
        "1",
        "2",
        "0.5",
    )
    assert (kent["median_days_to_meeting"], kent["certificates_on_time"]) == ("28.5", "2")
    assert (medway["agreement_rate"], medway["certificates_issued"]) == ("1.0", "0")
    assert (total["people_attended"], total["people_expected"]) == ("6", "8")
    assert (kent["waiting_past_target"], medway["waiting_past_target"]) == ("1", "0")
    assert (total["median_days_to_meeting"], total["certificates_on_time_share"]) == (
        "26.0",
        "0.6667",
    )

    # This financial year (to 31 March 2026): only A met, and A's and E's certificates.
    await page.get_by_label("Period").select_option(label="This financial year")
    await page.get_by_role("button", name="Show figures").click()
    await page.get_by_text("this financial year (1 April 2025 to 31 March 2026)").wait_for()
    assert await row_cells(page, "#by-group", "Kent") == [
        "1",
        "1 of 1 (100%)",
        "1",
        "median 18 days; middle half 18 to 18 days; fewest 18, most 18",
        "2 of 2 (100%)",
        "100%",
        "2 of 2 (100%)",
    ]
    assert await page.locator("#by-group").get_by_role("rowheader", name="Medway").count() == 0
    await assert_accessible(page, "reports for this financial year")


async def test_reports_fit_a_phone(live_app: LiveApp, browser: Any) -> None:
    await seed(live_app)
    page = await signed_in_scheduler(live_app, browser, PHONE_390)
    toggle = page.get_by_role("button", name="Menu")
    if await toggle.is_visible():  # GOV.UK Frontend folds the menu away on a phone
        await toggle.click()
    await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Reports").click()
    await page.get_by_role("heading", name="Reports", level=1).wait_for()
    await assert_accessible(page, "reports on a phone")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "reports-phone")
