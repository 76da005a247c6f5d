"""A scheduler works a deadline board of 60 cases in Chromium: finds one case by its
reference and another by a parent's name, sorts, pages to page 2 and reads each row's next
action; on a 390-pixel phone the rows stack and the clocks stay in view. axe at both sizes.

The README's screenshot of the board (docs/screenshots/deadline-board.png) is taken here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from calendars import wording
from orchestrator.cases import intake, panel, roster
from orchestrator.core.models import (
    Case,
    CaseCreate,
    CaseKind,
    MediatorCreate,
    PartyCreate,
    PartyRole,
    PollAnswerValue,
    StaffRole,
)
from orchestrator.scheduling import poll_answers, poll_requests
from orchestrator.scheduling.poll_times import poll_candidates
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import BUS, BUSY_READER, DB, HTTP, SETTINGS, WORKDAYS
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page, screenshot
from tests.browser.scenario import book_best_time_of

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
PHONE_390 = {"width": 390, "height": 844}
README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "deadline-board.png"
FIRST_NAMES = ["Amira", "Ben", "Chloe", "Dev", "Erin", "Femi", "Grace", "Harry", "Isla", "Jay"]
SURNAMES = ["Jordan", "Khan", "Doyle", "Okafor", "Price", "Walsh"]
AUTHORITIES = ["Kent", "Essex", "Medway", "Surrey"]
MEDIATORS = ["Mo Ahmed", "Rhiannon Price"]


def reference(i: int) -> str:
    return f"KIDS-2026-{101 + i}"


def parent_name(i: int) -> str:
    return f"{FIRST_NAMES[i % 10]} {SURNAMES[i // 10]}"


@dataclass
class Board:
    """What was seeded, by case index: which cases were polled, answered and booked."""

    ids: list[uuid.UUID] = field(default_factory=list)
    meetings: dict[int, datetime] = field(default_factory=dict)


POLLED = {3: 0, 6: 1, 9: 2, 12: 0, 15: 0, 34: 1, 57: 0}  # case index: how many answered
BOOKED = (0, 4, 10)


def referral_day(i: int) -> date:
    """The family said go ahead 1 to 40 days before today (Monday 2 March 2026)."""
    return date(2026, 3, 2) - timedelta(days=(i * 7) % 40 + 1)


async def seed_board(live: LiveApp) -> Board:
    """60 cases through the use-cases, each opened on its own day (so the LA is told then):
    people, mediators, polls, answers and bookings."""
    app, today = live.app, live.clock()
    board = Board()
    live.clock.set(datetime(2026, 1, 5, 9, tzinfo=UTC))
    async with app[DB].write() as session:
        await add_user(
            session,
            email="sam@staff.example",
            role=StaffRole.scheduler,
            name="Sam",
            password=PASSWORD,
        )
        mediators = [
            await panel.create_mediator(
                session,
                data=MediatorCreate(name=name, email=f"m{i}@mediators.example"),
                now=live.clock(),
            )
            for i, name in enumerate(MEDIATORS)
        ]
        for i in range(60):
            live.clock.set(datetime.combine(referral_day(i), time(10), UTC))
            case = await open_case(live, session, i)
            if i % 3 != 2:  # a third still wait for a mediator
                await panel.assign_mediator(
                    session,
                    case=case,
                    mediator=mediators[i % 2],
                    now=live.clock(),
                    actor=None,
                    bus=app[BUS],
                )
            board.ids.append(case.id)
    live.clock.set(today)
    for i, answered in POLLED.items():
        await poll_and_answer(live, board.ids[i], answered)
    for i in BOOKED:
        board.meetings[i] = (await book_best_time_of(live, board.ids[i])).start_at
    return board


async def open_case(live: LiveApp, session: Any, i: int) -> Case:
    app, now = live.app, live.clock()
    la = AUTHORITIES[i % 4]
    case = await intake.create_case(
        session,
        data=CaseCreate(
            reference=reference(i),
            kind=CaseKind.disagreement_resolution if i % 9 == 8 else CaseKind.mediation,
            local_authority=la,
            referral_date=referral_day(i),
        ),
        now=now,
        bus=app[BUS],
    )
    people = [
        (PartyRole.parent, parent_name(i), f"parent{i}@family.example"),
        (PartyRole.la_officer, f"Officer {SURNAMES[i % 6]}", f"officer{i}@{la.lower()}.example"),
    ]
    for role, name, email in people:
        await roster.add_party(
            session,
            case=case,
            data=PartyCreate(role=role, name=name, email=email),
            now=now,
            bus=app[BUS],
            actor=None,
        )
    return case


async def poll_and_answer(live: LiveApp, case_id: uuid.UUID, answered: int) -> None:
    """Ask the case's people when they can meet; the first ``answered`` of them reply."""
    app, now = live.app, live.clock()
    read = await poll_requests.read_poll_calendars(
        app[DB],
        case_id=case_id,
        now=now,
        settings=app[SETTINGS],
        calendar=app[WORKDAYS],
        reader=app[BUSY_READER],
        http=app[HTTP],
    )
    async with app[DB].write() as session:
        asked = await poll_requests.request_availability(
            session,
            case=await intake.get_case(session, case_id),
            duration_minutes=180,
            now=now,
            settings=app[SETTINGS],
            calendar=app[WORKDAYS],
            calendars=read,
        )
        people = await roster.list_parties(session, case_id=case_id)
        for party in people[:answered]:
            url = await poll_requests.poll_link_url(session, asked.poll, party, app[SETTINGS])
            access = await poll_answers.open_poll(
                session, url.rsplit("/", 1)[-1], settings=app[SETTINGS], now=now
            )
            first = poll_candidates(asked.poll)[0]
            await poll_answers.record_answers(
                session,
                access=access,
                answers={first: PollAnswerValue.yes},
                note=None,
                now=now,
                bus=app[BUS],
            )


