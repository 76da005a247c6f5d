"""The family's own link on a phone: book the 20-minute information call, or withdraw from
mediation; the adviser marks the call done and issues the certificate; the scheduler sees
each certificate clock on the board, the LA's "cannot meet the 30 days" included."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from orchestrator.core.models import (
    CaseKind,
    Meeting,
    MeetingStatus,
    OutboxMessage,
)
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.web.keys import DB
from tests.browser.conftest import DESKTOP, LiveApp, new_page
from tests.browser.phone_fit import PHONE_390, fits_a_phone
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

FAMILY_LINK = re.compile(r"http://\S+/f/\S+")


async def _mails(live: LiveApp, topic: str) -> list[tuple[str, str, str]]:
    """(to, subject, plain text) of each queued email of ``topic``."""
    async with live.app[DB].read() as session:
        rows = await session.scalars(select(OutboxMessage).where(col(OutboxMessage.topic) == topic))
        found = []
        for row in rows.all():
            message = email_from_payload(row.payload)
            body = message.get_body(preferencelist=("plain",))
            text = " ".join(str(body.get_content()).split()) if body is not None else ""
            found.append((str(message["To"]), str(message["Subject"]), text))
        return found


async def _family_link(live: LiveApp, address: str) -> str:
    (mail,) = [m for m in await _mails(live, "family_link") if address in m[0]]
    found = FAMILY_LINK.search(mail[2])
    assert found is not None
    return found.group(0)


async def _sign_in(live: LiveApp, page: Any, email: str) -> None:
    await page.goto(f"{live.url}/sign-in")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def _board(live: LiveApp, browser: Any) -> Any:
    """The scheduler's deadline board, signed in."""
    board = await new_page(browser, viewport=DESKTOP)
    await _sign_in(live, board, "sam@staff.example")
    await board.goto(f"{live.url}/staff")
    return board


async def test_the_family_books_their_call_and_the_adviser_issues_the_certificate(
    live_app: LiveApp, browser: Any
) -> None:
    case = await case_with_people(live_app, poll=False, kind=CaseKind.mias)
    link = await _family_link(live_app, "pat@family.example")
    page = await new_page(browser, viewport=PHONE_390)
    await page.goto(link)
    await fits_a_phone(page, "the family's page before booking")
    await page.get_by_role("button", name="Choose a time for your call").click()
    await page.get_by_role("heading", name="Choose a time for your call").wait_for()
    await fits_a_phone(page, "the call times")

    await page.get_by_label("The phone number we should call you on").fill("")
    await page.get_by_role("button", name="Book this call").click()
    await page.get_by_text("There is a problem").wait_for()
    assert (await page.title()).startswith("Error:")
    await fits_a_phone(page, "the call times with errors")

    await page.get_by_label("The phone number we should call you on").fill("07700 900123")
    first_time = page.locator("input[name=start]").first
    await first_time.check()
    await page.get_by_role("button", name="Book this call").click()
    await page.get_by_role("heading", name="Your call is booked").wait_for()
    await page.get_by_text("will phone you on 07700 900123").wait_for()
    await fits_a_phone(page, "the booked call")

    async with live_app.app[DB].read() as session:
        call = await session.scalar(select(Meeting).where(col(Meeting.case_id) == case.case_id))
    assert call is not None
    assert call.end_at - call.start_at == timedelta(minutes=20)
    (invite,) = [m for m in await _mails(live_app, "invite.request") if "pat@" in m[0]]
    assert "telephone call of about 20 minutes" in invite[2]
    assert "Mo Ahmed will phone you on 07700 900123" in invite[2]
    assert "two to four hours" not in invite[2]

    live_app.clock.set(call.end_at + timedelta(minutes=5))
    staff_page = await new_page(browser, viewport=DESKTOP)
    await _sign_in(live_app, staff_page, "mo@staff.example")
    await staff_page.goto(f"{live_app.url}/staff/cases/{case.case_id}")
    await staff_page.get_by_role("button", name="The call took place").click()
    await staff_page.get_by_text("The call is marked as done").wait_for()
    due = await staff_page.locator("#certificate-due").inner_text()

    board = await _board(live_app, browser)
    await board.get_by_text(f"Certificate due {due}").wait_for()

    await staff_page.get_by_role("button", name="Issue the certificate and send it").click()
    await staff_page.get_by_text("Certificate issued and sent").wait_for()
    await staff_page.goto(f"{live_app.url}/staff/cases/{case.case_id}")
    await staff_page.locator("#certificate-issued").wait_for()
    await page.goto(link)
    await page.get_by_text("We have emailed you your certificate").wait_for()
    await fits_a_phone(page, "the family's page after the certificate")
    (sent,) = [m for m in await _mails(live_app, "certificate") if "pat@" in m[0]]
    assert "information" in sent[1].lower()


async def test_the_family_withdraws_from_their_link_and_everyone_is_told(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    link = await _family_link(live_app, "pat@family.example")
    page = await new_page(browser, viewport=PHONE_390)
    await page.goto(link)
    await fits_a_phone(page, "the family's page")
    await page.get_by_role("button", name="Withdraw from mediation").click()
    await page.get_by_role("heading", name="Are you sure you want to withdraw").wait_for()
    await fits_a_phone(page, "the withdrawal confirm step")
    await page.get_by_label("Why are you withdrawing? (optional)").fill("We will go to Tribunal")
    await page.get_by_role("button", name="Withdraw and ask for my certificate").click()
    await page.get_by_role("heading", name="You have withdrawn from mediation").wait_for()
    await fits_a_phone(page, "withdrawn")

    async with live_app.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None and meeting.status is MeetingStatus.cancelled
    cancels = [m[0] for m in await _mails(live_app, "invite.cancel")]
    for address in ("pat@family.example", "lee@kent.example"):
        assert len([to for to in cancels if address in to]) == 1, (address, cancels)
    (told,) = await _mails(live_app, "family_withdrew")
    assert "sam@staff.example" in told[0] and "We will go to Tribunal" in told[2]

    board = await _board(live_app, browser)
    await board.get_by_text("Certificate due Thu 5 Mar 2026").wait_for()
    await board.get_by_text("Issue the certificate").wait_for()
    await board.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await board.get_by_text("Pat Jordan (parent or carer) withdrew from mediation").wait_for()
    await board.locator("#withdrawn-note").wait_for()


async def test_the_la_cannot_meet_the_30_days_and_the_certificate_clock_starts(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    page = await new_page(browser, viewport=PHONE_390)
    await _sign_in(live_app, page, "sam@staff.example")
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_role(
        "link", name="Record that the local authority cannot arrange mediation within 30 days"
    ).click()
    await page.get_by_label("Year").fill("2027")
    await page.get_by_role("button", name="Record it and start the certificate clock").click()
    await page.get_by_text("There is a problem").wait_for()
    await fits_a_phone(page, "the LA's 30 days refused")
    await page.get_by_label("Year").fill("2026")
    await page.get_by_role("button", name="Record it and start the certificate clock").click()
    await page.get_by_text("Recorded: the certificate's clock has started.").wait_for()
    assert await page.locator("#certificate-due").inner_text() == "Thu 5 Mar 2026"
    await fits_a_phone(page, "the case with the LA's 30 days recorded")
    await page.goto(f"{live_app.url}/staff")
    await page.get_by_text("Certificate due Thu 5 Mar 2026").wait_for()
