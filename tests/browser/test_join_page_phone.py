"""The join page on a 390×844 phone: "Join the meeting" on the first screen, then the check.

A parent opens their join link from the invite on a phone. The button used to start below
the first screen, under the device check; now it comes first, with how soon the meeting
starts ("starts in 25 minutes") or when the room opens ("opens at 9:30am today"), and the
check of camera and microphone after it. Times read as people say them, never "09:30".
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from calendars import wording
from orchestrator.cases import links, roster
from orchestrator.core import languages
from orchestrator.core.models import Channel, LinkScope, Meeting, MeetingMode
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import LiveApp, new_page, screenshot
from tests.browser.phone_fit import LANGUAGES, PHONE_390, fits_a_phone, said
from tests.browser.scenario import book_best_slot, case_with_people

pytestmark = pytest.mark.browser

ZERO_PADDED = re.compile(r"\b0\d:\d\d\b")


async def _join_link(live: LiveApp, meeting_id: uuid.UUID, party_id: uuid.UUID) -> str:
    """The parent's join link by its short alias, as the plain-text invite shows it."""
    app = live.app
    secret = app[SETTINGS].secret_key.get_secret_value()
    async with app[DB].write() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.provider_room = meeting.provider_room or {"provider": "jitsi", "room": "x"}
        link = await links.issue(
            session,
            case_id=meeting.case_id,
            scope=LinkScope.join_room,
            party_id=party_id,
            meeting=meeting,
            now=live.clock(),
        )
        return links.short_url_for(link, base_url=live.url, secret=secret)


async def _start_of(live: LiveApp, meeting_id: uuid.UUID) -> Any:
    async with live.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.start_at


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_join_button_and_how_soon_it_starts_come_first_on_a_phone(
    live_app: LiveApp, browser: Any, language: str
) -> None:
    scenario = await case_with_people(live_app, language=language)
    meeting_id = await book_best_slot(live_app, scenario)
    url = await _join_link(live_app, meeting_id, scenario.parent_id)
    start = await _start_of(live_app, meeting_id)
    live_app.clock.set(start - timedelta(minutes=25))

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await phone.goto(url)
    join = phone.get_by_role("button", name=said(language, "Join the meeting"))
    await join.wait_for()
    box = await join.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE_390["height"], box
    assert await join.get_attribute("href")  # a real link, not the disabled placeholder
    assert "/video" in str(await join.get_attribute("href"))
    soon = wording.from_now(start, now=live_app.clock(), locale=languages.language(language).locale)
    said_soon = said(language, "The meeting starts %(when)s.") % {"when": soon}
    assert said_soon in await phone.locator("#starts-in").inner_text()
    # The device check comes after the button, not above it.
    panel = phone.locator("#device-check")
    await panel.wait_for(state="visible")
    panel_box = await panel.bounding_box()
    assert panel_box is not None and panel_box["y"] > box["y"]
    await fits_a_phone(phone, "join page, room open", language=language)
    if language == "en":  # GOV.UK's "9:30am"; other languages write their own 09:30
        assert not ZERO_PADDED.search(await phone.locator("main").inner_text())
    await screenshot(phone, f"join-page-phone-open-{language}")


async def test_before_the_room_opens_the_page_says_when_in_words(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    meeting_id = await book_best_slot(live_app, scenario)
    url = await _join_link(live_app, meeting_id, scenario.parent_id)
    start = await _start_of(live_app, meeting_id)
    live_app.clock.set(start - timedelta(hours=2))

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await phone.goto(url)
    join = phone.get_by_role("button", name="Join the meeting")
    await join.wait_for()
    assert await join.is_disabled()
    box = await join.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE_390["height"], box
    opens = await phone.locator("#opens-at").inner_text()
    assert re.search(r"The video room opens at \d{1,2}(:\d\d)?(am|pm) today\.", opens), opens
    main = await phone.locator("main").inner_text()
    assert not ZERO_PADDED.search(main), main
    await fits_a_phone(phone, "join page, before the room opens")
    await screenshot(phone, "join-page-phone-before")


async def test_a_hybrid_meetings_page_puts_the_persons_own_way_first(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    meeting_id = await book_best_slot(live_app, scenario)
    url = await _join_link(live_app, meeting_id, scenario.parent_id)
    async with live_app.app[DB].write() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.mode = MeetingMode.hybrid
        meeting.venue = {"name": "Canterbury Family Centre", "address": "12 Castle Street"}
        meeting.dial_in_pin = "54321"
        meeting.provider_room = {"provider": "jitsi", "dial_in_number": "+44 20 7946 0000"}
        parent = await roster.get_party(
            session, case_id=meeting.case_id, party_id=scenario.parent_id
        )
        parent.channel = Channel.phone
    live_app.clock.set(meeting.start_at - timedelta(minutes=10))

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await phone.goto(url)
    await phone.get_by_role("heading", name="Your mediation meeting").wait_for()
    main = await phone.locator("main").inner_text()
    order = [main.index(s) for s in ("Join by telephone", "If you need to", "Join in person")]
    assert order == sorted(order), main
    assert main.index("Join in person") < main.index("Join by video")
    pin = phone.locator("#pin")
    box = await pin.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE_390["height"], box
    await fits_a_phone(phone, "hybrid join page, by phone")
    await screenshot(phone, "join-page-phone-hybrid")
