"""Signed webhook write-back: real deliveries to a receiver on loopback, and the docs' snippet."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integrations.base import WebhookDelivery
from integrations.casework_webhook import (
    EVENT_ID_HEADER,
    EVENT_TYPES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HttpCaseworkSink,
    WebhookRejected,
    WebhookUnavailable,
    encode_event,
    sign,
    verify,
)
from integrations.errors import ProviderRejected, ProviderUnavailable, SignatureInvalid

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_test_0123456789abcdef"
SENT_AT = datetime(2025, 3, 4, 9, 15, tzinfo=UTC)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class CaseSystem:
    """A case system's webhook endpoint: verifies, de-duplicates on the event id, records."""

    secret: str
    clock: Callable[[], int]
    answer_status: int = 204
    received: list[Received] = field(default_factory=list)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hang: bool = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(dict(request.headers), body))
        if self.hang:
            await self.release.wait()
        if self.answer_status != 204:
            return web.Response(status=self.answer_status)
        try:
            verify(self.secret, request.headers, body, now=self.clock())
        except SignatureInvalid as exc:
            self.refused.append(str(exc))
            return web.Response(status=401)
        event = await request.json()
        self.processed.setdefault(event["id"], event)
        return web.Response(status=204)

    async def moved(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("/events")


@pytest.fixture
async def case_system() -> AsyncIterator[tuple[CaseSystem, str]]:
    receiver = CaseSystem(secret=SECRET, clock=lambda: int(SENT_AT.timestamp()))
    app = web.Application()
    app.router.add_post("/events", receiver.handle)
    app.router.add_post("/old-events", receiver.moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield receiver, str(server.make_url("/events"))
    finally:
        receiver.release.set()
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def booked_event(event_id: str = "evt_booked_1") -> bytes:
    return encode_event(
        event_id=event_id,
        event_type="meeting.booked",
        occurred_at=SENT_AT - timedelta(seconds=30),
        data={"case": {"id": "c_1", "reference": "MED-2025-0001"}, "meeting": {"id": "m_1"}},
    )


def delivery_to(url: str, body: bytes | None = None, event_id: str = "evt_booked_1"):
    return WebhookDelivery(url=url, secret=SECRET, event_id=event_id, body=body or booked_event())


def docs_block(marker: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert match, f"docs/webhooks.md lost its {marker!r} block"
    return match.group(1)


def docs_snippet() -> Callable[..., dict[str, Any]]:
    namespace: dict[str, Any] = {}
    exec(compile(docs_block("snippet: verify"), str(DOCS), "exec"), namespace)
    verify: Callable[..., dict[str, Any]] = namespace["verify_webhook"]
    return verify


# --------------------------------------------------------------------------- the wire


async def test_delivery_reaches_receiver_signed_and_verifiable(case_system, session):
    receiver, url = case_system

    status = await HttpCaseworkSink(session).deliver(delivery_to(url), now=SENT_AT)

    assert status == 204
    assert receiver.refused == []
    assert receiver.processed["evt_booked_1"]["type"] == "meeting.booked"
    headers = receiver.received[0].headers
    assert headers[EVENT_ID_HEADER] == "evt_booked_1"
    assert headers[TIMESTAMP_HEADER] == str(int(SENT_AT.timestamp()))
    assert headers["Content-Type"] == "application/json"


async def test_the_documented_snippet_verifies_a_real_delivery(case_system, session):
    receiver, url = case_system
    verify_webhook = docs_snippet()

    await HttpCaseworkSink(session).deliver(delivery_to(url), now=SENT_AT)
    got = receiver.received[0]

    event = verify_webhook(SECRET, got.headers, got.body, now=SENT_AT.timestamp())
    assert event["id"] == "evt_booked_1"
    assert event["data"]["case"]["reference"] == "MED-2025-0001"
    with pytest.raises(ValueError, match="bad signature"):
        verify_webhook(SECRET, got.headers, got.body.replace(b"MED", b"MAD"))
    with pytest.raises(ValueError, match="bad signature"):
        verify_webhook("another-secret", got.headers, got.body, now=SENT_AT.timestamp())
    with pytest.raises(ValueError, match="stale timestamp"):
        verify_webhook(SECRET, got.headers, got.body, now=SENT_AT.timestamp() + 301)


def test_documented_test_vector_matches_the_signer():
    vector = dict(
        line.split(":", 1) for line in docs_block("test-vector").splitlines() if line.strip()
    )
    body = vector["body"].strip().encode()

    assert sign(vector["secret"].strip(), int(vector["timestamp"]), body) == (
        vector["signature"].strip()
    )


def test_docs_list_every_event_type():
    text = DOCS.read_text(encoding="utf-8")

    assert [t for t in EVENT_TYPES if f"`{t}`" not in text] == []


async def test_retry_later_is_signed_afresh_and_processed_once(case_system, session):
    receiver, url = case_system
    sink = HttpCaseworkSink(session)
    delivery = delivery_to(url)
    await sink.deliver(delivery, now=SENT_AT)
    first = receiver.received[0]

    an_hour_later = SENT_AT + timedelta(hours=1)
    receiver.clock = lambda: int(an_hour_later.timestamp())
    status = await sink.deliver(delivery, now=an_hour_later)

    assert status == 204
    assert receiver.refused == []
    assert list(receiver.processed) == ["evt_booked_1"]
    second = receiver.received[1]
    assert second.body == first.body
    assert second.headers[SIGNATURE_HEADER] != first.headers[SIGNATURE_HEADER]
    # The first attempt, captured and replayed now, is refused as stale.
    with pytest.raises(SignatureInvalid, match="stale timestamp"):
        verify(SECRET, first.headers, first.body, now=receiver.clock())


# --------------------------------------------------------------------------- verify


def test_verify_accepts_within_tolerance_either_way():
    body = booked_event()
    ts = 1_741_079_700
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)}

    verify(SECRET, headers, body, now=ts + 300)
    verify(SECRET, headers, body, now=ts - 300)
    verify(SECRET, {k.lower(): v for k, v in headers.items()}, body, now=ts)


def test_verify_refuses_old_timestamp_as_stale():
    body = booked_event()
    ts = 1_741_079_700
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)}

    with pytest.raises(SignatureInvalid, match="stale timestamp"):
        verify(SECRET, headers, body, now=ts + 301)


