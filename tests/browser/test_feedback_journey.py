"""Feedback after the meeting: asked once of each party when the outcome is recorded,
answered by two of them on a phone; the reports show it by role, mediator and LA, and the
comment its writer let us quote, without a name."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from typing import Any

import pytest

from orchestrator.closing import outcomes
from orchestrator.core.models import Meeting, OutcomeResult
from orchestrator.web.keys import BUS, DB, DISPATCHER, SETTINGS
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import booked_meeting
from tests.browser.test_outcome_to_certificate import PHONE_390
from tests.browser.test_staff_pages_fit_a_phone import sign_in

pytestmark = pytest.mark.browser

SUBJECT = "How was your mediation meeting?"


def _feedback_links(live: LiveApp) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(live.app[SETTINGS].mail_dir.glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if SUBJECT not in str(mail["Subject"]):
            continue
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(r"https?://\S+/feedback/\S+", body.get_content())
        assert match
        found.setdefault(str(mail["To"]), []).append(match.group(0))
    return found


async def _record(live: LiveApp, meeting: Meeting, result: OutcomeResult) -> None:
    async with live.app[DB].write() as session:
        held = await session.get(Meeting, meeting.id)
        assert held is not None
        await outcomes.record_outcome(
            session,
            meeting=held,
            data=outcomes.OutcomeCreate(result=result),
            now=live.clock(),
            bus=live.app[BUS],
        )
    await live.app[DISPATCHER].run_once()


async def _give_feedback(
    browser: Any, url: str, *, stars: str, listened: str, comment: str, quote: bool
) -> None:
    page = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await page.goto(url)
    await page.get_by_role("heading", name="How was your mediation?").wait_for()
    await assert_accessible(page, "feedback form")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]
    # Nothing chosen: the error summary says what is missing, on the same page.
    await page.get_by_role("button", name="Send my feedback").click()
    await page.get_by_role("link", name="Choose whether you felt listened to").wait_for()
    assert (await page.title()).startswith("Error:")
    await assert_accessible(page, "feedback form with errors")
    await page.get_by_label(stars, exact=True).check()
    await page.get_by_label(listened, exact=True).check()
    await page.get_by_label("Anything else you want to tell us? (optional)").fill(comment)
    if quote:
        await page.get_by_label("You may quote my comment, without my name").check()
    await page.get_by_role("button", name="Send my feedback").click()
    await page.get_by_role("heading", name="Thank you for your feedback").wait_for()


async def test_feedback_from_two_parties_shows_in_the_reports(
    live_app: LiveApp, browser: Any
) -> None:
    _scenario, meeting = await booked_meeting(live_app)
    live_app.clock.set(meeting.end_at)
    await _record(live_app, meeting, OutcomeResult.partial_agreement)
    # A corrected outcome asks nobody twice.
    await _record(live_app, meeting, OutcomeResult.agreement)
    sent = _feedback_links(live_app)
    assert sorted(sent) == ["Lee Grant <lee@kent.example>", "Pat Jordan <pat@family.example>"]
    assert all(len(urls) == 1 for urls in sent.values())

    await _give_feedback(
        browser,
        sent["Pat Jordan <pat@family.example>"][0],
        stars="Very satisfied",
        listened="Yes",
        comment="Pat thought everybody was allowed to share their views fairly",
        quote=True,
    )
    await _give_feedback(
        browser,
        sent["Lee Grant <lee@kent.example>"][0],
        stars="Neither satisfied nor dissatisfied",
        listened="Partly",
        comment="Lee Grant would rather this stayed private",
        quote=False,
    )

    page = await sign_in(live_app, browser, "sam@staff.example")
    await page.goto(f"{live_app.url}/staff/reports")
    await page.get_by_role("heading", name="What the parties said afterwards").wait_for()
    by_role = await page.locator("#feedback-role").inner_text()
    assert re.search(r"Parent or carer\s+1\s+5\.0\s+100%", by_role), by_role
    assert re.search(r"Local authority\S*( officer)?\s+1\s+3\.0\s+0%", by_role), by_role
    assert re.search(
        r"Mo Ahmed\s+2\s+4\.0\s+50%", await page.locator("#feedback-mediator").inner_text()
    )
    assert re.search(
        r"Kent\s+2\s+4\.0\s+50%", await page.locator("#feedback-local-authority").inner_text()
    )
    quotes = await page.locator("#feedback-quotes").inner_text()
    assert "everybody was allowed to share their views fairly" in quotes
    assert "rather this stayed private" not in quotes
    assert "Pat Jordan" not in await page.locator("#feedback").locator("..").inner_text()
    await assert_accessible(page, "reports with feedback")
