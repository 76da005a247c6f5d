"""Letters through GOV.UK Notify's precompiled-letter API, against its loopback fake: the poll,
the meeting and the certificate posted once each to someone with no email and no mobile,
retried through an outage, and the case page saying when each should arrive."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from pypdf import PdfReader
from sqlmodel import col, select

from calendars.workdays import WorkingDays
from orchestrator.core.models import Delivery, DeliveryStatus, OutboxKind, OutboxMessage, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.messaging.letter_post import expected_arrival
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.fakes.notify import API_KEY, CALLBACK_TOKEN, FakeNotify, check_letter
from tests.orchestrator.meetings_support import book, deliver_outbox, live_app, ready_case, serve
from tests.orchestrator.web_support import Browser, make_user

GRAN = {
    "role": "parent",
    "name": "Robin Carer",
    "phone": "01632 960 001",  # a landline: no texts
    "channel": "phone",
    "postal_address": "12 Mill Lane\n Hebden Bridge ",
    "postcode": "hx7 8aa",
}


async def letter_app(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff, FakeNotify, str]:
    """The app posting letters through the fake; a case with Robin (letters) and the LA."""
    fake = FakeNotify()
    api = await serve(aiohttp_server, fake.app)
    client, staff = await live_app(
        aiohttp_client,
        settings,
        clock,
        notify_api_key=SecretStr(API_KEY),
        notify_base_url=api,
        notify_callback_token=SecretStr(CALLBACK_TOKEN),
        notify_letters=True,
    )
    ready = await ready_case(staff, parties=("la_officer",))
    await staff.call("POST", f"/api/v1/cases/{ready.case_id}/parties", json=GRAN, expect=201)
    return client, staff, fake, ready.case_id


async def scheduler(client: TestClient[Any, Any]) -> Browser:
    """Kim, a scheduler, signed in."""
    await make_user(client, "kim@staff.example", StaffRole.scheduler, name="Kim")
    browser = Browser(client)
    await browser.sign_in("kim@staff.example")
    return browser


async def ask_when(staff: Staff, case_id: str) -> Any:
    return await staff.call(
        "POST",
        f"/api/v1/cases/{case_id}/availability-requests",
        json={"duration_minutes": 180},
        expect=201,
    )


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


async def letter_rows(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.letter)
            .order_by(col(OutboxMessage.created_at))
        )
        return list(rows.all())


async def test_the_poll_meeting_and_certificate_are_each_posted_once_through_an_outage(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake, case_id = await letter_app(aiohttp_client, aiohttp_server, settings, clock)
    fake.fail_with = 500
    poll = await ask_when(staff, case_id)
    assert len(poll["polled"]) == 2  # Robin is asked, by post
    await deliver_outbox(client)
    assert fake.letters() == []
    [row] = await letter_rows(client)
    assert row.attempts == 1 and row.last_status_code == 500  # waiting for another try

    fake.fail_with = None
    clock.advance(hours=1)
    await deliver_outbox(client)
    await deliver_outbox(client)
    [poll_letter] = fake.letters()
    words = text_of(poll_letter.pdf or b"")
    assert "Robin Carer 12 Mill Lane Hebden Bridge HX7 8AA" in words  # the address block
    assert "ring us on 0333 006 2835 to answer" in words
    first = datetime.fromisoformat(poll["candidates"][0])
    assert f"{first.day} March 2026" in words and "(UK time)" in words
    assert poll_letter.postage == "second" and poll_letter.to.endswith("HX7 8AA")

    venue = {"name": "Calder Centre", "address": "5 Bridge Gate, Hebden Bridge"}
    meeting = await book(staff, case_id, mode="in_person", venue=venue)
    await deliver_outbox(client)
    await deliver_outbox(client)
    assert len(fake.letters()) == 2
    words = text_of(fake.letters()[1].pdf or b"")
    assert "meeting is booked for Tuesday 10 March 2026, 10am to 1pm (UK time)" in words
    assert "Where: Calder Centre, 5 Bridge Gate, Hebden Bridge." in words

    await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "Ill"}, expect=200
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case_id}/certificates",
        json={"kind": "declined", "event_date": "2026-03-02"},
        expect=201,
    )
    await deliver_outbox(client)
    await deliver_outbox(client)
    assert len(fake.letters()) == 3
    certificate = fake.letters()[2].pdf or b""
    assert len(PdfReader(io.BytesIO(certificate)).pages) == 2  # the letter, the certificate
    assert "Please find enclosed certificate" in text_of(certificate)
    assert "Appeal deadline" in text_of(certificate)
    assert len({letter.reference for letter in fake.letters()}) == 3
    assert fake.refused == [(500, "Internal server error")]  # nothing refused as badly made


@pytest.mark.parametrize(
    ("sent_at", "arrives"),
    [
        # Friday after 5:30pm: counts as Monday, printed and posted Tuesday, here Thursday.
        (datetime(2026, 12, 4, 18, 0, tzinfo=UTC), "Thursday 10 December"),
        # Christmas Eve morning: posted after Christmas, Boxing Day (Monday 28th) and the
        # weekend, on Tuesday 29th; second class arrives two working days later.
        (datetime(2026, 12, 24, 10, 0, tzinfo=UTC), "Thursday 31 December"),
    ],
)
async def test_the_case_page_says_when_a_letter_should_arrive(
    aiohttp_client: Any,
    aiohttp_server: Any,
    settings: Settings,
    clock: MutableClock,
    sent_at: datetime,
    arrives: str,
) -> None:
    client, staff, fake, case_id = await letter_app(aiohttp_client, aiohttp_server, settings, clock)
    await ask_when(staff, case_id)
    browser = await scheduler(client)
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Letter waiting to go to GOV.UK Notify" in page

    clock.set(sent_at)
    await deliver_outbox(client)
    assert len(fake.letters()) == 1
    await browser.sign_in("kim@staff.example")  # months later: a new session
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert f"Letter sent, expected to arrive {arrives}" in page
    assert "Robin Carer</strong>, a letter asking when they can meet" in page


def test_letters_arrive_on_working_days_by_notify_rules() -> None:
    england = WorkingDays("ENG")

    def arrives(moment: datetime, postage: str = "second") -> date:
        return expected_arrival(moment, postage=postage, calendar=england)

    monday_morning = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert arrives(monday_morning) == date(2026, 12, 10)  # posted Tue, arrives Thu
    assert arrives(monday_morning, "first") == date(2026, 12, 9)
    # 5:29pm UK time is before the cut-off; 5:30pm is after it (GMT in December).
    assert arrives(datetime(2026, 12, 7, 17, 29, tzinfo=UTC)) == date(2026, 12, 10)
    assert arrives(datetime(2026, 12, 7, 17, 30, tzinfo=UTC)) == date(2026, 12, 11)
    # British Summer Time: 5pm UTC is 6pm in London, after the cut-off.
    assert arrives(datetime(2026, 6, 1, 17, 0, tzinfo=UTC)) == date(2026, 6, 5)
    # Saturday: counts as Monday; posted Tuesday; arrives Thursday.
    assert arrives(datetime(2026, 12, 5, 11, 0, tzinfo=UTC)) == date(2026, 12, 10)


async def test_a_letter_notify_could_not_print_shows_on_the_case_page(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake, case_id = await letter_app(aiohttp_client, aiohttp_server, settings, clock)
    await ask_when(staff, case_id)
    await deliver_outbox(client)
    [letter] = fake.letters()
    url = str(client.make_url("/hooks/notify/status"))
    assert await fake.send_receipt(url, letter, "validation-failed") == 200
    async with client.app[DB].read() as session:
        [delivery] = (await session.scalars(select(Delivery))).all()
    assert delivery.status is DeliveryStatus.validation_failed
    browser = await scheduler(client)
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Letter to Robin Carer failed (GOV.UK Notify could not print it) — phone them." in page
    assert "Letter sent, expected" not in page


def test_the_fake_refuses_what_notify_refuses() -> None:
    from orchestrator.messaging.letter_pdf import LetterText, render_letter

    def letter(address: list[str]) -> bytes:
        return render_letter(
            LetterText(
                address=address,
                dated="1 March 2026",
                heading="H",
                paragraphs=["P"],
                service_name="S",
            )
        )

    assert check_letter(letter(["A Person", "1 Road", "LS1 4AB"]))[0] is None
    assert check_letter(letter(["A Person", "1 Road", "Leeds"]))[0] == (
        "The last line of the address must be a real UK postcode"
    )
    assert check_letter(b"%PDF-1.4 not really")[0] == "Letter content is not a valid PDF"
    with pytest.raises(ValueError):
        letter(["A Person", "LS1 4AB"])
