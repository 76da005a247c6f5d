"""Bounces through the real inbound-mail hook: an RFC 3464 report marks that person's email
failed on the case page and the board; forged and malformed reports change nothing."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.core.models import Delivery, DeliveryStatus, OutboxKind, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.bounce_support import TOKEN, dsn, message_id_to
from tests.orchestrator.meetings_support import app_with, book, deliver_outbox, ready_case
from tests.orchestrator.web_support import Browser, make_user

SAM = "sam@family.example"


async def post_mail(client: TestClient[Any, Any], raw: bytes) -> tuple[int, Any]:
    response = await client.post(
        "/hooks/mail/inbound", data=raw, headers={"X-Orchestrator-Token": TOKEN}
    )
    return response.status, await response.json()


async def booked_case(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, str]:
    """The app taking inbound mail; a case whose meeting's invitations have been mailed."""
    client, staff = await app_with(
        aiohttp_client, settings, clock, inbound_mail_token=SecretStr(TOKEN)
    )
    ready = await ready_case(staff)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    return client, staff, ready.case_id


async def test_a_bounce_shows_on_the_case_page_and_the_board(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _staff, case_id = await booked_case(aiohttp_client, settings, clock)
    await make_user(client, "kim@staff.example", StaffRole.scheduler, name="Kim")
    browser = Browser(client)
    await browser.sign_in("kim@staff.example")
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "bounced" not in page

    # Sam's address forwards to one that does not exist: the report names both.
    report = dsn(
        recipient="sam.old@isp.example",
        original=SAM,
        message_id=await message_id_to(client.app[DB], SAM),
    )
    assert await post_mail(client, report) == (200, {"result": "bounced"})
    assert await post_mail(client, report) == (200, {"result": "bounced"})  # again: once

    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Email to Sam Parent bounced (the address does not exist) — phone them." in page
    assert page.count("An email to Sam Parent (parent or carer) failed") == 1
    _, board = await browser.get("/staff")
    assert "Email to Sam Parent bounced — phone them" in board


async def test_forged_delayed_and_malformed_reports_mark_nobody(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _staff, _case_id = await booked_case(aiohttp_client, settings, clock)
    sams = await message_id_to(client.app[DB], SAM)
    forged = [
        dsn(recipient=SAM, message_id="<guessed@localhost>"),  # not an id we made
        dsn(recipient="lee@kent.example", message_id=sams),  # Sam's mail, Lee's address
        dsn(recipient="stranger@elsewhere.example", message_id=sams),
    ]
    for raw in forged:
        assert await post_mail(client, raw) == (200, {"result": "unknown_message"})
    delayed = dsn(recipient=SAM, message_id=sams, action="delayed", status="4.4.7")
    assert await post_mail(client, delayed) == (200, {"result": "not_a_failure"})

    broken = dsn(recipient=SAM, message_id=sams).replace(b"Action: failed\r\n", b"")
    status, body = await post_mail(client, broken)
    assert status == 422 and body["error"]["code"] == "bad_report"
    no_status_part = dsn(recipient=SAM, message_id=sams).replace(
        b"message/delivery-status", b"text/plain"
    )
    assert (await post_mail(client, no_status_part))[0] == 422
    async with client.app[DB].read() as session:
        assert (await session.scalars(select(Delivery))).all() == []


async def test_a_notify_permanent_failure_of_an_email_shows_the_same_way(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    from tests.orchestrator.test_notify_texts import booked_with_notify_mail

    client, _staff, fake, case_id = await booked_with_notify_mail(
        aiohttp_client, aiohttp_server, settings, clock
    )
    to_sam = [r for r in fake.received if r.kind == "email" and r.to == SAM]
    url = str(client.make_url("/hooks/notify/status"))
    assert await fake.send_receipt(url, to_sam[-1], "permanent-failure") == 200
    async with client.app[DB].read() as session:
        [delivery] = (
            await session.scalars(select(Delivery).where(col(Delivery.channel) == OutboxKind.email))
        ).all()
    assert delivery.status is DeliveryStatus.permanent_failure
    await make_user(client, "kim@staff.example", StaffRole.scheduler, name="Kim")
    browser = Browser(client)
    await browser.sign_in("kim@staff.example")
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Email to Sam Parent bounced (the address does not exist) — phone them." in page