def test_verify_refuses_tampered_body_and_forged_timestamp_as_bad_signature():
    body = booked_event()
    ts = 1_741_079_700
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)}

    with pytest.raises(SignatureInvalid, match="signature does not match"):
        verify(SECRET, headers, body.replace(b"m_1", b"m_2"), now=ts)
    # Moving an old request's timestamp forward breaks its signature.
    newer = {**headers, TIMESTAMP_HEADER: str(ts + 3600)}
    with pytest.raises(SignatureInvalid, match="signature does not match"):
        verify(SECRET, newer, body, now=ts + 3600)


@pytest.mark.parametrize(
    "headers",
    [{}, {TIMESTAMP_HEADER: "1741079700"}, {TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "x"}],
)
def test_verify_refuses_missing_or_malformed_headers(headers):
    with pytest.raises(SignatureInvalid):
        verify(SECRET, headers, b"{}", now=1_741_079_700)


def test_encode_event_refuses_unknown_type_and_naive_time():
    with pytest.raises(ValueError, match="unknown"):
        encode_event(event_id="e", event_type="case.deleted", occurred_at=SENT_AT, data={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        encode_event(
            event_id="e", event_type="case.created", occurred_at=datetime(2025, 1, 1), data={}
        )


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_error_or_throttling_is_retryable(case_system, session, status):
    receiver, url = case_system
    receiver.answer_status = status

    with pytest.raises(ProviderUnavailable) as caught:
        await HttpCaseworkSink(session).deliver(delivery_to(url), now=SENT_AT)

    assert caught.value.retryable
    assert isinstance(caught.value, WebhookUnavailable)
    assert caught.value.status == status


@pytest.mark.parametrize("status", [400, 404, 410])
async def test_client_error_is_final(case_system, session, status):
    receiver, url = case_system
    receiver.answer_status = status

    with pytest.raises(ProviderRejected) as caught:
        await HttpCaseworkSink(session).deliver(delivery_to(url), now=SENT_AT)

    assert not caught.value.retryable
    assert isinstance(caught.value, WebhookRejected)
    assert caught.value.status == status


async def test_receiver_refusing_our_signature_is_final(case_system, session):
    receiver, url = case_system
    wrong_secret = WebhookDelivery(url=url, secret="rotated", event_id="e", body=booked_event())

    with pytest.raises(ProviderRejected) as caught:
        await HttpCaseworkSink(session).deliver(wrong_secret, now=SENT_AT)

    assert caught.value.status == 401  # type: ignore[attr-defined]
    assert receiver.refused == ["signature does not match"]
    assert receiver.processed == {}


async def test_redirect_is_not_followed(case_system, session):
    receiver, url = case_system
    old_url = url.replace("/events", "/old-events")

    with pytest.raises(ProviderRejected) as caught:
        await HttpCaseworkSink(session).deliver(delivery_to(old_url), now=SENT_AT)

    assert caught.value.status == 307  # type: ignore[attr-defined]
    assert receiver.received == []


async def test_timeout_is_retryable(case_system, session):
    receiver, url = case_system
    receiver.hang = True

    with pytest.raises(ProviderUnavailable, match="timed out"):
        await HttpCaseworkSink(session, timeout_s=0.2).deliver(delivery_to(url), now=SENT_AT)

    assert len(receiver.received) == 1


async def test_connection_refused_is_retryable(session):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now.

    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await HttpCaseworkSink(session).deliver(
            delivery_to(f"http://127.0.0.1:{port}/events"), now=SENT_AT
        )


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/events", "127.0.0.1:8080/events", "http:///x"]
)
async def test_non_http_endpoint_is_refused_without_a_request(case_system, session, url):
    receiver, _ = case_system

    with pytest.raises(ProviderRejected, match="http or https"):
        await HttpCaseworkSink(session).deliver(delivery_to(url), now=SENT_AT)

    assert receiver.received == []
