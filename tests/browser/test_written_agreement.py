"""The written agreement: the mediator drafts it on the outcome page, each party answers by
their own link (one says what is wrong, the mediator revises, all confirm), everyone gets
the final PDF; the LA's dated action is reminded before its date and overdue after."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader

from orchestrator.core.models import Meeting
from orchestrator.messaging import reminder_sending
from orchestrator.web.keys import DB, DISPATCHER, SETTINGS
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page
from tests.browser.scenario import Scenario, booked_meeting
from tests.browser.test_outcome_to_certificate import PHONE_390, _to_the_outcome_form
from tests.browser.test_staff_pages_fit_a_phone import sign_in

pytestmark = pytest.mark.browser


def _mails(live: LiveApp, to: str, subject: str) -> list[EmailMessage]:
    found = []
    for path in sorted(live.app[SETTINGS].mail_dir.glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if to in str(mail["To"]) and subject in str(mail["Subject"]):
            assert isinstance(mail, EmailMessage)
            found.append(mail)
    return found


def _link(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"https?://\S+/a/\S+", body.get_content())
    assert match, "no agreement link in the mail"
    return match.group(0)


async def _answer(browser: Any, url: str, *, wrong: str = "") -> Any:
    page = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await page.goto(url)
    await page.get_by_role("heading", name="Your mediation agreement", level=1).wait_for()
    await assert_accessible(page, "agreement page")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"]
    if wrong:
        await page.get_by_label("No, something is wrong").check()
        await page.get_by_role("button", name="Send my answer").click()
        await page.get_by_role("link", name="Say what is wrong with the agreement").wait_for()
        assert (await page.title()).startswith("Error:")
        await assert_accessible(page, "agreement page with an error")
        await page.get_by_label("What is wrong?").fill(wrong)
    else:
        await page.get_by_label("Yes, this is what we agreed").check()
    await page.get_by_role("button", name="Send my answer").click()
    await page.get_by_role("heading", name="Your mediation agreement", level=1).wait_for()
    return page


async def _draft_and_send(page: Any, scenario: Scenario, meeting: Meeting) -> date:
    """The mediator's draft with the LA's dated action, sent to everyone; the action's date."""
    # The draft starts from the agreed issues; the mediator writes what was agreed and
    # the LA's action with its date.
    assert await page.locator("#agreement_issues").input_value() == "Full EHC needs assessment"
    await page.get_by_label("What was agreed").fill("The LA will carry out the assessment.")
    due = (meeting.start_at + timedelta(days=14)).date()
    await page.get_by_label("Action 1: who will do it").select_option(str(scenario.officer_id))
    await page.get_by_label("Action 1: what they will do").fill("Start the EHC needs assessment")
    await page.locator("#action_due_1-day").fill(str(due.day))
    await page.locator("#action_due_1-month").fill(str(due.month))
    await page.locator("#action_due_1-year").fill(str(due.year))
    await assert_accessible(page, "agreement draft")
    await page.get_by_role("button", name="Send the agreement to everyone to confirm").click()
    await page.get_by_text("Pat Jordan (Parent or carer): not answered yet").wait_for()
    return due


async def _revise_and_confirm(live_app: LiveApp, browser: Any, page: Any, pat_url: str) -> None:
    """The mediator sees what Pat said, revises, and everyone is asked again and confirms."""
    await page.reload()
    answers = await page.locator("#agreement-answers").inner_text()
    assert "says something is wrong: “The assessment should start within 6 weeks”" in answers
    assert "Lee Grant (Local authority officer): confirmed" in answers
    await page.get_by_label("What was agreed").fill(
        "The LA will carry out the assessment, starting within 6 weeks."
    )
    await page.get_by_role("button", name="Send the revised agreement to everyone").click()
    await page.get_by_text("Version 2 was sent to everyone").wait_for()
    await live_app.app[DISPATCHER].run_once()
    revised = "Please check your revised mediation agreement"
    # The link to the first version no longer works: the new mail has the new one.
    old = await (await new_page(browser)).goto(pat_url)
    assert old is not None and old.status >= 400
    await _answer(browser, _link(_mails(live_app, "pat@family.example", revised)[0]))
    final_page = await _answer(browser, _link(_mails(live_app, "lee@kent.example", revised)[0]))
    assert "It is final" in await final_page.locator("main").inner_text()


async def _reminded_then_overdue(
    live_app: LiveApp, browser: Any, meeting: Meeting, due: date
) -> None:
    """The LA is reminded three days before the date (9am), and only then; after the date
    the board shows the action overdue."""
    settings = live_app.app[SETTINGS]
    before = datetime.combine(due - timedelta(days=3), datetime.min.time(), meeting.start_at.tzinfo)
    live_app.clock.set(before)
    db = live_app.app[DB]
    assert await reminder_sending.send_due(db, settings=settings, now=before, worker_id="t") == 0
    at_nine = before + timedelta(hours=10)
    live_app.clock.set(at_nine)
    assert await reminder_sending.send_due(db, settings=settings, now=at_nine, worker_id="t") == 1
    await live_app.app[DISPATCHER].run_once()
    [reminder] = _mails(live_app, "lee@kent.example", "Reminder: an action from your mediation")
    words = reminder.get_body(("plain",))
    assert words is not None and "Start the EHC needs assessment" in words.get_content()
    assert _mails(live_app, "pat@family.example", "Reminder: an action") == []

    # After the date the board shows the action overdue.
    live_app.clock.set(at_nine + timedelta(days=4))
    board = await sign_in(live_app, browser, "sam@staff.example")
    row = board.locator("#board tr", has_text="KIDS-2026-021")
    await row.wait_for()
    assert "1 agreed action overdue" in await row.inner_text()


async def test_agreement_confirmed_by_everyone_reaches_everyone_as_a_pdf(
    live_app: LiveApp, browser: Any
) -> None:
    scenario, meeting = await booked_meeting(live_app)
    live_app.clock.set(meeting.start_at)
    page = await new_page(browser, viewport=DESKTOP)
    await _to_the_outcome_form(live_app, page)
    await page.get_by_label("Agreement on everything").check()
    await page.locator("#issue_1").fill("Full EHC needs assessment")
    await page.locator("#agreed_1").check()
    await page.get_by_role("button", name="Save the outcome").click()
    await page.get_by_role("heading", name="Written agreement").wait_for()

    due = await _draft_and_send(page, scenario, meeting)
    await live_app.app[DISPATCHER].run_once()
    pat_url = _link(
        _mails(live_app, "pat@family.example", "Please check your mediation agreement")[0]
    )
    lee_url = _link(
        _mails(live_app, "lee@kent.example", "Please check your mediation agreement")[0]
    )
    pat = await _answer(browser, pat_url, wrong="The assessment should start within 6 weeks")
    assert "We have your answer" in await pat.locator("main").inner_text()
    await _answer(browser, lee_url)

    await _revise_and_confirm(live_app, browser, page, pat_url)

    # Everyone gets the final copy, the PDF attached; it says what was agreed.
    await live_app.app[DISPATCHER].run_once()
    for address in ("pat@family.example", "lee@kent.example"):
        [mail] = _mails(live_app, address, "Your copy of the mediation agreement")
        [pdf] = [p.get_content() for p in mail.iter_attachments()]
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "starting within 6 weeks" in text and "KIDS-2026-021" in text
        assert "Lee Grant: Start the EHC needs assessment" in text
    await page.reload()
    assert "Everyone confirmed version 2" in await page.locator("#agreement-status").inner_text()

    await _reminded_then_overdue(live_app, browser, meeting, due)
