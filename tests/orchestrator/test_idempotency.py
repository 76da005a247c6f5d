"""Creates with an ``Idempotency-Key``: a retry answers as the first request did and makes
nothing twice; the key reused for another request is refused."""

from __future__ import annotations

from typing import Any

from tests.conftest import Staff

CASE = {
    "reference": "IDEM-1",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-02-20",
}


async def post(staff: Staff, path: str, body: dict[str, Any], key: str) -> tuple[int, Any, Any]:
    response = await staff.client.post(
        path, json=body, headers={**staff.headers("scheduler"), "Idempotency-Key": key}
    )
    return response.status, await response.json(), response.headers


async def test_a_retried_create_answers_the_same_and_creates_nothing(staff: Staff) -> None:
    first = await post(staff, "/api/v1/cases", CASE, "key-case-1")
    again = await post(staff, "/api/v1/cases", CASE, "key-case-1")
    assert first[0] == again[0] == 201
    assert again[1] == first[1]
    assert again[2].get("Idempotent-Replayed") == "true"
    listed = await staff.call("GET", "/api/v1/cases", expect=200)
    assert [c["reference"] for c in listed["cases"]] == ["IDEM-1"]

    parties = f"/api/v1/cases/{first[1]['id']}/parties"
    sam = {"role": "parent", "name": "Sam", "email": "sam@family.example"}
    made = await post(staff, parties, sam, "key-party-1")
    retried = await post(staff, parties, sam, "key-party-1")
    assert made[0] == retried[0] == 201 and retried[1]["id"] == made[1]["id"]
    shown = await staff.call("GET", parties, expect=200)
    assert [p["id"] for p in shown["parties"]] == [made[1]["id"]]


async def test_the_same_key_for_a_different_request_is_refused(staff: Staff) -> None:
    assert (await post(staff, "/api/v1/cases", CASE, "key-2"))[0] == 201
    status, body, _ = await post(staff, "/api/v1/cases", {**CASE, "reference": "IDEM-2"}, "key-2")
    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert "different request" in body["error"]["message"]
    listed = await staff.call("GET", "/api/v1/cases", expect=200)
    assert [c["reference"] for c in listed["cases"]] == ["IDEM-1"]


async def test_a_key_that_is_not_a_plain_token_is_refused(staff: Staff) -> None:
    status, body, _ = await post(staff, "/api/v1/cases", CASE, "x" * 256)
    assert status == 422 and "Idempotency-Key" in body["error"]["message"]
    assert (await staff.call("GET", "/api/v1/cases", expect=200))["cases"] == []


async def test_without_a_key_a_create_is_carried_out_each_time(staff: Staff) -> None:
    await staff.call("POST", "/api/v1/cases", json=CASE, expect=201)
    again = await staff.call("POST", "/api/v1/cases", json=CASE, expect=409)
    assert again["error"]["code"] == "conflict"


async def test_twin_requests_with_one_key_make_one_case(staff: Staff) -> None:
    import asyncio

    answers = await asyncio.gather(
        *(post(staff, "/api/v1/cases", CASE, "key-twins") for _ in range(4))
    )
    statuses = sorted(status for status, _, _ in answers)
    # One is carried out; each twin replays its answer or is told to send again.
    assert statuses[0] == 201 and set(statuses) <= {201, 409}, answers
    made = {body["id"] for status, body, _ in answers if status == 201}
    assert len(made) == 1
    listed = await staff.call("GET", "/api/v1/cases", expect=200)
    assert [c["id"] for c in listed["cases"]] == list(made)