async def sign_in(page: Any, url: str, label: str) -> None:
    await page.goto(f"{url}/staff")
    await page.get_by_role("heading", name="Sign in").wait_for()
    await assert_accessible(page, f"sign in ({label})")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Deadline board").wait_for()


async def references_shown(page: Any) -> list[str]:
    texts = await page.locator("#board tbody th a").all_inner_texts()
    return [t.strip() for t in texts]


async def row_text(page: Any, ref: str) -> str:
    row = page.locator("#board tbody tr").filter(has=page.get_by_role("link", name=ref, exact=True))
    text: str = await row.inner_text()
    return text


async def submit(page: Any) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name="Filter cases").click()


async def search(page: Any, text: str) -> None:
    await page.get_by_label("Search by case reference or name").fill(text)
    await submit(page)


async def test_scheduler_finds_sorts_and_pages_a_board_of_60_cases(
    live_app: LiveApp, browser: Any
) -> None:
    board = await seed_board(live_app)
    page = await new_page(browser, viewport=DESKTOP)
    await sign_in(page, live_app.url, "desktop")

    # One page of 25, the most urgent first: the oldest go-ahead has its clocks overdue.
    caption = page.locator("#board caption")
    assert "60 cases" in await caption.inner_text()
    assert "Showing 1 to 25" in await caption.inner_text()
    assert await page.locator("#board tbody tr").count() == 25
    first_row = page.locator("#board tbody tr").first
    assert "Overdue" in await first_row.inner_text()
    await page.get_by_role("navigation", name="Pages of cases").wait_for()
    await assert_accessible(page, "board of 60, desktop")
    # The README's picture: 1280 wide and tall enough to show the first rows.
    await page.set_viewport_size({"width": 1280, "height": 1700})
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(README_SHOT))
    await page.set_viewport_size(DESKTOP)

    # Search by reference: that one case, and nothing else.
    await search(page, reference(37))
    assert "1 case found" in await caption.inner_text()
    assert await references_shown(page) == [reference(37)]
    await assert_accessible(page, "board searched, desktop")
    # By a parent's name, as the family gave it.
    await search(page, parent_name(22).lower())
    assert await references_shown(page) == [reference(22)]
    await search(page, "Nobody Of That Name")
    await page.get_by_text("No open cases match these filters").wait_for()
    await page.get_by_role("link", name="Clear filters").click()
    await page.get_by_text("60 cases").wait_for()

    # Sort by reference, then page 2 keeps the order.
    await page.get_by_label("Sort by").select_option(label="Case reference")
    await submit(page)
    await page.get_by_text("sorted by case reference").wait_for()
    assert await references_shown(page) == [reference(i) for i in range(25)]
    await read_next_actions(page, board)
    await page.get_by_role("link", name="Page 2").click()
    await page.get_by_text("Showing 26 to 50").wait_for()
    assert await references_shown(page) == [reference(i) for i in range(25, 50)]
    assert "Page 2" in await page.locator("[aria-current=page]").get_attribute("aria-label")
    await assert_accessible(page, "board page 2 by reference, desktop")
    await page.get_by_role("link", name="Next page").click()
    await page.get_by_text("Showing 51 to 60").wait_for()
    assert await page.get_by_role("link", name="Next page").count() == 0

    # By the booked meeting: the three booked cases come first, soonest first.
    await page.get_by_label("Sort by").select_option(label="Booked meeting, soonest first")
    await submit(page)
    await page.get_by_text("Showing 1 to 25").wait_for()
    soonest = sorted(BOOKED, key=lambda i: (board.meetings[i], reference(i)))
    assert (await references_shown(page))[:3] == [reference(i) for i in soonest]

    await phone_board(browser, live_app)


async def read_next_actions(page: Any, board: Board) -> None:
    """Each row says what to do next, the meeting's date in words and the replies."""
    booked = await row_text(page, reference(4))
    assert "Hold the meeting" in booked
    assert wording.stamp(board.meetings[4], zone="Europe/London") in booked
    assert "Chase 2 unanswered" in await row_text(page, reference(3))
    assert "0 of 2 replied" in await row_text(page, reference(3))
    assert "Chase 1 unanswered" in await row_text(page, reference(6))
    assert "1 of 2 replied" in await row_text(page, reference(6))
    assert "Book the meeting" in await row_text(page, reference(9))
    assert "2 of 2 replied" in await row_text(page, reference(9))
    unassigned = await row_text(page, reference(2))
    assert "Assign a mediator" in unassigned and "No mediator yet" in unassigned
    waiting = await row_text(page, reference(1))
    assert "Ask everyone when they can meet" in waiting and "Not asked" in waiting
    assert "Not booked" in waiting


async def phone_board(browser: Any, live_app: LiveApp) -> None:
    """At 390 pixels: no sideways scroll, and the first row's clock is in view."""
    phone = await new_page(browser, viewport=PHONE_390)
    await sign_in(phone, live_app.url, "phone")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the board is {width}px wide on a 390px phone"
    clock = phone.locator("#board tbody tr").first.locator(".app-clock").first
    box = await clock.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert re.search(r"Overdue|Urgent|Due soon|On track", await clock.inner_text())
    await assert_accessible(phone, "board of 60, phone")
    await screenshot(phone, "deadline-board-phone")
    await phone.goto(f"{live_app.url}/staff?sort=reference&page=2")
    await phone.get_by_text("Showing 26 to 50").wait_for()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await assert_accessible(phone, "board page 2, phone")
