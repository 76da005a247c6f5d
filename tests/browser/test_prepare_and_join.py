"""A parent prepares on a phone (the Child's View), then opens the join page's device check."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.cases import intake, links, roster
from orchestrator.closing import preparation
from orchestrator.core.models import Document, LinkScope, Meeting
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import PHONE, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def test_parent_writes_the_childs_view_then_checks_devices_before_joining(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    meeting_id = await book_best_slot(live_app, scenario)
    app, now = live_app.app, live_app.clock()
    settings = app[SETTINGS]
    async with app[DB].write() as session:
        case = await intake.get_case(session, scenario.case_id)
        parent = await roster.get_party(session, case_id=case.id, party_id=scenario.parent_id)
        prepare_url = await preparation.send_prepare_link(
            session, case=case, party=parent, settings=settings, now=now, actor=None
        )
        meeting = await session.get(Meeting, meeting_id)
        link = await links.issue(
            session,
            case_id=case.id,
            scope=LinkScope.join_room,
            party_id=parent.id,
            meeting=meeting,
            now=now,
        )
        join_url = links.url_for(
            link, base_url=live_app.url, secret=settings.secret_key.get_secret_value()
        )

    phone = await new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.goto(prepare_url.replace(settings.base_url, live_app.url))
    await phone.get_by_role("heading", name="Prepare for your meeting").wait_for()
    await assert_accessible(phone, "prepare page on a phone")
    await phone.get_by_label("What is going well?").fill("I like art club <b>a lot</b>")
    await phone.get_by_label("What would help?").fill("A quiet place at lunch")
    async with phone.expect_navigation():
        await phone.get_by_role("button", name="Send the Child's View").click()
    await phone.get_by_role("heading", name="Saved").wait_for()
    sent = await phone.locator(".govuk-summary-card").first.inner_text()
    assert "I like art club <b>a lot</b>" in sent  # shown as text, inert
    await assert_accessible(phone, "prepare page after saving")
    await screenshot(phone, "prepare-phone")
    async with app[DB].read() as session:
        saved = (await session.scalars(select(Document))).all()
    assert [d.kind for d in saved] == ["childs_view"]

    await phone.goto(join_url)
    await phone.get_by_role("heading", name="Your mediation meeting").wait_for()
    panel = phone.locator("#device-check")
    await panel.wait_for(state="visible")  # the script un-hides it
    await phone.get_by_role("button", name="Play a test sound").click()
    status = phone.locator("#device-check-status")
    assert "test sound" in await status.inner_text()
    await phone.get_by_role("button", name="Check my camera and microphone").click()
    await phone.wait_for_function(
        "() => !/Asking/.test(document.getElementById('device-check-status').textContent)"
    )
    assert (await status.inner_text()).strip() != ""
    await assert_accessible(phone, "join page with the device check")
    await screenshot(phone, "join-device-check-phone")
