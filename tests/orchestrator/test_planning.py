"""Planning the open caseload through the real app: more families within target, booked in one go."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import func, select

from orchestrator.core.models import Meeting
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff

MONDAYS_ONLY = {"1": ["09:00", "17:00"]}


async def open_case(staff: Staff, reference: str, referral: str, mediator_id: str) -> str:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference,
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": referral,
        },
        expect=201,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/mediator",
        json={"mediator_id": mediator_id},
        expect=200,
    )
    for role, name, phone in (
        ("parent", "Parent", "07700 900201"),
        ("la_officer", "Officer", "01632 960201"),
    ):
        await staff.call(
            "POST",
            f"/api/v1/cases/{case['id']}/parties",
            json={"role": role, "name": name, "phone": phone},
            expect=201,
        )
    return str(case["id"])


async def meetings(staff: Staff) -> int:
    async with staff.client.app[DB].read() as session:
        return int(await session.scalar(select(func.count()).select_from(Meeting)) or 0)


async def test_plan_books_more_families_within_target_than_first_come(
    staff: Staff, clock: MutableClock
) -> None:
    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": "Pat",
            "email": "pat@mediation.example",
            "max_sessions_per_day": 1,
            "working_hours": MONDAYS_ONLY,
        },
        expect=201,
    )
    # Asked first, with weeks to spare (target 1 April) ...
    relaxed = await open_case(staff, "RELAXED", "2026-02-27", mediator["id"])
    clock.advance(minutes=5)
    # ... and reached us later, forwarded late: due on 11 March, so only Monday 9 March is
    # inside its target. First come, first served gives 9 March to the relaxed case.
    urgent = await open_case(staff, "URGENT", "2026-02-06", mediator["id"])

    proposal: dict[str, Any] = await staff.call(
        "POST", "/api/v1/plans", json={"duration_minutes": 180}, expect=200
    )
    assert proposal["within_target"] == 2
    assert proposal["first_come_within_target"] == 1
    by_case = {b["case_id"]: b for b in proposal["bookings"]}
    assert by_case[urgent]["start"].startswith("2026-03-09")
    assert not by_case[relaxed]["start"].startswith("2026-03-09")
    assert all(b["within_target"] for b in proposal["bookings"])

    accepted = await staff.call(
        "POST",
        "/api/v1/plans/accept",
        json={
            "bookings": [
                {"case_id": b["case_id"], "start": b["start"], "duration_minutes": 180}
                for b in proposal["bookings"]
            ]
        },
        expect=201,
    )
    assert {m["case_id"] for m in accepted["meetings"]} == {relaxed, urgent}
    # Booked cases leave the plannable caseload.
    again = await staff.call("POST", "/api/v1/plans", json={}, expect=200)
    assert again["bookings"] == [] and again["unplaced"] == []


async def test_accepting_a_plan_that_clashes_books_nothing(staff: Staff) -> None:
    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": "Pat",
            "email": "pat@mediation.example",
            "max_sessions_per_day": 1,
            "working_hours": MONDAYS_ONLY,
        },
        expect=201,
    )
    first = await open_case(staff, "FIRST", "2026-02-27", mediator["id"])
    second = await open_case(staff, "SECOND", "2026-02-27", mediator["id"])
    same_time = "2026-03-09T09:00:00Z"
    refused = await staff.call(
        "POST",
        "/api/v1/plans/accept",
        json={
            "bookings": [
                {"case_id": first, "start": same_time, "duration_minutes": 180},
                {"case_id": second, "start": same_time, "duration_minutes": 180},
            ]
        },
        expect=409,
    )
    assert "nothing was booked" in refused["error"]["message"]
    assert await meetings(staff) == 0
    # A plan is booked under the same rules as one meeting: a Sunday is refused, naming it.
    sunday = await staff.call(
        "POST",
        "/api/v1/plans/accept",
        json={
            "bookings": [
                {"case_id": first, "start": "2026-03-09T09:00:00Z", "duration_minutes": 180},
                {"case_id": second, "start": "2026-03-15T09:00:00Z", "duration_minutes": 180},
            ]
        },
        expect=422,
    )
    message = sunday["error"]["message"]
    assert message.startswith("case SECOND: ") and "Sunday 15 March 2026 is a Sunday" in message
    assert "nothing was booked" in message
    assert await meetings(staff) == 0
    await staff.call("POST", "/api/v1/plans", role="mediator", json={}, expect=403)


async def test_cases_without_a_mediator_come_back_unplaced_with_the_reason(staff: Staff) -> None:
    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={"name": "Pat", "email": "pat@mediation.example", "working_hours": MONDAYS_ONLY},
        expect=201,
    )
    ready = await open_case(staff, "READY", "2026-02-27", mediator["id"])
    orphan = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "NO-MEDIATOR",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
        },
        expect=201,
    )

    for body in ({"case_ids": [ready, orphan["id"]]}, {}):
        proposal = await staff.call("POST", "/api/v1/plans", json=body, expect=200)
        assert [b["case_id"] for b in proposal["bookings"]] == [ready]
        assert proposal["unplaced"] == [
            {
                "case_id": orphan["id"],
                "reference": "NO-MEDIATOR",
                "reason": "no mediator is assigned to the case yet; assign one to plan it",
            }
        ]

    await staff.call("POST", "/api/v1/plans", json={"case_ids": [str(uuid.uuid4())]}, expect=404)
