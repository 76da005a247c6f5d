"""A mediator runs the room console by keyboard and on a phone: focus survives live updates,
attendance starts at what the record shows, access needs and the interpreter are in view,
the mediator joins the video as host, and ending the session asks first."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cases import intake, roster
from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingStatus,
    ParticipantStatus,
    PartyCreate,
    PartyRole,
    PartyUpdate,
)
from orchestrator.meeting import attendance
from orchestrator.messaging import ways_in
from orchestrator.web.keys import BUS, DB, DISPATCHER, SETTINGS
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.keyboard import tab_to
from tests.browser.scenario import PASSWORD, Scenario, book_best_slot, case_with_people

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "room-console.png"


async def _needs_and_interpreter(live: LiveApp, scenario: Scenario) -> None:
    """Pat needs breaks and speaks Polish; an interpreter is on the case."""
    now = live.clock()
    async with live.app[DB].write() as session:
        parent = await roster.get_party(
            session, case_id=scenario.case_id, party_id=scenario.parent_id
        )
        await roster.update_party(
            session,
            party=parent,
            data=PartyUpdate(needs="Needs breaks every 45 minutes", language="Polish"),
            now=now,
            actor=None,
        )
        await roster.add_party(
            session,
            case=await intake.get_case(session, scenario.case_id),
            data=PartyCreate(
                role=PartyRole.interpreter, name="Ana Nowak", email="ana@interpreters.example"
            ),
            now=now,
            bus=live.app[BUS],
            actor=None,
        )


async def _arrives(live: LiveApp, meeting_id: uuid.UUID, party_id: uuid.UUID) -> None:
    """What the video provider's call-back records: the person waits in the lobby."""
    async with live.app[DB].write() as session:
        await attendance.append(
            session,
            attendance.event_row(
                meeting_id=meeting_id,
                party_id=party_id,
                status=ParticipantStatus.in_lobby,
                source="jitsi",
                channel=Channel.video,
                at=live.clock(),
            ),
        )


