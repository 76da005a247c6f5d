"""Every staff page fits a 390-pixel phone: no sideways page scroll, axe finds nothing serious
at the phone and the desktop size, and what staff read has no raw ids, codes or UTC times.

Wide tables scroll inside their own labelled region; long names, emails and links wrap.
The data is made realistically full: long names and emails, several meetings, a timeline.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from sqlmodel import col, select

from orchestrator.cases import intake, roster
from orchestrator.core.models import (
    CaseKind,
    CaseStatus,
    Meeting,
    MeetingStatus,
    PartyCreate,
    PartyRole,
    StaffRole,
    StaffUser,
)
from orchestrator.scheduling import cancelling
from orchestrator.staff.accounts import add_user
from orchestrator.web.keys import BUS, DB
from tests.browser.conftest import DESKTOP, LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, Scenario, book_best_slot, case_with_people

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-")
# Machine words staff must never read: the enums' values that are not plain words.
CODES = re.compile(
    r"\b("
    + "|".join(
        sorted(
            m.value
            for enum in (PartyRole, CaseStatus, CaseKind, MeetingStatus)
            for m in enum
            if "_" in m.value
        )
    )
    + r")\b"
)
LONG_PEOPLE = (
    (
        PartyRole.parent,
        "Alexandra Montgomery-Fitzwilliam",
        "alexandra.montgomery-fitzwilliam@family-home.example",
    ),
    (
        PartyRole.school,
        "Christopher Featherstonehaugh",
        "senco.christopher.featherstonehaugh@st-bartholomews-primary.example",
    ),
    (
        PartyRole.advocate,
        "Oluwaseun Adebayo-Richardson",
        "oluwaseun.adebayo-richardson@independent-advocacy.example",
    ),
)


async def full_case(live: LiveApp) -> tuple[Scenario, uuid.UUID]:
    """The shared scenario plus long-named people, an admin, and a cancelled then rebooked meeting."""
    scenario = await case_with_people(live)
    app = live.app
    now = live.clock()
    async with app[DB].write() as session:
        await add_user(
            session, email="ada@staff.example", role=StaffRole.admin, name="Ada", password=PASSWORD
        )
        await add_user(
            session,
            email="bartholomew.featherstonehaugh-smythe@mediation-service.example",
            role=StaffRole.scheduler,
            name="Bartholomew Featherstonehaugh-Smythe",
            password=PASSWORD,
        )
        case = await intake.get_case(session, scenario.case_id)
        for role, name, email in LONG_PEOPLE:
            await roster.add_party(
                session,
                case=case,
                data=PartyCreate(
                    role=role,
                    name=name,
                    email=email,
                    phone="+44 7700 900 982",
                    organisation="Kent County Council Special Educational Needs",
                ),
                now=now,
                bus=app[BUS],
                actor=None,
            )
    first = await book_best_slot(live, scenario)
    async with app[DB].write() as session:
        meeting = await session.get(Meeting, first)
        assert meeting is not None
        await cancelling.cancel(
            session, meeting=meeting, reason="The school is closed for snow", now=now, bus=app[BUS]
        )
    meeting_id = await book_best_slot(live, scenario)
    return scenario, meeting_id


async def sign_in(live: LiveApp, browser: Any, email: str) -> Any:
    page = await new_page(browser, viewport=PHONE)
    await page.goto(f"{live.url}/sign-in")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/sign-in" not in url)
    return page


async def visit(page: Any, url: str, label: str, problems: list[str]) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200, (
        f"{label}: {response and response.status}"
    )
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        wide = await page.evaluate(WIDEST)
        problems.append(f"{label} is {width}px wide: {wide}")
    unlabelled = await page.evaluate(UNLABELLED_WIDE_TABLES)
    if unlabelled:
        problems.append(
            f"{label}: tables wider than the phone outside a scrolling region: {unlabelled}"
        )
    await assert_accessible(page, f"{label} at 390px")
    said = await page.locator("main").inner_text()
    for found in (UUID.search(said), CODES.search(said), re.search(r"\bUTC\b", said)):
        if found:
            problems.append(f"{label}: staff read {found.group(0)!r}")
    await page.set_viewport_size(DESKTOP)
    await assert_accessible(page, f"{label} at desktop size")
    await page.set_viewport_size(PHONE)


# What sticks out past the viewport (to say in the failure which element is too wide).
WIDEST = """
() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.app-table-wrap, .app-table-wrapper'))
  .slice(-4).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))
"""


# A table wider than the screen must sit in a focusable, labelled region that scrolls.
UNLABELLED_WIDE_TABLES = """
() => [...document.querySelectorAll('table')]
  .filter(t => t.getBoundingClientRect().width > 390 - 30)
  .filter(t => {
    const wrap = t.closest('[role=region][aria-label][tabindex="0"]');
    return !wrap || getComputedStyle(wrap).overflowX !== 'auto';
  })
  .map(t => t.id || t.querySelector('caption')?.textContent.trim())
"""


async def test_every_staff_page_fits_a_390_pixel_phone(live_app: LiveApp, browser: Any) -> None:
    live_app.clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))
    scenario, meeting_id = await full_case(live_app)
    base = live_app.url
    case_url = f"{base}/staff/cases/{scenario.case_id}"
    problems: list[str] = []

    scheduler = await sign_in(live_app, browser, "sam@staff.example")
    await visit(scheduler, f"{base}/staff", "the board", problems)
    await visit(scheduler, case_url, "the case page", problems)
    await visit(scheduler, f"{base}/staff/cases/new", "new case", problems)
    await visit(scheduler, f"{case_url}/parties/{scenario.parent_id}", "party edit", problems)
    await visit(scheduler, f"{base}/staff/meetings/{meeting_id}/reschedule", "reschedule", problems)
    await visit(scheduler, f"{base}/staff/meetings/{meeting_id}/cancel", "cancel", problems)
    start = quote("2026-03-20T10:00:00+00:00")
    await visit(
        scheduler, f"{case_url}/book?start={start}&duration=180", "booking confirmation", problems
    )
    await visit(scheduler, f"{base}/staff/reports", "reports", problems)

    admin = await sign_in(live_app, browser, "ada@staff.example")
    await visit(admin, f"{base}/staff/admin/users", "staff users", problems)
    async with live_app.app[DB].read() as session:
        sam = await session.scalar(
            select(StaffUser).where(col(StaffUser.email) == "sam@staff.example")
        )
    assert sam is not None
    await visit(admin, f"{base}/staff/admin/users/{sam.id}", "a staff user's page", problems)

    mediator = await sign_in(live_app, browser, "mo@staff.example")
    await visit(mediator, f"{base}/staff/sessions", "my sessions", problems)
    await visit(mediator, case_url, "the case page (mediator)", problems)
    await visit(
        mediator, f"{base}/staff/meetings/{meeting_id}/console", "the room console", problems
    )
    await visit(
        mediator,
        f"{base}/staff/meetings/{meeting_id}/console/end",
        "ending: are you sure",
        problems,
    )
    await visit(
        mediator, f"{base}/staff/meetings/{meeting_id}/outcome", "the outcome form", problems
    )
    assert not problems, "\n".join(problems)
