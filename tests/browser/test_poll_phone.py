"""A parent answers a 20-time poll on a 390-pixel phone: short, grouped by day, with a
reply-by date; an empty form names the problem on the same page; "none of these work"."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import OutboxMessage, Poll, PollResponse
from orchestrator.messaging.outbox import email_from_payload
from orchestrator.web.keys import DB
from tests.browser.conftest import LiveApp, assert_accessible, new_page, screenshot
from tests.browser.phone_fit import LANGUAGES, PHONE_390, fits_a_phone, said
from tests.browser.scenario import case_with_people

pytestmark = pytest.mark.browser

MAX_HEIGHT = 2_500  # was about 5,600 px for 20 times


async def phone_page(browser: Any) -> Any:
    return await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)


async def offered(live_app: LiveApp) -> int:
    async with live_app.app[DB].read() as session:
        poll = (await session.scalars(select(Poll))).one()
    return len(poll.candidates)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_poll_fits_a_phone_grouped_by_day_with_a_reply_by_date(
    live_app: LiveApp, browser: Any, language: str
) -> None:
    scenario = await case_with_people(live_app, language=language)
    times = await offered(live_app)
    assert times == 20
    phone = await phone_page(browser)

    await phone.goto(scenario.poll_url)
    await phone.get_by_role("heading", name=said(language, "When can you meet?")).wait_for()

    await fits_a_phone(phone, "poll", language=language)
    await screenshot(phone, f"poll-390-{language}")
    height = await phone.evaluate("document.documentElement.scrollHeight")
    assert height < MAX_HEIGHT, f"the poll is {height}px tall for {times} times"
    assert await phone.locator("#answers fieldset").count() == times
    days = await phone.locator("h2.app-poll-day").all_inner_texts()
    assert len(days) >= 2 and len(set(days)) == len(days)  # one heading per day
    reply_by = said(language, "Please reply by %(day)s.").split("%(")[0].strip()
    assert reply_by in await phone.locator("#reply-by").inner_text()
    first = await phone.locator("#answers fieldset").first.bounding_box()
    assert first["y"] + first["height"] <= PHONE_390["height"]  # answering starts on screen 1


async def test_sending_nothing_shows_the_error_summary_on_the_same_page(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await case_with_people(live_app)
    phone = await phone_page(browser)
    await phone.goto(scenario.poll_url)
    await phone.get_by_role("button", name="Send my answers").click()

    await phone.get_by_role("heading", name="There is a problem").wait_for()
    assert (await phone.title()).startswith("Error: ")
    assert await phone.evaluate(
        "document.activeElement.classList.contains('govuk-error-summary')"
    ), "the summary takes the focus so a screen reader reads it first"
    await fits_a_phone(phone, "poll with an error")
    link = phone.locator(".govuk-error-summary__list a").first
    await phone.keyboard.press("Tab")
    assert await link.evaluate("el => el === document.activeElement")  # reachable by keyboard
    target = (await link.get_attribute("href") or "").lstrip("#")
    await phone.keyboard.press("Enter")
    assert await phone.evaluate("location.hash") == f"#{target}"
    first_choice = phone.locator(f"#{target}")
    assert await first_choice.count() == 1
    assert await first_choice.get_attribute("type") == "radio"
    await screenshot(phone, "poll-390-error")


async def test_none_of_these_work_please_call_me(live_app: LiveApp, browser: Any) -> None:
    scenario = await case_with_people(live_app)
    phone = await phone_page(browser)
    await phone.goto(scenario.poll_url)

    await phone.get_by_label("None of these work – please call me").check()
    async with phone.expect_navigation():
        await phone.get_by_role("button", name="Send my answers").click()

    await phone.get_by_role("heading", name="Thank you – your answers are saved").wait_for()
    assert "None of these work – please call me" in await phone.locator("main").inner_text()
    await fits_a_phone(phone, "poll saved")
    async with live_app.app[DB].read() as session:
        answered = (
            await session.scalars(
                select(PollResponse).where(col(PollResponse.party_id) == scenario.parent_id)
            )
        ).one()
    assert answered.call_me is True and answered.answered_at is not None


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_poll_email_fits_a_phone_and_says_when_to_reply_by(
    live_app: LiveApp, browser: Any, language: str
) -> None:
    await case_with_people(live_app, language=language)
    async with live_app.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(col(OutboxMessage.topic) == "poll")
        )
        row = next(r for r in rows if r.payload["to"] == ["pat@family.example"])
    message = email_from_payload(row.payload)
    assert str(message["Subject"]) == said(language, "Please tell us when you can meet")
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    phone = await phone_page(browser)

    await phone.set_content(str(part.get_content()))

    await fits_a_phone(phone, "poll email", language=language)
    reply_by = said(language, "Please reply by %(day)s.").split("%(")[0].strip()
    assert reply_by in await phone.locator("body").inner_text()
    button = phone.get_by_role("link", name=said(language, "Tell us when you can meet"))
    box = await button.bounding_box()
    assert box["y"] + box["height"] <= PHONE_390["height"]
    await screenshot(phone, f"poll-email-390-{language}")


async def test_the_poll_chaser_fits_a_phone_and_says_when_to_reply_by(browser: Any) -> None:
    from orchestrator.mail_templates import render_mail

    mail = render_mail(
        "chase_poll",
        {
            "recipient_name": "Pat Jordan",
            "meeting_label": "mediation meeting",
            "poll_url": "https://mediation.example/p/" + "t" * 300,
            "reply_by": "Thursday 5 March 2026",
            "service_name": "KIDS SEND Mediation Service",
            "help_line": "0333 006 2835",
        },
    )
    assert "Please reply by Thursday 5 March 2026." in mail.text
    phone = await phone_page(browser)

    await phone.set_content(mail.html)

    await assert_accessible(phone, "poll chaser")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]
    assert "Please reply by Thursday 5 March 2026." in await phone.locator("body").inner_text()
    box = await phone.get_by_role("link", name="tell us when you are free").bounding_box()
    assert box["y"] + box["height"] <= PHONE_390["height"]
