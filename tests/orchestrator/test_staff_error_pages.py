"""Staff error pages speak to staff; party error pages keep the party's wording."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.core.db import DatabaseUnavailable
from orchestrator.core.models import StaffRole
from orchestrator.staff import accounts
from orchestrator.web.staff.roles import ROOM_STAFF, SCHEDULERS, abilities
from tests.orchestrator.web_support import Browser, make_user

PARTY_WORDING = "we will send you a new link"


async def test_a_refusal_says_who_can_and_leads_back_to_the_board(
    client: TestClient[Any, Any],
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    status, page = await browser.get(f"/staff/meetings/{uuid.uuid4()}/console")
    assert status == 403
    assert (
        "Only mediators and admins can run meetings: open the room console and record outcomes."
        in page
    )
    assert 'href="/staff">Go to the deadline board' in page
    assert "Staff menu" in page  # still signed in: the menu stays
    assert PARTY_WORDING not in page


async def test_missing_and_broken_staff_pages_say_so_plainly(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(client, "ada@staff.example", StaffRole.admin)
    browser = Browser(client)
    await browser.sign_in("ada@staff.example")
    case_id = uuid.uuid4()
    status, page = await browser.get(f"/staff/cases/{case_id}")
    assert status == 404 and "Page not found" in page
    assert str(case_id) not in page and PARTY_WORDING not in page
    status, page = await browser.get("/staff/no-such-page")
    assert status == 404 and "Page not found" in page and "Go to the deadline board" in page

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "list_users", broken)
    status, page = await browser.get("/staff/admin/users")
    assert status == 500
    assert "Sorry, there is a problem with the service" in page and "boom" not in page
    assert "Go to the deadline board" in page and PARTY_WORDING not in page


async def test_a_database_outage_is_said_with_the_banner(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(client, "ada@staff.example", StaffRole.admin)
    browser = Browser(client)
    await browser.sign_in("ada@staff.example")

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("no connection")

    monkeypatch.setattr(accounts, "list_users", unreachable)
    status, page = await browser.get("/staff/admin/users")
    assert status == 503 and "Sorry, the service is unavailable" in page
    assert "the database cannot be reached, so changes cannot be saved" in page  # the banner
    assert "Go to the deadline board" in page and PARTY_WORDING not in page


async def test_party_pages_keep_the_party_wording(client: TestClient[Any, Any]) -> None:
    status, page = await Browser(client).get("/p/not-a-real-link")
    assert status == 404 and PARTY_WORDING in page and "deadline board" not in page


def test_links_and_guards_share_one_rule() -> None:
    assert abilities(StaffRole.scheduler) == {
        "schedule": True,
        "read_cases": True,
        "administer": False,
        "run_meetings": False,
    }
    assert abilities(StaffRole.admin) == dict.fromkeys(abilities(StaffRole.admin), True)
    assert not ROOM_STAFF.allows(StaffRole.scheduler) and SCHEDULERS.allows(StaffRole.admin)
    assert list(ROOM_STAFF) == [StaffRole.mediator, StaffRole.admin]
