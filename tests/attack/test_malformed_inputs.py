"""Bad input at every door is refused with a clear 4xx, never a stack trace or a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from orchestrator.web.keys import SETTINGS
from tests.conftest import Staff

CASE = {
    "reference": "BAD-1",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-02-20",
}


async def send(staff: Staff, path: str, data: bytes, content_type: str = "application/json") -> Any:
    response = await staff.client.post(
        path, data=data, headers={**staff.headers("admin"), "Content-Type": content_type}
    )
    body = await response.json()
    return response.status, body


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"[" * 200_000, 400),  # deeply nested: refused, not a RecursionError
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400),
        (b"\xff\xfe\x00{not utf-8", 400),
        (b'{"reference": "BAD-1", "kind": ', 400),  # truncated
        (b"[1, 2, 3]", 422),  # not an object
        (b'"just a string"', 422),
        (b'{"reference": 7, "kind": ["mediation"], "referral_date": {"y": 2026}}', 422),
        (b'{"reference": "x", "kind": "mediation", "referral_date": "9999-99-99"}', 422),
        (b'{"reference": "NaN", "kind": "mediation", "referral_date": NaN}', 422),
    ],
)
async def test_malformed_json_is_refused_clearly(staff: Staff, raw: bytes, status: int) -> None:
    got, body = await send(staff, "/api/v1/cases", raw)
    assert got == status, body
    assert (
        body["error"]["code"] in {"bad_json", "malformed_json", "validation_failed"}
        or (body["error"]["message"])
    )
    assert "Traceback" not in str(body)


async def test_a_huge_json_body_is_refused_before_it_is_read(staff: Staff) -> None:
    huge = b'{"reference": "' + b"x" * 3_000_000 + b'"}'
    got, body = await send(staff, "/api/v1/cases", huge)
    assert got == 413
    assert body["error"]["code"] == "too_large"


async def test_json_sent_as_the_wrong_content_type_still_gets_a_clear_answer(
    staff: Staff,
) -> None:
    got, body = await send(staff, "/api/v1/cases", b"reference=BAD-1", "text/plain")
    assert 400 <= got < 500
    assert "error" in body


# ---------------------------------------------------------------------------- inbound mail

TOKEN = "inbound-token-for-attacks"


@pytest.fixture
def mail_hook(client: TestClient[Any, Any]) -> TestClient[Any, Any]:
    client.app[SETTINGS].inbound_mail_token = SecretStr(TOKEN)
    client.app[SETTINGS].inbound_mail_max_bytes = 200_000
    return client


async def post_mail(client: TestClient[Any, Any], raw: bytes) -> tuple[int, Any]:
    response = await client.post(
        "/hooks/mail/inbound", data=raw, headers={"X-Orchestrator-Token": TOKEN}
    )
    return response.status, await response.json()


BROKEN_MIME = [
    b"this is not a mail message at all",
    b"\x00\x01\x02\xff" * 500,  # binary
    (
        b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="never"\r\n\r\n'
        b"--nope\r\ntruncated"
    ),
    b"From: a@b.example\r\nSubject: no calendar here\r\n\r\nJust words, no invitation reply.",
    (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64!!!\r\n--b--\r\n"
    ),
    (
        b"From: a@b.example\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:"
        + b"u" * 5000
        + b"\r\nDTSTART:00010101T000000Z\r\n"
    ),
]


@pytest.mark.parametrize("raw", BROKEN_MIME)
async def test_broken_mail_is_set_aside_not_crashed_on(
    mail_hook: TestClient[Any, Any], raw: bytes
) -> None:
    status, body = await post_mail(mail_hook, raw)
    assert status in (200, 400, 422), body
    if status == 200:
        assert body["result"] != "applied"


async def test_a_huge_attachment_is_refused(mail_hook: TestClient[Any, Any]) -> None:
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" + b"A" * 1_000_000 + b"\r\n--b--\r\n"
    )
    status, body = await post_mail(mail_hook, raw)
    assert status == 413
    assert body["error"]["code"] == "too_large"


# ---------------------------------------------------------------------------- call-backs


@pytest.mark.parametrize(
    ("path", "data", "content_type"),
    [
        ("/hooks/jitsi/events", b"not json", "application/json"),
        ("/hooks/jitsi/events", b'{"event": "x"}', "text/plain"),
        ("/hooks/jitsi/events", b"{}", "application/json"),  # missing every field
        ("/hooks/jitsi/events", b"[" * 100_000, "application/json"),
        ("/hooks/zoom/events", b"\xff\xfe garbage", "application/json"),
        ("/hooks/bbb/events", b"event=%ZZ&&&", "application/x-www-form-urlencoded"),
        ("/hooks/twilio/status", b"CallSid=&CallStatus=", "application/x-www-form-urlencoded"),
        ("/hooks/twilio/voice", b"\x00\x00", "application/octet-stream"),
        ("/hooks/nosuch/events", b"{}", "application/json"),
    ],
)
async def test_provider_call_backs_refuse_garbage(
    client: TestClient[Any, Any], path: str, data: bytes, content_type: str
) -> None:
    response = await client.post(path, data=data, headers={"Content-Type": content_type})
    assert 400 <= response.status < 500, await response.text()
    assert "Traceback" not in await response.text()


async def test_a_huge_call_back_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/hooks/jitsi/events",
        data=b'{"a": "' + b"x" * 13_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status in (401, 413)


# ---------------------------------------------------------------------------- explicit nulls


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("case", {"local_authority": None}),
        ("case", {"status": None}),
        ("party", {"name": None}),
        ("party", {"channel": None}),
        ("party", {"required": None}),
        ("party", {"easy_read": None}),
    ],
)
async def test_null_for_a_field_that_must_have_a_value_is_a_422(
    staff: Staff, target: str, body: dict[str, Any]
) -> None:
    case = await staff.call("POST", "/api/v1/cases", json=CASE, expect=201)
    path = f"/api/v1/cases/{case['id']}"
    party = await staff.call(
        "POST",
        f"{path}/parties",
        json={"role": "parent", "name": "Sam", "phone": "07700 900123"},
        expect=201,
    )
    if target == "party":
        path = f"{path}/parties/{party['id']}"
    refused = await staff.call("PATCH", path, json=body, expect=422)
    (field,) = body
    assert refused["error"]["details"][0]["loc"] == [field]
    assert "not set to null" in refused["error"]["details"][0]["msg"]
    shown = await staff.call("GET", path, expect=200) if target == "case" else None
    if shown is not None:
        assert shown["local_authority"] == "Kent" and shown["status"] == "referred"


async def test_null_clears_a_field_that_may_be_empty(staff: Staff) -> None:
    case = await staff.call(
        "POST", "/api/v1/cases", json={**CASE, "region": "South East"}, expect=201
    )
    cleared = await staff.call(
        "PATCH", f"/api/v1/cases/{case['id']}", json={"region": None}, expect=200
    )
    assert cleared["region"] is None


async def test_a_number_is_not_taken_for_a_date(staff: Staff) -> None:
    for raw in (0, 1.5, "0.0"):
        refused = await staff.call(
            "POST", "/api/v1/cases", json={**CASE, "referral_date": raw}, expect=422
        )
        assert refused["error"]["details"][0]["loc"] == ["referral_date"]
    status = await staff.client.get(
        "/api/v1/reports/summary?from=0.0&to=0.0", headers=staff.headers("scheduler")
    )
    assert status.status == 422
    assert (await staff.call("GET", "/api/v1/cases", expect=200))["cases"] == []


async def test_an_undeclared_method_is_a_405_naming_the_allowed_ones(staff: Staff) -> None:
    response = await staff.client.put(
        "/api/v1/cases", json=CASE, headers=staff.headers("scheduler")
    )
    assert response.status == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert (await response.json())["error"]["code"] == "method_not_allowed"
