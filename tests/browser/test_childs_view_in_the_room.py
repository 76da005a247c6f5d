"""The mediator hands the Child's View round from the console; the LA officer then reads it
on their own meeting page, and the share is on the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from orchestrator.cases import intake, links, roster
from orchestrator.closing import preparation
from orchestrator.core.models import AuditEvent, LinkScope
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import PHONE, LiveApp, assert_accessible, new_page
from tests.browser.scenario import booked_meeting
from tests.browser.test_staff_pages_fit_a_phone import sign_in

pytestmark = pytest.mark.browser


async def test_mediator_shares_the_childs_view_and_the_la_officer_reads_it(
    live_app: LiveApp, browser: Any
) -> None:
    scenario, meeting = await booked_meeting(live_app)
    app, now = live_app.app, live_app.clock()
    settings = app[SETTINGS]
    async with app[DB].write() as session:
        case = await intake.get_case(session, scenario.case_id)
        parent = await roster.get_party(session, case_id=case.id, party_id=scenario.parent_id)
        await preparation.save_text(
            session,
            party=parent,
            kind=preparation.CHILDS_VIEW,
            text="What is hard?\nWriting things down in class",
            now=now,
        )
        link = await links.issue(
            session,
            case_id=case.id,
            scope=LinkScope.join_room,
            party_id=scenario.officer_id,
            meeting=meeting,
            now=now,
        )
        officer_url = links.url_for(
            link, base_url=live_app.url, secret=settings.secret_key.get_secret_value()
        )
    live_app.clock.set(meeting.start_at)

    officer = await new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    await officer.goto(officer_url)
    await officer.get_by_role("heading", name="Your mediation meeting").wait_for()
    assert "Writing things down in class" not in await officer.locator("main").inner_text()

    page = await sign_in(live_app, browser, "mo@staff.example")
    await page.get_by_role("link", name="Open the room console for KIDS-2026-021").click()
    await page.get_by_role("button", name="Start the session").click()
    await page.get_by_text("Session: in session").wait_for()
    await page.get_by_role("button", name="Share the Child's View with everyone").click()
    await page.locator("#childs-view-shared").wait_for()
    await assert_accessible(page, "console after sharing the Child's View")

    await officer.reload()
    await officer.get_by_role("heading", name="The Child's View").wait_for()
    assert "Writing things down in class" in await officer.locator("main").inner_text()
    await assert_accessible(officer, "join page with the Child's View")
    width = await officer.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    async with app[DB].read() as session:
        shared = (
            await session.scalars(
                select(AuditEvent).where(col(AuditEvent.action) == "document.share_in_meeting")
            )
        ).all()
    assert len(shared) == 1 and shared[0].target_id == str(meeting.id)
