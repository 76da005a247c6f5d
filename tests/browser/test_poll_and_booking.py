"""A parent answers the poll on a phone, by keyboard alone; the scheduler books by keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.core.models import Meeting, PollAnswer
from orchestrator.web.keys import DB
from tests.browser.conftest import PHONE, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.keyboard import tab_to
from tests.browser.scenario import PASSWORD, case_with_people

pytestmark = pytest.mark.browser


async def test_parent_answers_on_a_phone_and_scheduler_books_by_keyboard(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)

    phone = await new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    await phone.goto(scenario.poll_url)
    await phone.get_by_role("heading", name="When can you meet?").wait_for()
    await assert_accessible(phone, "poll on a phone")
    groups = await phone.locator("#answers fieldset").count()
    assert groups >= 2
    # Keyboard only: each group of radios is one Tab stop; Space picks the first choice ("Yes").
    for _ in range(groups):
        await tab_to(
            phone,
            "el => el.type === 'radio' && !document.querySelector(`input[name='${el.name}']:checked`)",
        )
        await phone.keyboard.press("Space")
    await tab_to(phone, "el => el.id === 'note'")
    await phone.keyboard.type("Mornings are best <b>please</b>")
    await tab_to(phone, "el => el.tagName === 'BUTTON'")
    async with phone.expect_navigation():
        await phone.keyboard.press("Enter")
    await phone.wait_for_load_state()
    assert "/p/" in phone.url
    await assert_accessible(phone, "poll answered")
    await screenshot(phone, "poll-phone")
    async with live_app.app[DB].read() as session:
        answers = (await session.scalars(select(PollAnswer))).all()
    assert len(answers) == groups and {a.answer.value for a in answers} == {"yes"}

    desk = await new_page(browser)
    await desk.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await tab_to(desk, "el => el.id === 'email'")
    await desk.keyboard.type("sam@staff.example")
    await desk.keyboard.press("Tab")
    await desk.keyboard.type(PASSWORD)
    await desk.keyboard.press("Enter")
    await desk.get_by_role("heading", name="Case KIDS-2026-021").wait_for()
    matrix = desk.locator("#poll-matrix")
    assert "Yes" in await matrix.inner_text()
    assert "Mornings are best <b>please</b>" in await matrix.inner_text()  # shown as text, inert
    await assert_accessible(desk, "case page with poll and slots")
    await tab_to(desk, "el => el.tagName === 'A' && el.textContent.trim().startsWith('Book')")
    await desk.keyboard.press("Enter")
    await desk.get_by_role("heading", name="Check and book the meeting").wait_for()
    await assert_accessible(desk, "booking confirmation")
    await tab_to(
        desk, "el => el.tagName === 'BUTTON' && el.textContent.includes('Book and send invites')"
    )
    await desk.keyboard.press("Enter")
    await desk.get_by_text("Meeting booked; invites are on their way.").wait_for()
    await screenshot(desk, "case-booked")
    async with live_app.app[DB].read() as session:
        assert len((await session.scalars(select(Meeting))).all()) == 1
