"""A scheduler cancels a booked meeting with a reason, and the reason reaches people.

The cancellation email says it was cancelled, when it was to be, why (as typed) and who
to call; the parent's old join link says the same on a phone. A moved meeting's old link
says where it went and points to the newest email, whose link opens the meeting.
"""

from __future__ import annotations

import email
import uuid
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from calendars import wording
from orchestrator.cases import intake, links
from orchestrator.core.models import Meeting, MeetingStatus, OutboxKind
from orchestrator.messaging.outbox import Dispatcher, mail_handler
from orchestrator.scheduling import lookups, rescheduling
from orchestrator.web.keys import BUS, CLOCK, DB, MAIL, SETTINGS, WORKDAYS
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import PASSWORD, Scenario, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
REASON = "Mo, the mediator, is unwell.\nWe will offer new dates <this week> & call you."


async def deliver_mail(live: LiveApp) -> list[EmailMessage]:
    """Send every due email through the app's mail backend; every message in the mail files."""
    app = live.app
    await Dispatcher(
        app[DB], {OutboxKind.email: mail_handler(app[MAIL])}, clock=app[CLOCK]
    ).run_once()
    found = []
    for path in sorted(app[SETTINGS].mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def to(messages: list[EmailMessage], address: str, subject: str) -> EmailMessage:
    """The newest message to ``address`` whose subject starts with ``subject``."""
    mine = [
        m for m in messages if address in str(m["To"]) and str(m["Subject"]).startswith(subject)
    ]
    assert mine, f"no {subject!r} mail to {address}"
    return mine[-1]


async def parents_join_link(live: LiveApp, scenario: Scenario, meeting_id: uuid.UUID) -> str:
    """The parent's personal join link, as their invitation carries it."""
    async with live.app[DB].read() as session:
        meeting = await lookups.get_meeting(session, meeting_id)
        found = await lookups.current_join_links(session, meeting)
    (link,) = [link for link in found if link.party_id == scenario.parent_id]
    secret = live.app[SETTINGS].secret_key.get_secret_value()
    return links.short_url_for(link, base_url=live.url, secret=secret)


async def meeting_when(live: LiveApp, meeting_id: uuid.UUID) -> tuple[str, str, str]:
    """When the meeting is as people read it, as staff read it, and the case's zone."""
    async with live.app[DB].read() as session:
        meeting = await lookups.get_meeting(session, meeting_id)
        case = await intake.get_case(session, meeting.case_id)
    zone = case.timezone
    return (
        wording.when(meeting.start_at, meeting.end_at, zone=zone),
        wording.stamp(meeting.start_at, zone=zone),
        zone,
    )


async def at_both_sizes(page: Any, label: str) -> None:
    """axe at the desktop and the phone size; no sideways scroll on the phone."""
    for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        await page.set_viewport_size(size)
        await assert_accessible(page, f"{label} ({name})")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{label}: {width}px wide on a phone"


async def test_scheduler_cancels_with_a_reason_that_reaches_the_parent(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    join_url = await parents_join_link(live_app, scenario, meeting_id)
    when, staff_when, _ = await meeting_when(live_app, meeting_id)
    help_line = live_app.app[SETTINGS].help_line
    await deliver_mail(live_app)  # the invitations

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#meetings").wait_for()
    await page.get_by_role("link", name=f"Cancel the meeting on {staff_when}").click()
    await page.get_by_role("heading", name=f"Cancel the meeting on {staff_when}?").wait_for()
    await at_both_sizes(page, "the cancel form")
    await page.get_by_label("Why is it cancelled?").fill(REASON)
    await page.get_by_role("button", name="Cancel the meeting").click()
    await page.get_by_text("Meeting cancelled; everyone is told").wait_for()
    await at_both_sizes(page, "the case page after cancelling")

    async with live_app.app[DB].read() as session:
        stored = await session.get(Meeting, meeting_id)
    assert stored is not None
    assert stored.status is MeetingStatus.cancelled and stored.cancel_reason == REASON

    mail = await deliver_mail(live_app)
    for address in ("pat@family.example", "lee@kent.example", "mo@staff.example"):
        cancel = to(mail, address, "Cancelled:")
        text, html = body(cancel, "plain"), body(cancel, "html")
        assert "has been cancelled" in text and when in text and when in html
        assert REASON in text  # as typed, line break and all
        assert "We will offer new dates &lt;this week&gt; &amp; call you." in html
        assert "<this week>" not in html
        assert f"call KIDS SEND Mediation Service on {help_line}" in text
        assert help_line in html

    phone = await new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.goto(join_url)
    await phone.get_by_role("heading", name="This meeting has been cancelled").wait_for()
    assert await phone.locator("#when").inner_text() == when
    assert await phone.locator("#reason").inner_text() == REASON
    assert help_line in await phone.locator("#who-to-call").inner_text()
    assert "withdrawn" not in await phone.locator("main").inner_text()
    await at_both_sizes(phone, "the parent's old join link")
    await screenshot(phone, "join-cancelled-phone")


async def test_a_moved_meetings_old_link_says_where_it_went_and_points_to_the_new_email(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    meeting_id = await book_best_slot(live_app, scenario)
    old_url = await parents_join_link(live_app, scenario, meeting_id)
    await deliver_mail(live_app)
    app, now = live_app.app, live_app.clock()
    async with app[DB].write() as session:
        meeting = await lookups.get_meeting(session, meeting_id)
        await rescheduling.reschedule(
            session,
            meeting=meeting,
            start=meeting.start_at + timedelta(days=1),
            duration_minutes=180,
            now=now,
            bus=app[BUS],
            settings=app[SETTINGS],
            workdays=app[WORKDAYS],
            waiver="The family asked for the next day",
        )
    new_when, _, zone = await meeting_when(live_app, meeting_id)
    updated = to(await deliver_mail(live_app), "pat@family.example", "Updated:")
    assert new_when in body(updated, "plain")

    phone = await new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.goto(old_url)
    await phone.get_by_role("heading", name="Your meeting has moved").wait_for()
    assert await phone.locator("#when").inner_text() == new_when
    newest = await phone.locator("#newest-email").inner_text()
    assert "newest email" in newest and "Updated" in newest
    assert wording.day(now, zone=zone) in newest  # the day it was sent
    assert live_app.app[SETTINGS].help_line in await phone.locator("#who-to-call").inner_text()
    await at_both_sizes(phone, "a moved meeting's old join link")
    await screenshot(phone, "join-moved-phone")

    # The newest email's link opens the meeting at its new time.
    new_url = await parents_join_link(live_app, scenario, meeting_id)
    assert new_url != old_url and new_url.removeprefix(live_app.url) in body(updated, "plain")
    await phone.goto(new_url)
    await phone.get_by_role("heading", name="Your mediation meeting").wait_for()
    assert new_when in await phone.locator("main").inner_text()
