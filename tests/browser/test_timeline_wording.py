"""A scheduler reads the case timeline after a booking, a decline and a move: in plain words.

The local authority officer declines on their invitation's page; the scheduler moves the
meeting from the case page and reads "Lee Grant (local authority) declined the invitation"
and "Meeting moved to Tuesday 10 March, 2pm": names and roles in words, the time in the
case's zone, never an id, a role code or UTC.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from calendars import wording
from orchestrator.core.models import OutboxMessage, PartStat, TimelineEntry
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.scheduling import lookups
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})")


async def rsvp_link(live_app: LiveApp, to: str) -> str:
    """The "can you come?" link in the invitation emailed to ``to``."""
    async with live_app.app[DB].read() as session:
        sent = (
            await session.scalars(
                select(OutboxMessage).where(col(OutboxMessage.topic) == "invite.request")
            )
        ).all()
    for message in sent:
        email = email_from_payload(message.payload)
        if to in str(email["To"]):
            body = email.get_body(preferencelist=("plain",))
            assert body is not None
            found = re.search(r"http://\S+/r/[^\s?]+", str(body.get_content()))
            assert found is not None
            return found.group(0)
    raise AssertionError(f"no invitation to {to}")


async def fits_a_phone(
    browser: Any, url: str, label: str, *, signed_in: Any = None, region: str = ""
) -> None:
    """axe at 390 × 844, and no sideways scroll: of the page, or of ``region`` on it."""
    page = await new_page(browser, viewport=PHONE_390, **(signed_in or {}))
    await page.goto(url)
    await assert_accessible(page, f"{label} at 390 px")
    if region:
        right = await page.locator(region).evaluate(
            "r => Math.max(r.getBoundingClientRect().right, r.scrollWidth)"
        )
        assert right <= 390, f"{label}: {region} is {right} px wide"
    else:
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, label
    await page.context.close()


async def test_the_timeline_names_people_and_says_the_new_time_plainly(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)

    # Lee Grant, the local authority officer, says no on the invitation's page.
    link = await rsvp_link(live_app, "lee@kent.example")
    party = await new_page(browser)
    await party.goto(f"{link}?answer=declined")
    await party.get_by_role("heading", name="Can you come to the meeting?").wait_for()
    await assert_accessible(party, "the invitation's answer page")
    await fits_a_phone(browser, f"{link}?answer=declined", "the invitation's answer page")
    await party.locator("#answer-declined").check()
    await party.get_by_role("button", name="Send my answer").click()
    await party.wait_for_load_state()

    # The scheduler moves the meeting from the case page.
    page = await new_page(browser)
    case_url = f"{live_app.url}/staff/cases/{scenario.case_id}"
    await page.goto(case_url)
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#meetings").wait_for()
    await page.get_by_role("link", name="Move the meeting on").click()
    await page.get_by_role("heading", name="Move the meeting").wait_for()
    move_url = page.url
    await assert_accessible(page, "moving a meeting")
    await page.locator("#slots a").first.click()
    confirm = page.get_by_role("button", name="Yes, move it and tell everyone")
    await confirm.wait_for()
    await assert_accessible(page, "checking the new time")
    await confirm.click()
    await page.get_by_text("Meeting moved; new invites are on their way").wait_for()

    async with live_app.app[DB].read() as session:
        moved = await lookups.get_meeting(session, meeting_id)
        replies = (
            await session.scalars(
                select(TimelineEntry).where(col(TimelineEntry.kind) == "party.replied")
            )
        ).all()
    new_time = (
        f"{wording.day_and_month(moved.start_at, zone='Europe/London')}, "
        f"{wording.clock(moved.start_at, zone='Europe/London')}"
    )
    timeline = page.locator("#timeline + ol")
    await timeline.get_by_text(f"Meeting moved to {new_time}").wait_for()
    said = await timeline.inner_text()
    assert "Lee Grant (local authority) declined the invitation" in said
    assert f"Meeting moved to {new_time}, by video" in said
    assert "Meeting booked for " in said
    assert "Added Pat Jordan (parent or carer)" in said
    assert not UUID.search(said) and not CODE.search(said), said
    assert "UTC" not in said and not ISO.search(said), said
    # What is stored: the reply, tied to Lee by id, the answer as data.
    assert [(r.party_id, (r.details or {}).get("answer")) for r in replies] == [
        (scenario.officer_id, PartStat.declined.value)
    ]
    assert isinstance(replies[0].party_id, uuid.UUID)

    whole = await page.locator("main").inner_text()  # and nowhere else on the page either
    assert not UUID.search(whole) and not CODE.search(whole) and "UTC" not in whole
    await assert_accessible(page, "the case page with its timeline")
    state = await page.context.storage_state()
    await fits_a_phone(browser, move_url, "the move page", signed_in={"storage_state": state})
    # The whole case page fits a phone, its timeline included.
    await fits_a_phone(browser, case_url, "the case page", signed_in={"storage_state": state})
    await fits_a_phone(
        browser,
        case_url,
        "the case page's timeline",
        signed_in={"storage_state": state},
        region="#timeline + ol",
    )
