"""A mediator records the outcome (four issues, two next steps), issues the certificate from
the same page, downloads its PDF and sees whom it was sent to, on a desktop and a phone."""

from __future__ import annotations

import io
from email import message_from_bytes, policy
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from orchestrator.core.models import Certificate, Meeting, Outcome
from orchestrator.web.keys import DB, DISPATCHER, SETTINGS
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
ISSUES = (
    ("Scribe support in exams", True),
    ("Full EHC needs assessment", False),
    ("Speech and language therapy each week", True),
    ("Transport to the new school", True),
)


async def _checked(page: Any, label: str, *, phone: bool = False) -> None:
    await assert_accessible(page, label)
    if phone:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_390["width"], f"{label}: {width} px wide on a 390 px phone"


async def _to_the_outcome_form(live: LiveApp, page: Any) -> None:
    """Sign in as the mediator, run the session from the console and end it."""
    await page.goto(f"{live.url}/sign-in")
    await page.get_by_label("Email address").fill("mo@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Open the room console for KIDS-2026-021").click()
    await page.get_by_role("button", name="Start the session").click()
    await page.get_by_text("Session: in session").wait_for()
    live.clock.advance(minutes=90)
    await page.get_by_role("button", name="End the session for everyone").click()
    await page.get_by_role("button", name="Yes, end the session").click()
    await page.get_by_role("heading", name="Record the outcome", level=1).wait_for()


async def _fill_issue(page: Any, number: int) -> None:
    summary, agreed = ISSUES[number - 1]
    await page.locator(f"#issue_{number}").fill(summary)
    if agreed:
        await page.locator(f"#agreed_{number}").check()


