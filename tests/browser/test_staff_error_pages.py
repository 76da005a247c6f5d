"""Staff are offered only the links their role may follow, and refusals speak to staff."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.both_sizes import assert_fits_both
from tests.browser.conftest import LiveApp, new_page, screenshot
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser
PARTY_WORDING = "we will send you a new link"


async def sign_in(page: Any, live: LiveApp, email: str, path: str) -> None:
    await page.goto(f"{live.url}{path}")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_a_scheduler_sees_no_console_link_and_a_refusal_says_who_can(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    case_path = f"/staff/cases/{scenario.case_id}"

    sam = await new_page(browser)
    await sign_in(sam, live_app, "sam@staff.example", case_path)
    meetings = sam.locator("#meetings + .app-table-wrap table")
    await meetings.get_by_role("link", name="Move").wait_for()
    assert await meetings.get_by_role("link", name="Room console").count() == 0
    menu = sam.get_by_role("navigation", name="Menu")
    assert await menu.get_by_role("link", name="My sessions").count() == 0
    await assert_fits_both(sam, "case page for a scheduler")

    # An old bookmark to the console: the page says who can open it, in staff words.
    await sam.goto(f"{live_app.url}/staff/meetings/{meeting_id}/console")
    await sam.get_by_role("heading", name="You cannot see this page").wait_for()
    text = await sam.locator("main").inner_text()
    assert (
        "Only mediators and admins can run meetings: open the room console and record outcomes."
        in text
    )
    assert PARTY_WORDING not in text and "If your work needs it, ask an admin." in text
    assert await sam.title() == "You cannot see this page – KIDS SEND Mediation Service"
    await assert_fits_both(sam, "refused the room console")
    await screenshot(sam, "staff-refused")
    await sam.get_by_role("link", name="Go to the deadline board").click()
    await sam.get_by_role("heading", name="Deadline board").wait_for()

    # A case that is not there: said plainly, no id, and the way back.
    missing = uuid.uuid4()
    await sam.goto(f"{live_app.url}/staff/cases/{missing}")
    await sam.get_by_role("heading", name="Page not found").wait_for()
    text = await sam.locator("main").inner_text()
    assert str(missing) not in text and PARTY_WORDING not in text
    await assert_fits_both(sam, "staff page not found")
    await sam.get_by_role("link", name="Go to the deadline board").click()
    await sam.get_by_role("heading", name="Deadline board").wait_for()

    # The mediator is offered the console from the same case page, and it opens.
    mo = await new_page(browser)
    await sign_in(mo, live_app, "mo@staff.example", case_path)
    menu = mo.get_by_role("navigation", name="Menu")
    await menu.get_by_role("link", name="My sessions").wait_for()
    assert await menu.get_by_role("link", name="New case").count() == 0
    await (
        mo.locator("#meetings + .app-table-wrap table")
        .get_by_role("link", name="Room console")
        .click()
    )
    await mo.get_by_role("heading", name="Room console").wait_for()
    assert mo.url.endswith(f"/staff/meetings/{meeting_id}/console")

    # People taking part keep their own wording.
    party = await new_page(browser)
    await party.goto(f"{live_app.url}/p/not-a-real-link")
    assert PARTY_WORDING in await party.locator("main").inner_text()
    assert await party.get_by_role("link", name="Go to the deadline board").count() == 0
