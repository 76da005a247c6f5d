"""Text messages through GOV.UK Notify, against its loopback fake: who is texted, outages
retried through the outbox, refusals recorded, and delivery receipts verified and shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.core.models import (
    Delivery,
    DeliveryStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
)
from orchestrator.core.settings import Settings
from orchestrator.messaging import reminder_sending
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.fakes.notify import (
    API_KEY,
    CALLBACK_TOKEN,
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    FakeNotify,
    Received,
)
from tests.orchestrator.meetings_support import (
    START,
    book,
    deliver_outbox,
    free_port,
    live_app,
    ready_case,
    serve,
)
from tests.orchestrator.web_support import Browser, make_user

ALEX = "+447700900002"  # the young person: phone channel, a mobile, no email
SAM = "+447700900001"  # the parent: email and a mobile, video channel
PEOPLE = ("parent", "la_officer", "young_person")


def notify_settings(base_url: str, **more: Any) -> dict[str, Any]:
    return {
        "notify_api_key": SecretStr(API_KEY),
        "notify_base_url": base_url,
        "notify_sms_template_id": SMS_TEMPLATE,
        "notify_callback_token": SecretStr(CALLBACK_TOKEN),
        **more,
    }


async def notify_app(
    aiohttp_client: Any,
    aiohttp_server: Any,
    settings: Settings,
    clock: MutableClock,
    **more: Any,
) -> tuple[TestClient[Any, Any], Staff, FakeNotify]:
    fake = FakeNotify()
    api = await serve(aiohttp_server, fake.app)
    client, staff = await live_app(aiohttp_client, settings, clock, **notify_settings(api, **more))
    return client, staff, fake


async def text_rows(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.sms)
            .order_by(col(OutboxMessage.created_at))
        )
        return list(rows.all())


async def deliveries(client: TestClient[Any, Any]) -> list[Delivery]:
    async with client.app[DB].read() as session:
        return list((await session.scalars(select(Delivery))).all())


async def test_each_person_gets_the_texts_their_channel_calls_for_once_each(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=PEOPLE)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)

    invites = fake.texts_to(ALEX)
    assert len(invites) == 1
    body = invites[0].personalisation["body"]
    assert "Tuesday 10 March 2026, 10am to 1pm (UK time)" in body
    assert "KIDS-2026-001" not in body and "Alex" not in body  # no case reference, no name
    assert fake.texts_to(SAM) == []  # an email parent is not texted

    db = client.app[DB]
    for before in (timedelta(days=2), timedelta(hours=2)):
        clock.set(START - before)
        await reminder_sending.send_due(
            db, settings=client_settings(client), now=clock(), worker_id="test"
        )
        await deliver_outbox(client)
        await deliver_outbox(client)  # a second pass sends nothing again
    texts = fake.texts_to(ALEX)
    assert [t.personalisation["body"].split(":")[0] for t in texts] == [
        client_settings(client).service_name,
        f"Reminder from {client_settings(client).service_name}",
        f"Reminder from {client_settings(client).service_name}",
    ]
    assert len({t.reference for t in texts}) == 3
    assert fake.texts_to(SAM) == []

    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/cancel",
        json={"reason": "The mediator is ill"},
        expect=200,
    )
    await deliver_outbox(client)
    cancelled = fake.texts_to(ALEX)[-1].personalisation["body"]
    assert "is cancelled" in cancelled and "mediator is ill" not in cancelled
    assert len(fake.texts_to(ALEX)) == 4 and fake.texts_to(SAM) == []


def client_settings(client: TestClient[Any, Any]) -> Settings:
    settings: Settings = client.app[SETTINGS]
    return settings


async def test_an_outage_of_notify_is_retried_and_the_text_sent_once_it_recovers(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    fake.fail_with = 500
    ready = await ready_case(staff, parties=PEOPLE)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    [row] = await text_rows(client)
    assert row.status is OutboxStatus.pending and row.attempts == 1
    assert row.last_status_code == 500 and "Internal server error" in (row.last_error or "")
    assert fake.received == []

    fake.fail_with = 429  # then the rate limit: still worth another try
    clock.advance(hours=1)
    await deliver_outbox(client)
    [row] = await text_rows(client)
    assert row.status is OutboxStatus.pending and row.attempts == 2

    fake.fail_with = None
    clock.advance(hours=1)
    await deliver_outbox(client)
    clock.advance(hours=1)
    await deliver_outbox(client)
    assert len(fake.texts_to(ALEX)) == 1
    [row] = await text_rows(client)
    assert row.status is OutboxStatus.sent and row.attempts == 3
    [delivery] = await deliveries(client)
    assert delivery.status is DeliveryStatus.sending
    assert delivery.provider_id == fake.texts_to(ALEX)[0].id


async def test_texts_wait_while_notify_refuses_connections(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    port = free_port()  # nothing listens here yet
    client, staff = await live_app(
        aiohttp_client, settings, clock, **notify_settings(f"http://127.0.0.1:{port}")
    )
    ready = await ready_case(staff, parties=PEOPLE)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    [row] = await text_rows(client)
    assert row.status is OutboxStatus.pending and "unreachable" in (row.last_error or "")

    fake = FakeNotify()
    await aiohttp_server(fake.app, port=port)
    clock.advance(hours=1)
    await deliver_outbox(client)
    await deliver_outbox(client)
    assert len(fake.texts_to(ALEX)) == 1
    assert (await text_rows(client))[0].status is OutboxStatus.sent


async def test_a_refused_text_is_not_retried_and_says_why(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    unknown_template = "0b8e7f2a-3c4d-4e5f-8a9b-1c2d3e4f5a6b"
    client, staff, fake = await notify_app(
        aiohttp_client,
        aiohttp_server,
        settings,
        clock,
        notify_sms_template_id=unknown_template,
    )
    ready = await ready_case(staff, parties=PEOPLE)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    clock.advance(hours=3)
    await deliver_outbox(client)
    assert fake.refused == [(400, "Template not found")]  # asked once, not again
    [row] = await text_rows(client)
    assert row.status is OutboxStatus.failed and row.attempts == 1
    assert "Template not found" in (row.last_error or "")
    [delivery] = await deliveries(client)
    assert delivery.status is DeliveryStatus.refused
    assert "Template not found" in (delivery.reason or "")


async def sent_text(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, FakeNotify, str, Received]:
    """An app that has texted Alex the meeting: the case id and what Notify received."""
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=PEOPLE)
    await book(staff, ready.case_id)
    await deliver_outbox(client)
    [text] = fake.texts_to(ALEX)
    return client, staff, fake, ready.case_id, text


async def test_a_forged_receipt_is_refused_and_changes_nothing(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _staff, fake, _case_id, text = await sent_text(
        aiohttp_client, aiohttp_server, settings, clock
    )
    url = str(client.make_url("/hooks/notify/status"))
    assert await fake.send_receipt(url, text, "permanent-failure", token="guessed-token") == 401
    assert await fake.send_receipt(url, text, "permanent-failure", token="") == 401
    [delivery] = await deliveries(client)
    assert delivery.status is DeliveryStatus.sending


async def test_a_permanent_failure_shows_on_the_case_page(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _staff, fake, case_id, text = await sent_text(
        aiohttp_client, aiohttp_server, settings, clock
    )
    await make_user(client, "kim@staff.example", StaffRole.scheduler, name="Kim")
    browser = Browser(client)
    await browser.sign_in("kim@staff.example")
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Text to Alex Young failed" not in page

    url = str(client.make_url("/hooks/notify/status"))
    assert await fake.send_receipt(url, text, "permanent-failure") == 200
    assert await fake.send_receipt(url, text, "permanent-failure") == 200  # repeated: once
    [delivery] = await deliveries(client)
    assert delivery.status is DeliveryStatus.permanent_failure

    status, page = await browser.get(f"/staff/cases/{case_id}")
    assert status == 200
    assert "Text to Alex Young failed (the number does not take texts) — phone them." in page
    assert page.count("A text to Alex Young (young person) failed") == 1  # the timeline, once
    assert "Text to Sam Parent failed" not in page


async def test_the_poll_link_goes_by_text_to_a_phone_person_only(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=PEOPLE)
    poll = await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/availability-requests",
        json={"duration_minutes": 180},
        expect=201,
    )
    assert ready.parties["young_person"] in {p["party_id"] for p in poll["polled"]}
    await deliver_outbox(client)
    [text] = fake.texts_to(ALEX)
    body = text.personalisation["body"]
    assert "please tell us when you can meet" in body and "/p/" in body
    assert "Or call 0333 006 2835" in body
    assert fake.texts_to(SAM) == []
    opened = await client.get(path_of_link(body))
    assert opened.status == 200  # the link in the text opens the person's own poll


def path_of_link(body: str) -> str:
    from urllib.parse import urlsplit

    url = next(word for word in body.split() if word.startswith("http"))
    return urlsplit(url).path


async def booked_with_notify_mail(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, FakeNotify, str]:
    """An app whose mail goes through Notify, with a meeting booked and its mail sent."""
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
    await deliver_outbox(client)
    return client, staff, fake, ready.case_id


async def test_email_goes_through_notify_when_it_is_the_mail_backend(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    _client, _staff, fake, _case_id = await booked_with_notify_mail(
        aiohttp_client, aiohttp_server, settings, clock
    )
    emails = [r for r in fake.received if r.kind == "email"]
    to_sam = [
        r
        for r in emails
        if r.to == "sam@family.example" and (r.reference or "").startswith("invite:")
    ]
    assert len(to_sam) == 1  # the invitation, once (beside the introduction notice)
    assert "Tuesday 10 March 2026" in to_sam[0].personalisation["subject"]
    assert "Dear Sam Parent" in to_sam[0].personalisation["body"]
    assert len(fake.texts_to(ALEX)) == 1 and fake.texts_to(SAM) == []


def test_the_notify_mail_backend_needs_its_key_and_template(settings: Settings) -> None:
    import pytest

    from orchestrator.messaging.mail_backend import build_mail_backend

    with pytest.raises(ValueError, match="ORCH_NOTIFY_EMAIL_TEMPLATE_ID"):
        build_mail_backend(settings.model_copy(update={"mail_backend": "notify"}))


async def test_a_receipt_that_cannot_be_understood_or_is_not_ours_changes_nothing(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, _staff, fake, _case_id, text = await sent_text(
        aiohttp_client, aiohttp_server, settings, clock
    )
    bearer = {"Authorization": f"Bearer {CALLBACK_TOKEN}", "Content-Type": "application/json"}
    for garbage in (b"not json", b"{}", b"[1, 2]"):
        response = await client.post("/hooks/notify/status", data=garbage, headers=bearer)
        assert response.status == 400, garbage
    url = str(client.make_url("/hooks/notify/status"))
    stranger = Received(
        id="f0f0f0f0-0000-4000-8000-000000000000",
        kind="sms",
        to=text.to,
        template_id=text.template_id,
        personalisation={},
        reference="text:invite:not-one-of-ours",
    )
    assert await fake.send_receipt(url, stranger, "permanent-failure") == 200
    assert await fake.send_receipt(url, text, "no-such-status") == 200
    [delivery] = await deliveries(client)
    assert delivery.status is DeliveryStatus.sending
