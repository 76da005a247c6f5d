"""A parent refers themselves on a phone; a scheduler accepts it into a case and asks
everyone when they can meet; each sees what they should (the page, the email, the board)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.cases import panel, referrals
from orchestrator.core.models import MediatorCreate, OutboxKind, StaffRole
from orchestrator.messaging import referral_replies
from orchestrator.messaging.outbox import Dispatcher, mail_handler
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import BUS, CLOCK, DB, MAIL, SETTINGS, WORKDAYS
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.phone_fit import PHONE_390, fits_a_phone
from tests.orchestrator.invites_support import mail_to, read_folder, text_of

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
FAMILY = "pat.jordan@family.example"


async def deliver(live: LiveApp) -> None:
    app = live.app
    await Dispatcher(
        app[DB], {OutboxKind.email: mail_handler(app[MAIL])}, clock=app[CLOCK]
    ).run_once()


async def family_refers(live: LiveApp, browser: Any) -> None:
    page = await new_page(browser, viewport=PHONE_390)
    await page.goto(f"{live.url}/")
    await page.get_by_role("link", name="ask us for mediation").click()
    await page.get_by_role("heading", name="Ask us for mediation").wait_for()
    await fits_a_phone(page, "referral form")
    await page.get_by_role("button", name="Send my referral").click()
    summary = page.locator(".govuk-error-summary")
    await summary.wait_for()
    assert "Enter your full name" in await summary.inner_text()
    assert (await page.title()).startswith("Error: ")
    await fits_a_phone(page, "referral form with problems")
    await page.get_by_label("I am a parent or carer").check()
    await page.get_by_label("Your full name").fill("Pat Jordan")
    await page.get_by_label("Email", exact=True).check()
    await page.get_by_label("Email address", exact=True).fill(FAMILY)
    await page.get_by_label("When is it best to contact you?").fill("Weekday mornings")
    await page.get_by_label("Your local authority (council)").fill("Kent")
    letter = page.get_by_role("group", name="Date on the local authority's decision letter")
    await letter.get_by_label("Day").fill("10")
    await letter.get_by_label("Month").fill("2")
    await letter.get_by_label("Year").fill("2026")
    await page.get_by_label("Education").check()
    await page.get_by_label("Mediation", exact=True).check()
    await page.get_by_role("button", name="Send my referral").click()
    await page.get_by_role("heading", name="Thank you – we have your referral").wait_for()
    await fits_a_phone(page, "referral sent")
    await page.context.close()


async def test_a_parent_refers_themselves_and_a_scheduler_opens_the_case(
    live_app: LiveApp, browser: Any
) -> None:
    app = live_app.app
    async with app[DB].write() as session:
        await add_user(
            session, email="sam@staff.example", role=StaffRole.scheduler, password=PASSWORD
        )
        await panel.create_mediator(
            session,
            data=MediatorCreate(
                name="Mo Ahmed",
                email="mo@staff.example",
                working_hours={d: ("07:00", "21:00") for d in range(1, 8)},
            ),
            now=live_app.clock(),
        )
    await family_refers(live_app, browser)

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/sign-in")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Referrals").click()
    await page.get_by_role("heading", name="Referrals from families").wait_for()
    card = page.locator(".govuk-summary-card", has_text="Pat Jordan")
    assert "Weekday mornings" in await card.inner_text()
    assert "Education" in await card.inner_text()
    await assert_accessible(page, "referrals list")
    await card.get_by_label("Case reference").fill("KIDS-2026-101")
    await card.get_by_role("button", name="Accept into a case").click()
    await page.get_by_role("heading", name="Case KIDS-2026-101").wait_for()
    await page.get_by_text("Case opened from the family’s own referral").wait_for()
    await page.locator("#mediator_id").select_option(label="Mo Ahmed")
    await page.get_by_role("button", name="Assign mediator").click()
    await page.get_by_text("Mediator assigned.").wait_for()
    await page.get_by_role("button", name="Ask everyone when they can meet").click()
    await page.get_by_text("Availability poll sent to everyone without a calendar.").wait_for()
    await assert_accessible(page, "case opened from a referral")

    # The family's inbox: the acknowledgement with the reference and the clocks, then the poll.
    await deliver(live_app)
    to_family = mail_to(read_folder(app[SETTINGS].mail_dir), FAMILY)
    ack = next(m for m in to_family if "We have your referral" in str(m["Subject"]))
    words = " ".join(text_of(ack).split())
    assert "Your case reference is KIDS-2026-101" in words
    assert "We aim to hold the meeting by Saturday 4 April 2026" in words
    assert "that is by Wednesday 1 April 2026" in words
    assert any("/p/" in text_of(m) for m in to_family)  # their poll link

    # The board: the case is there, its target counted from the day the family asked.
    await page.get_by_role("link", name="Deadline board").click()
    row = page.locator("#board tbody tr", has_text="KIDS-2026-101")
    await row.wait_for()
    assert "33 days left" in await row.inner_text()
    await page.goto(f"{live_app.url}/staff/referrals")
    await page.get_by_text("No referrals are waiting.").wait_for()


async def test_a_young_person_refers_themselves_and_chooses_who_comes_on_a_phone(
    live_app: LiveApp, browser: Any
) -> None:
    app = live_app.app
    page = await new_page(browser, viewport=PHONE_390)
    await page.goto(f"{live_app.url}/refer")
    await page.get_by_label("I am a young person (16 to 25) asking for myself").check()
    await page.get_by_label("Your full name").fill("Jordan Lee")
    await page.get_by_label("Email", exact=True).check()
    await page.get_by_label("Email address", exact=True).fill("jordan@young.example")
    await page.get_by_label("Your local authority (council)").fill("Kent")
    await page.get_by_label("Social care").check()
    await page.get_by_label("Disagreement resolution").check()
    # No date of birth yet: the form asks for it, on the same page.
    await page.get_by_role("button", name="Send my referral").click()
    summary = page.locator(".govuk-error-summary")
    assert "Enter your date of birth" in await summary.inner_text()
    born = page.get_by_role("group", name="Your date of birth (young people only)")
    await born.get_by_label("Day").fill("15")
    await born.get_by_label("Month").fill("10")
    await born.get_by_label("Year").fill("2008")
    await page.get_by_role("button", name="Send my referral").click()
    await page.get_by_role("heading", name="Thank you – we have your referral").wait_for()

    async with app[DB].write() as session:
        (waiting,) = await referrals.list_referrals(session)
        await referral_replies.accept_referral(
            session,
            referral_id=waiting.id,
            reference="KIDS-2026-102",
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
            bus=app[BUS],
            now=live_app.clock(),
            actor=None,
        )
    await deliver(live_app)
    to_jordan = mail_to(read_folder(app[SETTINGS].mail_dir), "jordan@young.example")
    (ack,) = [m for m in to_jordan if "referral" in str(m["Subject"])]  # beside their own page
    found = re.search(r"(/b/\S+)", text_of(ack))
    assert found is not None
    await page.goto(live_app.url + found.group(1))
    await page.get_by_role("heading", name="Who would you like to bring?").wait_for()
    await fits_a_phone(page, "who would you like to bring")
    await page.get_by_label("An advocate or someone else who supports me").check()
    await page.get_by_label("Their full name").fill("Ash Khan")
    await page.get_by_label("Their email address").fill("ash@advocacy.example")
    await page.get_by_role("button", name="Add them").click()
    await page.get_by_text("We have added them.").wait_for()
    assert "Ash Khan" in await page.locator("#supporters").inner_text()
    await fits_a_phone(page, "supporter added")