async def _sign_in(page: Any, live: LiveApp) -> None:
    await page.goto(f"{live.url}/sign-in")
    await page.get_by_label("Email address").fill("mo@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="My sessions").wait_for()


async def _fits_a_phone(page: Any, label: str) -> None:
    await assert_accessible(page, label)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_390["width"], f"{label}: {width} px wide on a 390 px phone"


async def _focused_id(page: Any) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def _meeting(live: LiveApp, meeting_id: uuid.UUID) -> Meeting:
    async with live.app[DB].read() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    return meeting


async def test_mediator_runs_the_console_by_keyboard_and_ending_asks_first(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app, poll=False)
    await _needs_and_interpreter(live_app, scenario)
    meeting_id = await book_best_slot(live_app, scenario)
    meeting = await _meeting(live_app, meeting_id)
    live_app.clock.set(meeting.start_at)
    await live_app.app[DISPATCHER].run_once()  # the video room is made

    page = await new_page(browser, viewport=DESKTOP)
    await _sign_in(page, live_app)
    await page.get_by_role("link", name="Open the room console for KIDS-2026-021").click()
    await page.get_by_role("heading", name="Room console").wait_for()
    await page.get_by_role("button", name="Start the session").click()
    await page.get_by_text("Session: in session").wait_for()

    # Nobody has arrived: each attendance mark starts at what the record shows.
    pat_mark = page.get_by_label("Attendance of Pat Jordan")
    assert await pat_mark.input_value() == ParticipantStatus.not_signed_in.value
    assert await page.get_by_label("Attendance of Lee Grant").input_value() == "not_signed_in"

    # Pat's access needs and language, with the case's interpreter, are in view.
    pat = page.locator(f"[data-person='{scenario.parent_id}']")
    assert "Needs breaks every 45 minutes" in await pat.inner_text()
    assert "Polish · interpreter: Ana Nowak" in await pat.inner_text()
    await assert_accessible(page, "console, nobody arrived yet")

    # By keyboard to Lee's Mark button; a live update (Pat arrives) keeps the focus there.
    lee_button = f"mark-button-{scenario.officer_id}"
    await tab_to(page, f"el => el.id === '{lee_button}'")
    live_app.clock.advance(minutes=2)
    await _arrives(live_app, meeting_id, scenario.parent_id)
    await page.locator("#lobby").get_by_text("Pat Jordan").wait_for()
    assert await _focused_id(page) == lee_button
    assert await page.evaluate(
        f"document.activeElement === document.getElementById('{lee_button}')"
    )
    # Pat is here now: her mark follows the record; the next Tab goes on from Lee's button.
    assert await pat_mark.input_value() == ParticipantStatus.in_session.value
    await page.keyboard.press("Tab")
    assert await _focused_id(page) != "" and await _focused_id(page) != lee_button

    # Typing a room name is not lost when the panel is swapped under it.
    live_app.clock.advance(minutes=1)
    await page.locator("#lobby").get_by_role("button", name="Admit Pat Jordan").click()
    await page.locator("[data-room='joint']").get_by_text("Pat Jordan").wait_for()
    await page.get_by_label("Room name").fill("Family room")
    await _arrives(live_app, meeting_id, scenario.officer_id)
    await page.locator("#lobby").get_by_text("Lee Grant").wait_for()
    assert await _focused_id(page) == "caucus-label"
    assert await page.get_by_label("Room name").input_value() == "Family room"
    await page.get_by_label("Pat Jordan", exact=True).check()
    await page.get_by_role("button", name="Open room and move them").click()
    await page.locator("[data-room='Family room']").get_by_text("Pat Jordan").wait_for()
    shutil.copy(await screenshot(page, "room-console-journey"), DOCS_SHOT)

    # The mediator's own way into the video: their /j/ link, as the host.
    stored = await _meeting(live_app, meeting_id)
    async with live_app.app[DB].read() as session:
        link = await ways_in.current_join_link(session, stored, mediator_id=stored.mediator_id)
    assert link is not None
    own = ways_in.link_url(link, live_app.app[SETTINGS]) + "/video"
    join = page.get_by_role("button", name="Join the video yourself")
    assert await join.get_attribute("href") == own
    assert await join.get_attribute("target") == "_blank"
    answer = await page.request.get(own, max_redirects=0)
    assert answer.status == 303
    assert "Mo%20%28mediator%29" in answer.headers["location"]

    # Ending sits apart from Recall, and asks first; going back changes nothing.
    recall = await page.get_by_role(
        "button", name="Recall everyone to the joint room"
    ).bounding_box()
    end = page.get_by_role("button", name="End the session for everyone")
    end_box = await end.bounding_box()
    assert recall is not None and end_box is not None
    assert end_box["y"] > recall["y"] + recall["height"] + 200
    await end.click()
    await page.get_by_role("heading", name="End the session for everyone?").wait_for()
    await assert_accessible(page, "end the session: are you sure")
    await page.get_by_role("link", name="No, go back to the room console").click()
    await page.get_by_role("heading", name="Room console").wait_for()
    assert (await _meeting(live_app, meeting_id)).status is MeetingStatus.in_session

    live_app.clock.advance(minutes=1)
    await page.get_by_role("button", name="End the session for everyone").click()
    await page.get_by_role("button", name="Yes, end the session").click()
    await page.get_by_role("heading", name="Record the outcome").wait_for()
    assert (await _meeting(live_app, meeting_id)).status is MeetingStatus.closed


async def test_the_console_fits_a_phone_with_rooms_open(live_app: LiveApp, browser: Any) -> None:
    scenario = await case_with_people(live_app, poll=False)
    await _needs_and_interpreter(live_app, scenario)
    meeting_id = await book_best_slot(live_app, scenario)
    meeting = await _meeting(live_app, meeting_id)
    live_app.clock.set(meeting.start_at)

    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await _sign_in(phone, live_app)
    await phone.goto(f"{live_app.url}/staff/meetings/{meeting_id}/console")
    await _fits_a_phone(phone, "console on a phone, before the start")
    await phone.get_by_role("button", name="Start the session").click()
    await phone.get_by_text("Session: in session").wait_for()
    await _arrives(live_app, meeting_id, scenario.parent_id)
    await phone.locator("#lobby").get_by_text("Pat Jordan").wait_for()
    await phone.locator("#lobby").get_by_role("button", name="Admit Pat Jordan").click()
    await phone.get_by_label("Room name").fill("Family room with a long name")
    await phone.get_by_label("Pat Jordan", exact=True).check()
    await phone.get_by_role("button", name="Open room and move them").click()
    await phone.locator("[data-room='Family room with a long name']").wait_for()
    await _fits_a_phone(phone, "console on a phone, a private room open")
    assert (
        "Needs breaks every 45 minutes"
        in await phone.locator(f"[data-person='{scenario.parent_id}']").inner_text()
    )

    # On a phone too, Recall and End are far apart, and End asks first.
    recall = await phone.get_by_role(
        "button", name="Recall everyone to the joint room"
    ).bounding_box()
    end = phone.get_by_role("button", name="End the session for everyone")
    end_box = await end.bounding_box()
    assert recall is not None and end_box is not None
    assert end_box["y"] > recall["y"] + recall["height"] + 200
    await end.click()
    await phone.get_by_role("heading", name="End the session for everyone?").wait_for()
    await _fits_a_phone(phone, "end the session on a phone")
    await phone.get_by_role("button", name="Yes, end the session").click()
    await phone.get_by_role("heading", name="Record the outcome").wait_for()
    await _fits_a_phone(phone, "outcome form on a phone")
