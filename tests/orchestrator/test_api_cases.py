"""Cases, parties and mediators through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from orchestrator.core.models import AuditEvent, Case, Party, StaffRole, TimelineEntry
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff

CASE = {
    "reference": "KIDS-2026-0001",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-02-27",  # a Friday
    "decision_date": "2026-01-20",
}


async def count(staff: Staff, model: Any) -> int:
    async with staff.client.app[DB].read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def make_case(staff: Staff, **overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = await staff.call(
        "POST", "/api/v1/cases", json={**CASE, **overrides}, expect=201
    )
    return case


async def test_create_case_answers_with_its_clocks(staff: Staff) -> None:
    case = await make_case(staff)
    assert case["status"] == "referred"
    uuid.UUID(case["id"])
    deadlines = case["deadlines"]
    assert deadlines["target"]["date"] == "2026-04-01"  # 27 Feb + 33 days
    assert deadlines["statutory"]["date"] == "2026-03-29"  # 27 Feb + 30 days
    assert deadlines["appeal"]["date"] == "2026-03-20"  # 20 Jan + 2 months
    assert deadlines["target"]["days_left"] == 30  # clock says 2 March
    assert deadlines["target"]["level"] == "ok"

    again = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert again["deadlines"] == deadlines
    assert again["reference"] == "KIDS-2026-0001"


async def test_target_days_configurable_per_case(staff: Staff) -> None:
    case = await make_case(staff, target_days=20)
    assert case["deadlines"]["target"]["date"] == "2026-03-19"
    assert case["target_days"] == 20


async def test_disagreement_resolution_has_no_statutory_clock(staff: Staff) -> None:
    case = await make_case(staff, kind="disagreement_resolution", decision_date=None)
    assert case["deadlines"]["statutory"] is None
    assert case["deadlines"]["appeal"] is None


async def test_clock_turns_red_near_the_deadline(staff: Staff, clock: MutableClock) -> None:
    case = await make_case(staff)
    clock.set(datetime(2026, 3, 30, 9, 0, tzinfo=UTC))
    seen = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert seen["deadlines"]["target"] == {"date": "2026-04-01", "days_left": 2, "level": "red"}
    assert seen["deadlines"]["statutory"]["level"] == "overdue"


async def test_list_cases_filters_and_orders_by_target(staff: Staff) -> None:
    await make_case(staff, reference="LATE", referral_date="2026-02-25")
    await make_case(staff, reference="EARLY", referral_date="2026-02-02")
    listed = await staff.call("GET", "/api/v1/cases", expect=200)
    assert [c["reference"] for c in listed["cases"]] == ["EARLY", "LATE"]
    due = await staff.call("GET", "/api/v1/cases?due_before=2026-03-20", expect=200)
    assert [c["reference"] for c in due["cases"]] == ["EARLY"]
    none = await staff.call("GET", "/api/v1/cases?status=closed", expect=200)
    assert none["cases"] == []
    bad = await staff.call("GET", "/api/v1/cases?status=nonsense", expect=422)
    assert bad["error"]["code"] == "validation_failed"


async def test_parties_and_mediator(staff: Staff) -> None:
    case = await make_case(staff)
    base = f"/api/v1/cases/{case['id']}"
    parent = await staff.call(
        "POST",
        f"{base}/parties",
        json={
            "role": "parent",
            "name": "Sam Jordan",
            "email": "sam@family.example",
            "channel": "video",
        },
        expect=201,
    )
    assert parent["required"] is True
    supporter = await staff.call(
        "POST",
        f"{base}/parties",
        json={
            "role": "sendiass",
            "name": "IASS adviser",
            "channel": "phone",
            "phone": "01632 960001",
        },
        expect=201,
    )
    assert supporter["required"] is False  # supporters are optional unless the family says
    la = await staff.call(
        "POST",
        f"{base}/parties",
        json={
            "role": "la_officer",
            "name": "SEN officer",
            "email": "sen@kent.gov.example",
            "calendar": {"ics_url": "https://calendar.example/feed.ics"},
        },
        expect=201,
    )
    assert la["has_calendar"] is True
    assert "calendar" not in la  # calendar URLs are secrets of a kind: never echoed

    changed = await staff.call(
        "PATCH",
        f"{base}/parties/{parent['id']}",
        json={"channel": "phone", "phone": "07700 900123"},
        expect=200,
    )
    assert changed["channel"] == "phone"

    await staff.call("DELETE", f"{base}/parties/{supporter['id']}", expect=204)
    listed = await staff.call("GET", f"{base}/parties", expect=200)
    assert {p["role"] for p in listed["parties"]} == {"parent", "la_officer"}
    await staff.call("DELETE", f"{base}/parties/{supporter['id']}", expect=404)

    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": "Amira Hussain",
            "email": "amira@mediation.example",
            "max_sessions_per_day": 2,
            "working_hours": {"1": ["09:30", "16:00"], "3": ["09:30", "16:00"]},
        },
        expect=201,
    )
    assigned = await staff.call(
        "POST", f"{base}/mediator", json={"mediator_id": mediator["id"]}, expect=200
    )
    assert assigned["mediator_id"] == mediator["id"]

    async with staff.client.app[DB].read() as session:
        kinds = (
            await session.scalars(
                select(col(TimelineEntry.kind)).where(
                    col(TimelineEntry.case_id) == uuid.UUID(case["id"])
                )
            )
        ).all()
    assert {
        "case.created",
        "party.added",
        "party.updated",
        "party.removed",
        "case.mediator",
    } <= set(kinds)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ("[1, 2]", 422, "validation_failed"),
        ('{"reference": "X"}', 422, "validation_failed"),
        (
            '{"reference": "X", "kind": "court", "local_authority": "Kent", "referral_date": "2026-02-01"}',
            422,
            "validation_failed",
        ),
        (
            '{"reference": "X", "kind": "mediation", "local_authority": "Kent", "referral_date": "31/02/2026"}',
            422,
            "validation_failed",
        ),
        (
            '{"reference": "X", "kind": "mediation", "local_authority": "Kent", "referral_date": "2026-02-01", "timezone": "Mars/Olympus"}',
            422,
            "validation_failed",
        ),
        (
            '{"reference": "X", "kind": "mediation", "local_authority": "Kent", "referral_date": "2026-02-01", "surprise": 1}',
            422,
            "validation_failed",
        ),
        (
            '{"reference": "X", "kind": "mediation", "local_authority": "Kent", "referral_date": "2027-02-01"}',
            422,
            "validation_failed",
        ),
    ],
)
async def test_bad_input_gets_a_clear_error_and_writes_nothing(
    staff: Staff, body: str, status: int, code: str
) -> None:
    response = await staff.client.post(
        "/api/v1/cases",
        data=body,
        headers={**staff.headers("scheduler"), "Content-Type": "application/json"},
    )
    assert response.status == status
    payload = await response.json()
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert await count(staff, Case) == 0


async def test_validation_errors_name_the_field(staff: Staff) -> None:
    payload = await staff.call("POST", "/api/v1/cases", json={**CASE, "kind": "court"}, expect=422)
    assert any(d["loc"] == ["kind"] for d in payload["error"]["details"])


async def test_duplicate_reference_conflicts(staff: Staff) -> None:
    await make_case(staff)
    payload = await staff.call("POST", "/api/v1/cases", json=CASE, expect=409)
    assert payload["error"]["code"] == "conflict"
    assert await count(staff, Case) == 1


async def test_unknown_ids_are_404(staff: Staff) -> None:
    missing = uuid.uuid4()
    await staff.call("GET", f"/api/v1/cases/{missing}", expect=404)
    await staff.call("GET", "/api/v1/cases/not-a-uuid", expect=404)
    case = await make_case(staff)
    await staff.call(
        "PATCH", f"/api/v1/cases/{case['id']}/parties/{missing}", json={"name": "x"}, expect=404
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/mediator",
        json={"mediator_id": str(missing)},
        expect=404,
    )
    payload = await staff.call("GET", "/api/v1/nothing-here", expect=404)
    assert payload["error"]["code"] == "not_found"


async def test_party_input_rejected_without_half_writes(staff: Staff) -> None:
    case = await make_case(staff)
    base = f"/api/v1/cases/{case['id']}/parties"
    for body in (
        {"role": "uncle", "name": "X"},
        {"role": "parent", "name": "Line\r\nBcc: evil@example.org"},
        {"role": "parent", "name": "X", "email": "not-an-email"},
        {"role": "parent", "name": "X", "phone": "call me maybe"},
        {"role": "parent", "name": "X", "calendar": {"ics_url": "file:///etc/passwd"}},
    ):
        await staff.call("POST", base, json=body, expect=422)
    assert await count(staff, Party) == 0


async def test_no_token_is_401_and_wrong_role_is_403(staff: Staff) -> None:
    response = await staff.client.get("/api/v1/cases")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await response.json())["error"]["code"] == "unauthorized"
    response = await staff.client.get(
        "/api/v1/cases", headers={"Authorization": "Bearer mo_forged"}
    )
    assert response.status == 401
    payload = await staff.call("POST", "/api/v1/cases", role="mediator", json=CASE, expect=403)
    assert payload["error"]["code"] == "forbidden"
    assert await count(staff, Case) == 0
    await staff.call("POST", "/api/v1/cases", role="admin", json=CASE, expect=201)


async def test_mediator_sees_only_their_own_cases(staff: Staff) -> None:
    mine = await make_case(staff, reference="MINE")
    theirs = await make_case(staff, reference="THEIRS")
    me = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": "Me",
            "email": "mediator@staff.example",
            "user_id": str(staff.user_ids["mediator"]),
        },
        expect=201,
    )
    other = await staff.call(
        "POST", "/api/v1/mediators", json={"name": "Other", "email": "o@x.example"}, expect=201
    )
    await staff.call(
        "POST", f"/api/v1/cases/{mine['id']}/mediator", json={"mediator_id": me["id"]}, expect=200
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{theirs['id']}/mediator",
        json={"mediator_id": other["id"]},
        expect=200,
    )
    listed = await staff.call("GET", "/api/v1/cases", role="mediator", expect=200)
    assert [c["reference"] for c in listed["cases"]] == ["MINE"]
    await staff.call("GET", f"/api/v1/cases/{mine['id']}", role="mediator", expect=200)
    await staff.call("GET", f"/api/v1/cases/{theirs['id']}", role="mediator", expect=404)


async def test_every_staff_action_is_audited(staff: Staff) -> None:
    case = await make_case(staff)
    await staff.call("GET", f"/api/v1/cases/{case['id']}", role="admin", expect=200)
    async with staff.client.app[DB].read() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.at))).all()  # type: ignore[arg-type]
    actions = [(e.action, e.actor_id, e.case_id) for e in events]
    assert ("POST /cases", staff.user_ids["scheduler"], uuid.UUID(case["id"])) in actions
    assert ("GET /cases/{case_id}", staff.user_ids["admin"], uuid.UUID(case["id"])) in actions


async def test_health_readiness_metrics_openapi(staff: Staff) -> None:
    assert (await staff.call("GET", "/healthz", role=None, expect=200))["status"] == "ok"
    ready = await staff.call("GET", "/readyz", role=None, expect=200)
    assert ready["checks"] == {"database": "ok", "migrations": "ok"}
    await make_case(staff)
    metrics = (await staff.call("GET", "/metrics", role=None, expect=200)).decode()
    assert "orchestrator_http_requests_total" in metrics
    assert "orchestrator_outbox_pending" in metrics
    spec = await staff.call("GET", "/openapi.json", role=None, expect=200)
    post = spec["paths"]["/api/v1/cases"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"reference", "kind", "local_authority", "referral_date"} <= set(schema["required"])
    # Every operation says it may answer 503 database_unavailable, to retry after a while.
    for ops in spec["paths"].values():
        for op in ops.values():
            assert "Retry-After" in op["responses"]["503"]["headers"]
    # Every API route in the app is described.
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for route in staff.client.app.router.routes():
        info = route.resource.canonical if route.resource else ""
        if info.startswith("/api/v1") and route.method != "HEAD":
            assert (route.method, info) in described


async def test_responses_carry_security_headers(staff: Staff) -> None:
    response = await staff.client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_roles_are_the_documented_three() -> None:
    assert {r.value for r in StaffRole} == {"scheduler", "mediator", "admin"}


async def test_the_same_email_twice_on_one_case_is_refused(staff: Staff) -> None:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "DUP-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    parties = f"/api/v1/cases/{case['id']}/parties"
    sam = {"role": "parent", "name": "Sam", "email": "sam@family.example"}
    first = await staff.call("POST", parties, json=sam, expect=201)
    again = await staff.call(
        "POST", parties, json={**sam, "email": "SAM@family.example"}, expect=409
    )
    assert "already has this email address" in again["error"]["message"]
    lee = await staff.call(
        "POST",
        parties,
        json={"role": "la_officer", "name": "Lee", "email": "lee@kent.example"},
        expect=201,
    )
    await staff.call(
        "PATCH", f"{parties}/{lee['id']}", json={"email": "sam@family.example"}, expect=409
    )
    await staff.call("PATCH", f"{parties}/{first['id']}", json={"email": sam["email"]}, expect=200)
    shown = await staff.call("GET", parties, expect=200)
    assert sorted(p["email"] for p in shown["parties"]) == ["lee@kent.example", sam["email"]]
    # Once removed, the address is free for someone new.
    await staff.call("DELETE", f"{parties}/{first['id']}", expect=204)
    await staff.call("POST", parties, json=sam, expect=201)


async def test_text_with_a_nul_character_is_refused_and_changes_nothing(staff: Staff) -> None:
    # PostgreSQL cannot store U+0000 in text: it was a 500 there (SQLite kept it).
    case = await make_case(staff)
    party = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/parties",
        json={"role": "parent", "name": "Sam", "email": "sam@family.example"},
        expect=201,
    )
    for method, path, body in (
        ("POST", "/api/v1/cases", {**CASE, "reference": "NUL-1", "local_authority": "Kent\x00"}),
        ("PATCH", f"/api/v1/cases/{case['id']}", {"region": "South\x00East"}),
        ("PATCH", f"/api/v1/cases/{case['id']}/parties/{party['id']}", {"needs": "ramp\x00"}),
        ("PATCH", f"/api/v1/cases/{case['id']}/parties/{party['id']}", {"language": "\x00"}),
    ):
        refused = await staff.call(method, path, json=body, expect=422)
        assert refused["error"]["details"][0]["msg"] == "must not contain U+0000 (NUL)"
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["region"] is None
    parties = await staff.call("GET", f"/api/v1/cases/{case['id']}/parties", expect=200)
    assert [(p["needs"], p["language"]) for p in parties["parties"]] == [(None, None)]
    assert await count(staff, Case) == 1
