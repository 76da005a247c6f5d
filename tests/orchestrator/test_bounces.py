"""Bounces through the real inbound-mail hook: an RFC 3464 report marks that person's email
failed on the case page and the board; forged and malformed reports change nothing."""

from __future__ import annotations

from email.parser import HeaderParser
from typing import Any

from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.core.models import Delivery, DeliveryStatus, OutboxKind, OutboxMessage, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import app_with, book, deliver_outbox, ready_case
from tests.orchestrator.web_support import Browser, make_user

TOKEN = "inbound-mail-token"
SAM = "sam@family.example"


def dsn(
    *,
    recipient: str,
    message_id: str,
    action: str = "failed",
    status: str = "5.1.1",
) -> bytes:
    """A delivery-status report as Postfix writes one, the original's headers returned."""
    return (
        "From: MAILER-DAEMON@mx.family.example\r\n"
        "To: mediation@localhost\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n"
        "--B\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.family.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "\r\n"
        "--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n"
        f"To: {recipient}\r\n"
        "Subject: Your meeting\r\n"
        "--B--\r\n"
    ).encode()


async def message_id_to(client: TestClient[Any, Any], address: str) -> str:
    """The Message-ID of the newest email the service queued to this address."""
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.email)
            .order_by(col(OutboxMessage.created_at).desc())
        )
        for message in rows.all():
            if address in message.payload.get("to", []):
                headers = HeaderParser().parsestr(str(message.payload["raw"]), headersonly=True)
                return str(headers["Message-ID"])
    raise AssertionError(f"no mail to {address}")


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

    report = dsn(recipient=SAM, message_id=await message_id_to(client, SAM))
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
    sams = await message_id_to(client, SAM)
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
    from tests.fakes.notify import EMAIL_TEMPLATE
    from tests.orchestrator.test_notify_texts import PEOPLE, notify_app

    client, staff, fake = await notify_app(
        aiohttp_client,
        aiohttp_server,
        settings,
        clock,
        mail_backend="notify",
        notify_email_template_id=EMAIL_TEMPLATE,
    )
    ready = await ready_case(staff, parties=PEOPLE)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    to_sam = [r for r in fake.received if r.kind == "email" and r.to == SAM]
    url = str(client.make_url("/hooks/notify/status"))
    assert await fake.send_receipt(url, to_sam[-1], "permanent-failure") == 200
    async with client.app[DB].read() as session:
        [delivery] = (await session.scalars(select(Delivery).where(
            col(Delivery.channel) == OutboxKind.email
        ))).all()
    assert delivery.status is DeliveryStatus.permanent_failure
    await make_user(client, "kim@staff.example", StaffRole.scheduler, name="Kim")
    browser = Browser(client)
    await browser.sign_in("kim@staff.example")
    _, page = await browser.get(f"/staff/cases/{ready.case_id}")
    assert "Email to Sam Parent bounced (the address does not exist) — phone them." in page
