"""The deadline board page: what its address may carry, and what its audit keeps."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import AuditEvent, StaffRole
from orchestrator.web.keys import DB
from tests.conftest import Staff
from tests.orchestrator.web_support import Browser, make_user


async def test_the_audit_keeps_the_cases_shown_not_the_name_searched_for(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "KIDS-2026-014",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
        },
        expect=201,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/parties",
        json={"role": "parent", "name": "Pat Jordan", "email": "pat@family.example"},
        expect=201,
    )
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")

    status, page = await browser.get("/staff?q=jordan")
    assert status == 200
    assert ">KIDS-2026-014</a>" in page and "1 case found" in page
    assert 'value="jordan"' in page  # the search stays in its box
    async with client.app[DB].read() as session:
        audits = (
            await session.scalars(select(AuditEvent).where(col(AuditEvent.action) == "page.board"))
        ).all()
    searched = audits[-1].details or {}
    assert searched["case_ids"] == [case["id"]] and searched["total"] == 1
    assert "jordan" not in repr(searched).lower()


async def test_an_address_the_board_does_not_understand_still_shows_the_board(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    for odd in ("page=%C2%B2", "page=-1", "sort=drop", "stage=closed", "mediator=someone", "q=%25"):
        status, page = await browser.get(f"/staff?{odd}")
        assert status == 200, odd
        assert "Deadline board" in page
