"""A party waits in our own lobby and goes in when the mediator admits them from the console.

With JavaScript the waiting page hears of the admit through its event stream and goes
straight into the room; without it the page refreshes itself every few seconds and has a
"Check again" button, which does the same. The waiting page fits a 390-pixel phone and
passes axe. The video room itself (meet.jit.si) is stood in for by a routed page.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from orchestrator.core.models import Meeting
from orchestrator.meeting import room_moves, session_control
from orchestrator.messaging import ways_in
from orchestrator.web.keys import DB, DISPATCHER, SETTINGS
from orchestrator.web.party import waiting
from tests.browser.conftest import LiveApp, new_page, screenshot
from tests.browser.phone_fit import PHONE_390, fits_a_phone
from tests.browser.scenario import PASSWORD, Scenario, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

ROOM = "https://meet.jit.si/**"
IN_THE_ROOM = "<!doctype html><html lang='en'><title>Video room</title><h1>In the room</h1></html>"


async def _booked(live: LiveApp) -> tuple[Scenario, Meeting]:
    """A case booked by video with its room made, the clock at the meeting's start."""
    scenario = await case_with_people(live, poll=False)
    meeting_id = await book_best_slot(live, scenario)
    await live.app[DISPATCHER].run_once()  # the outbox makes the room
    async with live.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None and meeting.provider_room is not None
    live.clock.set(meeting.start_at)
    return scenario, meeting


async def _join_link(live: LiveApp, meeting: Meeting, party_id: uuid.UUID) -> str:
    async with live.app[DB].read() as session:
        link = await ways_in.current_join_link(session, meeting, party_id=party_id)
    assert link is not None
    return ways_in.link_url(link, live.app[SETTINGS])


async def _party_page(browser: Any, **options: Any) -> Any:
    """A phone, with the video provider's page stood in for."""
    page = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True, **options)
    await page.context.route(
        ROOM, lambda route: route.fulfill(status=200, content_type="text/html", body=IN_THE_ROOM)
    )
    return page


async def _wait_in_our_lobby(page: Any, url: str) -> None:
    await page.goto(url)
    await page.get_by_role("button", name="Join the meeting").click()
    await page.get_by_role("heading", name="Waiting for the mediator").wait_for()
    assert "/wait" in page.url
    assert "The mediator will let you in." in await page.locator("#waiting-for").inner_text()


async def test_a_party_waits_and_goes_in_when_the_mediator_admits_them(
    live_app: LiveApp, browser: Any
) -> None:
    scenario, meeting = await _booked(live_app)
    mediator = await new_page(browser)
    await mediator.goto(f"{live_app.url}/sign-in")
    await mediator.get_by_label("Email address").fill("mo@staff.example")
    await mediator.get_by_label("Password").fill(PASSWORD)
    await mediator.get_by_role("button", name="Sign in").click()
    await mediator.get_by_role("heading", name="My sessions").wait_for()
    await mediator.goto(f"{live_app.url}/staff/meetings/{meeting.id}/console")
    await mediator.get_by_role("button", name="Start the session").click()
    await mediator.get_by_text("Session: in session").wait_for()

    party = await _party_page(browser)
    await _wait_in_our_lobby(party, await _join_link(live_app, meeting, scenario.parent_id))
    await fits_a_phone(party, "waiting in our lobby")
    await screenshot(party, "our-lobby-waiting")

    # The console hears of the arrival by itself, and the admit releases the party's page.
    lobby = mediator.locator("#lobby")
    await lobby.get_by_text("Pat Jordan").wait_for()
    await lobby.get_by_role("button", name="Admit Pat Jordan").click()
    await party.wait_for_url(ROOM)
    await party.get_by_role("heading", name="In the room").wait_for()
    await mediator.locator("[data-room='joint']").get_by_text("Pat Jordan").wait_for()


async def test_without_javascript_the_page_checks_again_and_lets_them_in(
    live_app: LiveApp, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page's own refresh (every 10 s) would reload it in the middle of the checks here;
    # the test presses "Check again" instead, which goes where the refresh goes.
    monkeypatch.setattr(waiting, "REFRESH_S", 600)
    scenario, meeting = await _booked(live_app)
    async with live_app.app[DB].write() as session:
        running = await session.get(Meeting, meeting.id)
        assert running is not None
        settings = live_app.app[SETTINGS]
        now = live_app.clock()
        await session_control.start(
            session, meeting=running, now=now, actor_id=None, settings=settings
        )
    parent = await _party_page(browser, java_script_enabled=False)
    officer = await _party_page(browser, java_script_enabled=False)
    await _wait_in_our_lobby(parent, await _join_link(live_app, meeting, scenario.parent_id))
    await _wait_in_our_lobby(officer, await _join_link(live_app, meeting, scenario.officer_id))
    refresh = await parent.locator('meta[http-equiv="refresh"]').get_attribute("content")
    check_again = parent.get_by_role("button", name="Check again")
    assert refresh == f"600; url={await check_again.get_attribute('href')}"

    # Not let in yet: checking again keeps them waiting.
    await parent.get_by_role("button", name="Check again").click()
    await parent.get_by_role("heading", name="Waiting for the mediator").wait_for()

    async with live_app.app[DB].write() as session:
        running = await session.get(Meeting, meeting.id)
        assert running is not None
        await room_moves.admit(
            session, meeting=running, party_id=scenario.parent_id, now=live_app.clock()
        )
    await parent.get_by_role("button", name="Check again").click()
    await parent.wait_for_url(ROOM)

    # The session ends: the officer, still waiting, is told the meeting has ended.
    async with live_app.app[DB].write() as session:
        running = await session.get(Meeting, meeting.id)
        assert running is not None
        await session_control.end(session, meeting=running, now=live_app.clock(), actor_id=None)
    await officer.get_by_role("button", name="Check again").click()
    await officer.get_by_role("heading", name="The meeting has ended").wait_for()
    assert await officer.locator('meta[http-equiv="refresh"]').count() == 0
    # axe needs JavaScript: the same page, checked in a browser that runs it.
    checked = await _party_page(browser)
    await checked.goto(officer.url)
    await checked.get_by_role("heading", name="The meeting has ended").wait_for()
    await fits_a_phone(checked, "the meeting has ended")
