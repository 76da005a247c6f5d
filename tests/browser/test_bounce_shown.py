"""A poll email bounces: the report comes back through the inbound-mail hook, and the
scheduler sees on the case page and on the board that they must phone the parent."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, case_with_people
from tests.orchestrator.bounce_support import TOKEN, dsn, message_id_to

pytestmark = pytest.mark.browser

BOUNCED = "Email to Pat Jordan bounced"


async def test_a_bounced_email_asks_the_scheduler_to_phone(live_app: LiveApp, browser: Any) -> None:
    scenario = await case_with_people(live_app)  # the poll mailed to Pat and Lee
    live_app.app[SETTINGS].inbound_mail_token = SecretStr(TOKEN)
    report = dsn(
        recipient="pat@family.example",
        message_id=await message_id_to(live_app.app[DB], "pat@family.example"),
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{live_app.url}/hooks/mail/inbound",
            data=report,
            headers={"X-Orchestrator-Token": TOKEN},
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json()) == {"result": "bounced"}

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    warning = page.locator(f'[data-unreached="{scenario.parent_id}"]')
    await warning.wait_for()
    assert f"{BOUNCED} (the address does not exist) — phone them." in await warning.inner_text()
    assert await page.locator("[data-unreached]").count() == 1  # Lee's mail went: no warning
    await assert_accessible(page, "the case page with a bounce")

    await page.goto(f"{live_app.url}/staff")
    row = page.get_by_role("row", name="KIDS-2026-021")
    await row.get_by_text(f"{BOUNCED} — phone them").wait_for()
    await assert_accessible(page, "the board with a bounce")
