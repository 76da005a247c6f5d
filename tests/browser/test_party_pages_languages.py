"""The other party pages on a 390-pixel phone in each language: the reply to an invitation,
preparation, the poll's thanks and a dead link's page. Each says its language (Urdu right to
left), fits the screen with its main action on the first screen, and axe finds nothing serious.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.cases import intake, roster
from orchestrator.closing import preparation
from orchestrator.core.models import Meeting
from orchestrator.messaging import ways_in
from orchestrator.web.keys import DB, SETTINGS
from tests.browser.conftest import LiveApp, new_page, screenshot
from tests.browser.phone_fit import LANGUAGES, PHONE_390, fits_a_phone, said
from tests.browser.scenario import book_best_slot, case_with_people

pytestmark = pytest.mark.browser


async def on_first_screen(locator: Any, label: str) -> None:
    box = await locator.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE_390["height"], (label, box)


async def _links(live: LiveApp, language: str) -> tuple[str, str, str]:
    """The parent's poll, invitation-reply and preparation links, the parent reading
    ``language``, with the meeting booked."""
    scenario = await case_with_people(live, language=language)
    meeting_id = await book_best_slot(live, scenario)
    settings = live.app[SETTINGS]
    async with live.app[DB].write() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        parent = await roster.get_party(
            session, case_id=meeting.case_id, party_id=scenario.parent_id
        )
        reply = await ways_in.rsvp_link(session, meeting, parent, live.clock())
        prepare = await preparation.send_prepare_link(
            session,
            case=await intake.get_case(session, meeting.case_id),
            party=parent,
            settings=settings,
            now=live.clock(),
            actor=None,
        )
    rsvp = ways_in.link_url(reply, settings)
    local = settings.base_url, live.url
    return scenario.poll_url, rsvp.replace(*local), prepare.replace(*local)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_reply_prepare_and_thanks_pages_speak_the_persons_language(
    live_app: LiveApp, browser: Any, language: str
) -> None:
    poll_url, rsvp_url, prepare_url = await _links(live_app, language)
    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)

    await phone.goto(f"{rsvp_url}?answer=accepted")
    send = phone.get_by_role("button", name=said(language, "Send my answer"))
    await on_first_screen(send, "reply")
    await fits_a_phone(phone, "reply to the invitation", language=language)
    await screenshot(phone, f"rsvp-390-{language}")
    async with phone.expect_navigation():
        await send.click()
    thanks = said(language, "Thank you – we have your answer")
    await phone.get_by_role("heading", name=thanks).wait_for()
    await fits_a_phone(phone, "reply saved", language=language)

    await phone.goto(prepare_url)
    await phone.get_by_role("heading", name=said(language, "Prepare for your meeting")).wait_for()
    await on_first_screen(
        phone.get_by_label(
            said(language, "What is the disagreement about, and what would you like to happen?")
        ),
        "prepare",
    )
    await fits_a_phone(phone, "prepare", language=language)
    await screenshot(phone, f"prepare-390-{language}")

    await phone.goto(poll_url)
    await phone.get_by_label(said(language, "None of these work – please call me")).check()
    async with phone.expect_navigation():
        await phone.get_by_role("button", name=said(language, "Send my answers")).click()
    saved = said(language, "Thank you – your answers are saved")
    await phone.get_by_role("heading", name=saved).wait_for()
    await fits_a_phone(phone, "poll saved", language=language)
    await screenshot(phone, f"poll-saved-390-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_dead_links_page_speaks_the_language_the_switch_chose(
    live_app: LiveApp, browser: Any, language: str
) -> None:
    phone = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    response = await phone.goto(f"{live_app.url}/j/not-a-real-link?lang={language}")
    assert response is not None and response.status in (403, 404, 410)
    heading = phone.locator("h1")
    assert (await heading.inner_text()) in {
        said(language, "This link does not work"),
        said(language, "This link does not work any more"),
        said(language, "You cannot see this page"),
    }
    await fits_a_phone(phone, "dead link", language=language)
    await screenshot(phone, f"dead-link-390-{language}")
