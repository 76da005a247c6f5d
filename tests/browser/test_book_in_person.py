"""A scheduler books an in-person meeting: picks a venue from the list near the family's town."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.cases import intake, roster
from orchestrator.core.models import Meeting, MeetingMode, OutboxMessage, PartyCreate, PartyRole
from orchestrator.core.settings import ServiceVenue
from orchestrator.web.keys import BUS, DB, SETTINGS
from tests.browser.conftest import LiveApp, assert_accessible, new_page
from tests.browser.scenario import PASSWORD, case_with_people

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}


async def _with_school_and_town(live_app: LiveApp) -> Any:
    scenario = await case_with_people(live_app)
    live_app.app[SETTINGS].venues = [
        ServiceVenue(
            name="Canterbury Family Centre",
            address="12 Castle Street, Canterbury CT1 2QD",
            access_notes="Step-free entrance on Castle Row",
        ),
        ServiceVenue(name="Maidstone Hub", address="3 King Street, Maidstone ME14 1BG"),
    ]
    async with live_app.app[DB].write() as session:
        parent = await roster.get_party(
            session, case_id=scenario.case_id, party_id=scenario.parent_id
        )
        parent.town = "Canterbury"
        await roster.add_party(
            session,
            case=await intake.get_case(session, scenario.case_id),
            data=PartyCreate(
                role=PartyRole.school,
                name="Robin Head",
                email="head@oakfield.example",
                organisation="Oakfield Primary School",
                town="Whitstable",
            ),
            now=live_app.clock(),
            bus=live_app.app[BUS],
            actor=None,
        )
    return scenario


async def _sign_in_and_open_booking(page: Any, live_app: LiveApp, case_id: Any) -> None:
    await page.goto(f"{live_app.url}/staff/cases/{case_id}")
    await page.get_by_label("Email address").fill("sam@staff.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Case KIDS-2026-021").wait_for()
    await page.locator("a", has_text="Book").first.click()
    await page.get_by_role("heading", name="Check and book the meeting").wait_for()


async def test_scheduler_books_in_person_at_a_venue_from_the_list(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await _with_school_and_town(live_app)
    page = await new_page(browser)
    await _sign_in_and_open_booking(page, live_app, scenario.case_id)

    assert (await page.locator("#family-town").inner_text()).strip() == "Canterbury"
    venues = page.locator("#venue")
    listed = await venues.inner_text()
    assert "Canterbury Family Centre, 12 Castle Street, Canterbury CT1 2QD" in listed
    assert "The child's school: Oakfield Primary School, Whitstable" in listed
    await assert_accessible(page, "booking with venues")

    # In person with no venue chosen: the page says so beside the list, nothing is booked.
    await page.get_by_label("In person").check()
    await page.get_by_role("button", name="Book and send invites").click()
    await page.locator("#venue-error").wait_for()
    assert (
        "Choose where the meeting will be held" in await page.locator("#venue-error").inner_text()
    )
    await assert_accessible(page, "booking refused: no venue")
    async with live_app.app[DB].read() as session:
        assert (await session.scalars(select(Meeting))).all() == []

    await page.get_by_label("In person").check()
    await page.get_by_label(
        "Canterbury Family Centre, 12 Castle Street, Canterbury CT1 2QD"
    ).check()
    await page.get_by_role("button", name="Book and send invites").click()
    await page.get_by_text("Meeting booked; invites are on their way.").wait_for()

    async with live_app.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        mails = (await session.scalars(select(OutboxMessage))).all()
    assert meeting.mode is MeetingMode.in_person
    assert meeting.venue == {
        "name": "Canterbury Family Centre",
        "address": "12 Castle Street, Canterbury CT1 2QD",
        "access_notes": "Step-free entrance on Castle Row",
    }
    # The invitation the parent gets says where to go.
    invites = [m for m in mails if "pat@family.example" in str(m.payload)]
    assert invites and any("12 Castle Street" in str(m.payload) for m in invites)


async def test_the_childs_school_can_be_the_venue_on_a_phone(
    live_app: LiveApp, browser: Any
) -> None:
    scenario = await _with_school_and_town(live_app)
    page = await new_page(browser, viewport=PHONE_390, is_mobile=True, has_touch=True)
    await _sign_in_and_open_booking(page, live_app, scenario.case_id)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the booking page scrolls sideways on a phone ({width}px)"
    await assert_accessible(page, "booking with venues on a phone")

    await page.get_by_label("In person").check()
    await page.get_by_label("The child's school: Oakfield Primary School, Whitstable").check()
    await page.get_by_role("button", name="Book and send invites").click()
    await page.get_by_text("Meeting booked; invites are on their way.").wait_for()
    async with live_app.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
    assert meeting.venue is not None and meeting.venue["name"] == "Oakfield Primary School"
