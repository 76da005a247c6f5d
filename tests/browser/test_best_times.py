"""Best times: with the poll answered, the scheduler sees the answered times first, each with
its reasons naming people and their roles, a short list with more on request, and no ids.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select

from calendars import wording
from orchestrator.core.models import Party, Poll, PollAnswerValue
from orchestrator.scheduling import poll_answers, poll_requests
from orchestrator.web.keys import BUS, DB, SETTINGS
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.phone_fit import PHONE_390, fits_a_phone
from tests.browser.scenario import PASSWORD, Scenario, case_with_people

pytestmark = pytest.mark.browser

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
YES, MAYBE, NO = PollAnswerValue.yes, PollAnswerValue.if_need_be, PollAnswerValue.no


async def answer_poll(
    live: LiveApp, scenario: Scenario, party_id: Any, answers: dict[int, PollAnswerValue]
) -> list[datetime]:
    """The person answers the poll's times by their place in it; returns the poll's times."""
    app = live.app
    async with app[DB].write() as session:
        poll = await session.scalar(select(Poll).where(col(Poll.case_id) == scenario.case_id))
        party = await session.get(Party, party_id)
        assert poll is not None and party is not None
        url = await poll_requests.poll_link_url(session, poll, party, app[SETTINGS])
        access = await poll_answers.open_poll(
            session, url.rsplit("/p/", 1)[1], settings=app[SETTINGS], now=live.clock()
        )
        times = sorted(datetime.fromisoformat(c) for c in poll.candidates)
        await poll_answers.record_answers(
            session,
            access=access,
            answers={times[n]: value for n, value in answers.items()},
            note=None,
            now=live.clock(),
            bus=app[BUS],
        )
    return times


def when(moment: datetime) -> str:
    return wording.stamp(moment, zone="Europe/London")


async def test_scheduler_sees_the_answered_times_first_with_reasons_by_name(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    # Times 0-3 of the poll: Lee only "if need be"; both yes; Lee silent; Pat no.
    times = await answer_poll(
        live_app, scenario, scenario.parent_id, {0: YES, 1: YES, 2: YES, 3: NO}
    )
    await answer_poll(live_app, scenario, scenario.officer_id, {0: MAYBE, 1: YES, 3: YES})

    page = await new_page(browser)
    await page.goto(f"{live_app.url}/staff/cases/{scenario.case_id}#find-a-time")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Best times (3 hours)").wait_for()

    rows = page.locator("#slots tbody tr")
    assert await rows.count() == 5  # a short list, best first
    first, second, third = [await rows.nth(n).inner_text() for n in range(3)]
    assert when(times[1]) in first and "Everyone said yes" in first and "In the poll" in first
    assert when(times[0]) in second
    assert "Lee Grant (local authority officer) said if need be" in second
    assert "Pat Jordan (parent or carer) can come" in second
    assert when(times[2]) in third
    assert "Lee Grant (local authority officer) has not answered" in third
    blocked = await page.locator("#blocked-slots").inner_text()
    assert when(times[3]) in blocked and "Pat Jordan (parent or carer) said no" in blocked

    section = await page.locator("main").inner_text()
    assert "feasible" not in section
    assert not UUID.search(section), "an id is shown to staff"
    assert "la_officer" not in await page.locator("#slots").inner_text() + blocked
    await assert_accessible(page, "case page with best times")
    await page.locator("#best-times").scroll_into_view_if_needed()
    await screenshot(page, "best-times")

    # The rest wait behind "Show more": times nobody was asked about come after the poll's.
    more = page.locator("#more-times summary")
    await more.click()
    later = await page.locator("#more-slots").inner_text()
    assert "was not asked about this time" in later
    assert "was not asked about this time" not in await page.locator("#slots").inner_text()
    await assert_accessible(page, "case page with more times shown")

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(f"{live_app.url}/staff/cases/{scenario.case_id}")
    await phone.get_by_role("heading", name="Best times (3 hours)").wait_for()
    await phone.locator("#more-times summary").click()
    await fits_a_phone(phone, "case page with best times")
