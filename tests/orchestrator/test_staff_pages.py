"""The scheduler's pages: the deadline board, cases, parties; audit; XSS; who sees what."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import AuditEvent, Party, StaffRole
from orchestrator.web.keys import DB
from tests.orchestrator.web_support import Browser, case_id_by_reference, make_user

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def scheduler(client: TestClient[Any, Any]) -> Browser:
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    return browser


async def open_case(browser: Browser, reference: str, referral: str, **extra: str) -> str:
    form = {
        "reference": reference,
        "kind": "mediation",
        "local_authority": "Kent",
        "referral_date": referral,
        **extra,
    }
    response = await browser.post("/staff/cases/new", form)
    assert response.status == 303, await response.text()
    return response.headers["Location"].split("?")[0]


async def test_board_orders_open_cases_by_risk_with_words_not_colour(
    client: TestClient[Any, Any],
) -> None:
    browser = await scheduler(client)
    # Clock: 2 March 2026. Target 33 days, statutory 30 days from referral.
    await open_case(browser, "KIDS-CALM", "2026-02-27")  # 27 days left on statutory
    await open_case(browser, "KIDS-LATE", "2026-01-20")  # statutory passed on 19 Feb
    await open_case(browser, "KIDS-SOON", "2026-02-05", local_authority="Essex")  # 4 left
    status, page = await browser.get("/staff")
    assert status == 200
    order = re.findall(r">(KIDS-[A-Z]+)</a>", page)
    assert order == ["KIDS-LATE", "KIDS-SOON", "KIDS-CALM"]
    assert "Overdue" in page and "Due soon" in page and "On track" in page
    assert "11 days overdue" in page

    _, essex = await browser.get("/staff?la=Essex")
    assert re.findall(r">(KIDS-[A-Z]+)</a>", essex) == ["KIDS-SOON"]
    _, referred = await browser.get("/staff?stage=booked")
    assert "No open cases match these filters" in referred


async def test_create_case_form_shows_errors_beside_fields(client: TestClient[Any, Any]) -> None:
    browser = await scheduler(client)
    response = await browser.post(
        "/staff/cases/new", {"reference": "", "kind": "mediation", "referral_date": "2026-13-01"}
    )
    assert response.status == 422
    text = await response.text()
    assert "There is a problem" in text
    assert 'href="#reference"' in text and 'href="#local_authority"' in text
    await open_case(browser, "KIDS-1", "2026-02-27")
    again = await browser.post(
        "/staff/cases/new",
        {
            "reference": "KIDS-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
        },
    )
    assert again.status == 422
    assert "already exists" in await again.text()


async def test_add_change_and_remove_a_party(client: TestClient[Any, Any]) -> None:
    browser = await scheduler(client)
    case_path = await open_case(browser, "KIDS-1", "2026-02-27")
    added = await browser.post(
        f"{case_path}/parties",
        {"role": "parent", "name": "Pat Jordan", "email": "pat@family.example", "channel": "phone"},
    )
    assert added.status == 303
    _, page = await browser.get(case_path)
    assert "Pat Jordan" in page and "Parent or carer" in page and "Phone" in page
    assert "Added Pat Jordan (parent or carer)" in page  # the timeline

    bad = await browser.post(
        f"{case_path}/parties", {"role": "parent", "name": "", "email": "nope"}
    )
    assert bad.status == 422
    assert 'href="#email"' in await bad.text()

    async with client.app[DB].read() as session:
        party = (await session.scalars(select(Party))).one()
    edited = await browser.post(
        f"{case_path}/parties/{party.id}",
        {
            "name": "Pat Jordan-Smith",
            "email": "pat@family.example",
            "channel": "video",
            "required_shown": "1",
            "required": "yes",
        },
    )
    assert edited.status == 303
    _, page = await browser.get(case_path)
    assert "Pat Jordan-Smith" in page

    status, confirm = await browser.get(f"{case_path}/parties/{party.id}/remove")
    assert status == 200 and "Every link they were sent stops working" in confirm
    removed = await browser.post(f"{case_path}/parties/{party.id}/remove")
    assert removed.status == 303
    _, page = await browser.get(case_path)
    assert "Pat Jordan-Smith" not in page.split('id="timeline"')[0]


async def test_free_text_renders_inert(client: TestClient[Any, Any]) -> None:
    browser = await scheduler(client)
    case_path = await open_case(browser, "KIDS-X", "2026-02-27", local_authority=XSS, region=XSS)
    await browser.post(
        f"{case_path}/parties",
        {
            "role": "school",
            "name": "Head<script>",
            "organisation": XSS,
            "needs": XSS,
            "language": "x<b>",
            "channel": "video",
        },
    )
    for path in (case_path, "/staff"):
        status, page = await browser.get(path)
        assert status == 200
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_every_case_view_is_audited(client: TestClient[Any, Any]) -> None:
    browser = await scheduler(client)
    case_path = await open_case(browser, "KIDS-1", "2026-02-27")
    await browser.get(case_path)
    await browser.get(case_path)
    case_id = await case_id_by_reference(client, "KIDS-1")
    async with client.app[DB].read() as session:
        views = (
            await session.scalars(
                select(AuditEvent).where(
                    col(AuditEvent.action) == "page.case", col(AuditEvent.case_id) == case_id
                )
            )
        ).all()
    assert len(views) == 2


async def test_mediator_sees_only_their_own_cases(client: TestClient[Any, Any]) -> None:
    browser = await scheduler(client)
    await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo Ahmed")
    await make_user(client, "kim@staff.example", StaffRole.mediator, name="Kim Lee")
    mine = await open_case(browser, "KIDS-MINE", "2026-02-27")
    theirs = await open_case(browser, "KIDS-THEIRS", "2026-02-27")
    _, page = await browser.get(mine)
    options = dict(re.findall(r'<option value="([0-9a-f-]{36})"[^>]*>([^<]+)</option>', page))
    by_name = {v: k for k, v in options.items()}
    assert (
        await browser.post(f"{mine}/mediator", {"mediator_id": by_name["Mo Ahmed"]})
    ).status == 303
    assert (
        await browser.post(f"{theirs}/mediator", {"mediator_id": by_name["Kim Lee"]})
    ).status == 303

    mo = Browser(client)
    client.session.cookie_jar.clear()
    await mo.sign_in("mo@staff.example")
    status, board = await mo.get("/staff")
    assert "KIDS-MINE" in board and "KIDS-THEIRS" not in board
    assert (await mo.get(mine))[0] == 200
    status, text = await mo.get(theirs)
    assert status == 404 and "KIDS-THEIRS" not in text
    # Nor may a mediator change who is on a case.
    assert (await mo.post(f"{mine}/parties", {"role": "parent", "name": "X"})).status == 403


async def test_a_form_field_holding_a_nul_character_is_shown_as_an_error(
    client: TestClient[Any, Any],
) -> None:
    # PostgreSQL cannot store U+0000: the new-case form answered 500 there.
    browser = await scheduler(client)
    form = {
        "reference": "KIDS-NUL",
        "kind": "mediation",
        "local_authority": "Kent\x00",
        "referral_date": "2026-02-27",
    }
    response = await browser.post("/staff/cases/new", form)
    assert response.status == 422
    text = await response.text()
    assert "There is a problem" in text and 'href="#local_authority"' in text
    assert "hidden control character" in text
    _, board = await browser.get("/staff")
    assert "KIDS-NUL" not in board
