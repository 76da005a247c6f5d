"""Who is coming: the parent accepts by their RSVP link, the officer declines by theirs; the
scheduler sees each answer beside the name on the case page, and "1 of 2 accepted" on the board.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from orchestrator.core.models import Invitation, OutboxMessage, PartStat
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.phone_fit import PHONE_390, fits_a_phone
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def rsvp_link(live: LiveApp, email: str, answer: str) -> str:
    """The link in the invitation email to ``email`` that answers ``answer``."""
    async with live.app[DB].read() as session:
        invites = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.topic) == "invite.request")
        )
        for row in invites.all():
            if email in row.payload.get("to", []):
                body = email_from_payload(row.payload).get_body(preferencelist=("plain",))
                assert body is not None
                found = re.search(rf"http://\S+/r/\S+\?answer={answer}", str(body.get_content()))
                assert found is not None, "the invitation has no RSVP link"
                return found.group(0)
    raise AssertionError(f"no invitation email to {email}")


async def answer_invite(browser: Any, url: str, choice: str, *, on_a_phone: bool) -> None:
    """A person opens the link in their invitation and sends their answer."""
    if on_a_phone:
        page = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    else:
        page = await new_page(browser)
    check = fits_a_phone if on_a_phone else assert_accessible
    await page.goto(url)
    await page.get_by_role("heading", name="Can you come to the meeting?").wait_for()
    await check(page, "the invitation's answer page")
    await page.get_by_label(choice).check()
    await page.get_by_role("button", name="Send my answer").click()
    await page.get_by_role("heading", name="Thank you – we have your answer").wait_for()
    await check(page, "the answer saved")
    await page.context.close()


async def partstat(live: LiveApp, party_id: uuid.UUID) -> PartStat:
    async with live.app[DB].read() as session:
        found = await session.scalar(select(Invitation).where(col(Invitation.party_id) == party_id))
    assert found is not None
    return found.partstat


async def test_scheduler_sees_who_is_coming_beside_each_name_and_on_the_board(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    await book_best_slot(live_app, scenario)
    live_app.clock.advance(hours=2)
    pat_link = await rsvp_link(live_app, "pat@family.example", "accepted")
    await answer_invite(browser, pat_link, "Yes, I will come", on_a_phone=False)
    lee_link = await rsvp_link(live_app, "lee@kent.example", "declined")
    await answer_invite(browser, lee_link, "No, I cannot come", on_a_phone=True)
    assert await partstat(live_app, scenario.parent_id) is PartStat.accepted
    assert await partstat(live_app, scenario.officer_id) is PartStat.declined

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Case KIDS-2026-021").wait_for()

    table = page.locator("#party-table")
    pat = await table.get_by_role("row", name=re.compile("Pat Jordan")).inner_text()
    lee = await table.get_by_role("row", name=re.compile("Lee Grant")).inner_text()
    assert "Invitation: Accepted" in pat and "with the link in their email" in pat
    assert "Invitation: Declined" in lee and "with the link in their email" in lee
    # When they answered, in the case's own words for time (Monday 2 March, 11am GMT).
    assert "Monday 2 March 2026, 11am" in pat and "Monday 2 March 2026, 11am" in lee
    assert "Poll: not answered yet" in pat and "Poll: not answered yet" in lee
    assert str(scenario.parent_id) not in pat and "ACCEPTED" not in pat
    await assert_accessible(page, "case page with answers")
    await screenshot(page, "who-is-coming")

    await page.get_by_role("link", name="Deadline board").first.click()
    row = page.locator("#board").get_by_role("row", name=re.compile("KIDS-2026-021"))
    assert "1 of 2 accepted" in await row.inner_text()
    await assert_accessible(page, "board with replies")

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await phone.get_by_role("heading", name="Case KIDS-2026-021").wait_for()
    await fits_a_phone(phone, "case page with answers")
    await phone.goto(f"{live_app.url}/staff")
    await phone.locator("#board").wait_for()
    await fits_a_phone(phone, "board with replies")
