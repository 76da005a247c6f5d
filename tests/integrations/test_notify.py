"""The GOV.UK Notify adapter against the loopback fake of its published contract."""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage
from typing import Any

import aiohttp
import jwt
import pytest

from integrations.errors import ProviderAuthError, ProviderUnavailable, SignatureInvalid
from integrations.notify import (
    NotifyClient,
    NotifyConfig,
    NotifyError,
    NotifyKey,
    NotifyMailBackend,
    verify_callback,
)
from tests.fakes.notify import (
    API_KEY,
    EMAIL_TEMPLATE,
    LETTER_TEMPLATE,
    SECRET,
    SERVICE_ID,
    SMS_TEMPLATE,
    FakeNotify,
)


async def client_for(
    aiohttp_server: Any, fake: FakeNotify, http: aiohttp.ClientSession, api_key: str = API_KEY
) -> NotifyClient:
    server = await aiohttp_server(fake.app)
    return NotifyClient(NotifyConfig(api_key=api_key, base_url=str(server.make_url(""))), http)


def test_the_api_key_splits_into_service_id_and_secret_and_signs_a_token() -> None:
    key = NotifyKey.parse(API_KEY)
    assert (key.service_id, key.secret) == (SERVICE_ID, SECRET)
    now = time.time()
    claims = jwt.decode(key.token(now=now), SECRET, algorithms=["HS256"])
    assert claims == {"iss": SERVICE_ID, "iat": int(now)}
    assert jwt.get_unverified_header(key.token())["typ"] == "JWT"
    with pytest.raises(ValueError):
        NotifyKey.parse("not-a-notify-key")


async def test_a_text_an_email_and_a_letter_reach_notify(aiohttp_server: Any) -> None:
    fake = FakeNotify()
    async with aiohttp.ClientSession() as http:
        client = await client_for(aiohttp_server, fake, http)
        sent = await client.send_sms(
            phone_number="+447700900123",
            template_id=SMS_TEMPLATE,
            personalisation={"body": "Your meeting is on Tuesday."},
            reference="text:1",
        )
        backend = NotifyMailBackend(client, template_id=EMAIL_TEMPLATE)
        message = EmailMessage()
        message["To"] = "Sam Parent <sam@family.example>"
        message["Subject"] = "Your meeting"
        message.set_content("Dear Sam,\nsee you on Tuesday.\n")
        await backend.send(message, idempotency_key="mail:1")
        await client.send_letter(
            template_id=LETTER_TEMPLATE,
            address=["Sam Parent", "1 High Street", "ME1 1AA"],
            body="Your meeting is on Tuesday.",
            reference="letter:1",
        )
    text, email, letter = fake.received
    assert sent.id == text.id and sent.reference == "text:1"
    assert (text.kind, text.to, text.personalisation) == (
        "sms",
        "+447700900123",
        {"body": "Your meeting is on Tuesday."},
    )
    assert email.to == "sam@family.example" and email.reference == "mail:1"
    assert email.personalisation == {
        "subject": "Your meeting",
        "body": "Dear Sam,\nsee you on Tuesday.\n",
    }
    assert letter.to == "Sam Parent" and letter.personalisation["address_line_3"] == "ME1 1AA"


async def text(client: NotifyClient, number: str) -> None:
    await client.send_sms(
        phone_number=number, template_id=SMS_TEMPLATE, personalisation={"body": "hi"}, reference="r"
    )


async def test_notify_errors_say_whether_to_retry(aiohttp_server: Any) -> None:
    fake = FakeNotify()
    async with aiohttp.ClientSession() as http:
        client = await client_for(aiohttp_server, fake, http)
        with pytest.raises(NotifyError) as refused:
            await text(client, "01632 960001")  # a landline
        assert refused.value.status == 400 and not refused.value.retryable
        assert "Not a UK mobile number" in str(refused.value)
        with pytest.raises(NotifyError, match="Missing personalisation: body"):
            await client.send_sms(
                phone_number="07700900123",
                template_id=SMS_TEMPLATE,
                personalisation={},
                reference="r",
            )
        for status in (429, 500):
            fake.fail_with = status
            with pytest.raises(ProviderUnavailable) as outage:
                await text(client, "07700900123")
            assert outage.value.retryable
        fake.fail_with = None
        forged = f"forged-{SERVICE_ID}-{uuid.uuid4()}"
        wrong = await client_for(aiohttp_server, fake, http, api_key=forged)
        with pytest.raises(ProviderAuthError) as auth:
            await text(wrong, "07700900123")
        assert not auth.value.retryable and "signature" in str(auth.value)
    assert fake.received == []


async def test_a_precompiled_letter_reaches_notify_or_is_refused_as_notify_would(
    aiohttp_server: Any,
) -> None:
    from orchestrator.messaging.letter_pdf import LetterText, render_letter

    def letter(address: list[str]) -> bytes:
        return render_letter(
            LetterText(
                address=address,
                dated="2 March 2026",
                heading="Your meeting",
                paragraphs=["It is on Tuesday."],
                service_name="KIDS",
            )
        )

    fake = FakeNotify()
    good = letter(["Sam Parent", "1 High Street", "ME1 1AA"])
    async with aiohttp.ClientSession() as http:
        client = await client_for(aiohttp_server, fake, http)
        sent = await client.send_precompiled_letter(pdf=good, reference="letter:1", postage="first")
        with pytest.raises(NotifyError, match="real UK postcode") as refused:
            await client.send_precompiled_letter(
                pdf=letter(["Sam Parent", "1 High Street", "Maidstone"]), reference="letter:2"
            )
        assert not refused.value.retryable
        with pytest.raises(NotifyError, match="not a valid PDF"):
            await client.send_precompiled_letter(pdf=b"%PDF-1.7 torn", reference="letter:3")
        with pytest.raises(NotifyError, match="postage invalid"):
            await client.send_precompiled_letter(pdf=good, reference="r", postage="express")
        fake.fail_with = 503
        with pytest.raises(ProviderUnavailable):
            await client.send_precompiled_letter(pdf=good, reference="letter:4")
    [received] = fake.letters()
    assert (received.id, received.reference) == (sent.id, "letter:1")
    assert received.pdf == good and received.postage == "first"
    assert received.to == "Sam Parent\n1 High Street\nME1 1AA"


def test_a_receipt_is_verified_by_its_bearer_token() -> None:
    verify_callback("Bearer the-token-0123", "the-token-0123")
    for header in (None, "", "Bearer wrong", "Basic the-token-0123", "the-token-0123"):
        with pytest.raises(SignatureInvalid):
            verify_callback(header, "the-token-0123")
    with pytest.raises(SignatureInvalid):
        verify_callback("Bearer ", "")  # no token configured: nothing verifies