async def test_mediator_records_the_outcome_and_issues_the_certificate(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    async with live_app.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    live_app.clock.set(meeting.start_at)
    page = await new_page(browser, viewport=DESKTOP)
    await _to_the_outcome_form(live_app, page)
    await _checked(page, "outcome form")

    # Four issues: three rows to start with, "Add another issue" for the fourth (no script).
    await page.get_by_label("Agreement on some issues").check()
    for number in (1, 2, 3):
        await _fill_issue(page, number)
    await page.get_by_role("button", name="Add another issue").click()
    await page.locator("#issue_4").wait_for()
    assert await page.evaluate("document.activeElement.id") == "issue_4"
    assert await page.locator("#issue_3").input_value() == ISSUES[2][0]  # kept, not saved
    await _fill_issue(page, 4)

    # Two next steps, the second added the same way.
    await page.get_by_label("Next step 1: what will happen").fill("Send the amended EHC plan")
    await page.get_by_label("Next step 1: who will do it").fill("Lee Grant, Kent")
    await page.locator("#step_due_1-day").fill("27")
    await page.locator("#step_due_1-month").fill("3")
    await page.locator("#step_due_1-year").fill("2026")
    await page.get_by_role("button", name="Add another next step").click()
    await page.get_by_label("Next step 2: what will happen").fill("Visit the new school")
    await page.get_by_label("Next step 2: who will do it").fill("Pat Jordan")
    assert await page.locator("#issue_4").input_value() == ISSUES[3][0]
    await _checked(page, "outcome form with four issues and two next steps")
    await page.get_by_role("button", name="Save the outcome").click()

    await page.get_by_role("heading", name="Outcome recorded").wait_for()
    await page.get_by_role("heading", name="Issue the certificate", level=1).wait_for()
    await _checked(page, "outcome recorded, certificate to issue")
    async with live_app.app[DB].read() as session:
        outcome = (await session.scalars(select(Outcome))).one()
    assert [(i["summary"], i["agreed"]) for i in outcome.issues] == list(ISSUES)
    assert outcome.next_steps == [
        {"action": "Send the amended EHC plan", "who": "Lee Grant, Kent", "due": "2026-03-27"},
        {"action": "Visit the new school", "who": "Pat Jordan", "due": None},
    ]
    # The recorded outcome comes back into the form, with a blank row after it.
    assert await page.locator("#issue_4").input_value() == ISSUES[3][0]
    assert await page.locator("#issue_5").input_value() == ""

    await page.get_by_role("button", name="Issue the certificate and send it").click()
    await page.get_by_role("heading", name="Certificate issued and sent").wait_for()
    await page.get_by_role("heading", name="Outcome and certificate", level=1).wait_for()
    async with live_app.app[DB].read() as session:
        certificate = (await session.scalars(select(Certificate))).one()
    assert certificate.meeting_id == meeting_id
    sent = page.locator("#deliveries")
    assert "Waiting to be sent: Pat Jordan (Parent or carer) at pat@family.example" in (
        await sent.inner_text()
    )
    # Once the outbox has sent them, the page says to whom, and when.
    await live_app.app[DISPATCHER].run_once()
    await page.reload()
    listed = await page.locator("#deliveries").inner_text()
    assert "Sent to Pat Jordan (Parent or carer) at pat@family.example" in listed
    assert "Sent to Lee Grant (Local authority officer) at lee@kent.example" in listed
    assert "Monday 9 March 2026" in listed and "UTC" not in listed
    await _checked(page, "certificate issued and sent")
    await screenshot(page, "outcome-certificate")

    # The PDF: downloaded as a file, and its words are the certificate's.
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download the certificate (PDF)").click()
    download = await info.value
    assert download.suggested_filename == f"{certificate.number}.pdf"
    pdf_path = await download.path()
    text = "\n".join(p.extract_text() for p in PdfReader(str(pdf_path)).pages)
    assert certificate.number in text and "KIDS-2026-021" in text
    assert "Mediation took place on" in text and "Pat Jordan" in text
    # To preview, the same PDF opens in the browser (inline, not as a download).
    view = page.get_by_role("link", name="View the certificate (PDF, opens in a new tab)")
    shown = await page.request.get(f"{live_app.url}{await view.get_attribute('href')}")
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers["content-disposition"].startswith("inline")
    assert io.BytesIO(await shown.body()).getvalue() == pdf_path.read_bytes()

    # The email the family received carries the same PDF.
    mails = sorted(live_app.app[SETTINGS].mail_dir.glob("*.eml"))
    to_pat = [
        m
        for m in (message_from_bytes(p.read_bytes(), policy=policy.SMTP) for p in mails)
        if "pat@family.example" in str(m["To"]) and certificate.number in str(m["Subject"])
    ]
    assert len(to_pat) == 1
    attached = [part.get_filename() for part in to_pat[0].iter_attachments()]
    assert attached == [f"{certificate.number}.pdf"]

    # Once issued, the outcome stands: shown, no longer a form.
    assert await page.locator("#issue_1").count() == 0
    assert "Transport to the new school – agreed" in await page.locator("main").inner_text()
    assert "Send the amended EHC plan – Lee Grant, Kent, by Fri 27 Mar 2026" in (
        await page.locator("main").inner_text()
    )


async def test_the_outcome_and_certificate_fit_a_phone(live_app: LiveApp, browser: Any) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    async with live_app.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    live_app.clock.set(meeting.start_at)
    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await _to_the_outcome_form(live_app, phone)
    await _checked(phone, "outcome form on a phone", phone=True)

    # Nothing chosen: the error summary links to the question; the title says Error.
    await phone.get_by_role("button", name="Save the outcome").click()
    await phone.get_by_role("link", name="Choose what happened").wait_for()
    assert (await phone.title()).startswith("Error:")
    await _checked(phone, "outcome form with an error on a phone", phone=True)

    await phone.get_by_label("Agreement on everything").check()
    await _fill_issue(phone, 1)
    await phone.get_by_role("button", name="Save the outcome").click()
    await phone.get_by_role("heading", name="Issue the certificate", level=1).wait_for()
    await _checked(phone, "certificate to issue on a phone", phone=True)
    await phone.get_by_role("button", name="Issue the certificate and send it").click()
    await phone.get_by_role("heading", name="Outcome and certificate", level=1).wait_for()
    await _checked(phone, "certificate issued on a phone", phone=True)
