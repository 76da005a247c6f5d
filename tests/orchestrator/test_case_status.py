"""The case's state machine: the table, every writer through it, PATCH, closed_at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orchestrator.cases import retention
from orchestrator.cases.lifecycle import CASE_TRANSITIONS, allows
from orchestrator.core.models import CaseStatus, CaseStatusCause
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import START, book, iso, ready_case

S = CaseStatus
C = CaseStatusCause

# What may happen to a case, written out once more by hand: the table must say exactly this.
EXPECTED = {
    (S.referred, S.negotiating, C.availability_requested),
    (S.referred, S.booked, C.meeting_booked),
    (S.referred, S.outcome_recorded, C.consent_declined),
    (S.referred, S.outcome_recorded, C.family_withdrew),  # the family withdrew
    (S.referred, S.certificate_issued, C.certificate_issued),
    (S.referred, S.closed, C.staff),
    (S.referred, S.withdrawn, C.staff),
    (S.negotiating, S.booked, C.meeting_booked),
    (S.negotiating, S.outcome_recorded, C.consent_declined),
    (S.negotiating, S.outcome_recorded, C.family_withdrew),  # the family withdrew
    (S.negotiating, S.certificate_issued, C.certificate_issued),
    (S.negotiating, S.closed, C.staff),
    (S.negotiating, S.withdrawn, C.staff),
    (S.booked, S.negotiating, C.meeting_cancelled),
    (S.booked, S.held, C.session_ended),
    (S.booked, S.outcome_recorded, C.outcome_recorded),
    (S.booked, S.outcome_recorded, C.consent_declined),
    (S.booked, S.outcome_recorded, C.family_withdrew),  # the family withdrew
    (S.booked, S.certificate_issued, C.certificate_issued),
    (S.booked, S.closed, C.staff),
    (S.booked, S.withdrawn, C.staff),
    (S.held, S.outcome_recorded, C.outcome_recorded),
    (S.held, S.outcome_recorded, C.consent_declined),
    (S.held, S.outcome_recorded, C.family_withdrew),  # the family withdrew
    (S.held, S.certificate_issued, C.certificate_issued),
    (S.held, S.closed, C.staff),
    (S.held, S.withdrawn, C.staff),
    (S.outcome_recorded, S.certificate_issued, C.certificate_issued),
    (S.outcome_recorded, S.closed, C.staff),
    (S.outcome_recorded, S.withdrawn, C.staff),
    (S.certificate_issued, S.closed, C.staff),
}


def test_the_table_allows_exactly_the_expected_moves() -> None:
    table = {
        (start, to, cause)
        for start, edges in CASE_TRANSITIONS.items()
        for to, causes in edges.items()
        for cause in causes
    }
    assert table == EXPECTED
    assert set(CASE_TRANSITIONS) == set(CaseStatus)
    for start in CaseStatus:
        for to in CaseStatus:
            for cause in CaseStatusCause:
                assert allows(start, to, cause) is ((start, to, cause) in EXPECTED)


@pytest.mark.parametrize(
    ("start", "to", "cause"),
    [
        (S.closed, S.referred, C.staff),  # final: no reopening
        (S.withdrawn, S.negotiating, C.availability_requested),
        (S.certificate_issued, S.outcome_recorded, C.outcome_recorded),  # no going back
        (S.referred, S.booked, C.staff),  # staff cannot claim a booking
        (S.referred, S.held, C.session_ended),  # nothing was booked
        (S.held, S.booked, C.meeting_booked),
        (S.certificate_issued, S.withdrawn, C.staff),
    ],
)
def test_a_sample_of_refused_moves(start: S, to: S, cause: C) -> None:
    assert not allows(start, to, cause)


def steps(case: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["from_status"], c["to_status"], c["cause"]) for c in case["status_history"]]


async def test_every_writer_moves_the_case_through_the_table(
    staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    case_path = f"/api/v1/cases/{ready.case_id}"
    await staff.call(
        "POST", case_path + "/availability-requests", json={"duration_minutes": 180}, expect=201
    )
    first = await book(staff, ready.case_id)
    await staff.call(
        "POST", f"/api/v1/meetings/{first['id']}/cancel", json={"reason": "ill"}, expect=200
    )
    case = await staff.call("GET", case_path, expect=200)
    assert case["status"] == "negotiating"
    meeting = await book(staff, ready.case_id, start=START + timedelta(days=1))
    base = f"/api/v1/meetings/{meeting['id']}"
    clock.set(START + timedelta(days=1))
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    clock.advance(hours=3)
    await staff.call("POST", base + "/end", role="mediator", expect=200)
    # The session's end is what makes the case held.
    case = await staff.call("GET", case_path, expect=200)
    assert case["status"] == "held"
    assert case["closed_at"] is None
    await staff.call(
        "POST",
        base + "/outcome",
        role="mediator",
        json={"result": "agreement", "issues": [{"summary": "Speech therapy", "agreed": True}]},
        expect=201,
    )
    await staff.call("POST", case_path + "/certificates", json={"kind": "mediation"}, expect=201)
    clock.advance(hours=1)
    closed = await staff.call("PATCH", case_path, json={"status": "closed"}, expect=200)

    assert closed["status"] == "closed"
    assert closed["closed_at"] == iso(clock())
    case = await staff.call("GET", case_path, expect=200)
    assert steps(case) == [
        ("referred", "negotiating", "availability_requested"),
        ("negotiating", "booked", "meeting_booked"),
        ("booked", "negotiating", "meeting_cancelled"),
        ("negotiating", "booked", "meeting_booked"),
        ("booked", "held", "session_ended"),
        ("held", "outcome_recorded", "outcome_recorded"),
        ("outcome_recorded", "certificate_issued", "certificate_issued"),
        ("certificate_issued", "closed", "staff"),
    ]
    history = case["status_history"]
    assert history[-1]["at"] == iso(clock())
    assert history[-1]["actor"] == f"scheduler:{staff.user_ids['scheduler']}"
    assert history[4]["actor"] == f"mediator:{staff.user_ids['mediator']}"
    # Final: nothing moves it on or back, and the record keeps its close.
    refused = await staff.call("PATCH", case_path, json={"status": "referred"}, expect=409)
    assert refused["error"]["message"] == (
        "a case that is closed cannot become referred by a change of its details; it is final "
        "(the other statuses follow what happens: a poll, a booking, the session, its "
        "outcome, the certificate)"
    )
    assert (await staff.call("GET", case_path, expect=200))["closed_at"] == closed["closed_at"]


async def test_patch_sets_only_what_staff_may_set(staff: Staff) -> None:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "KIDS-2026-0900",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    path = f"/api/v1/cases/{case['id']}"
    for wanted in ("booked", "held", "outcome_recorded", "certificate_issued"):
        refused = await staff.call(
            "PATCH", path, json={"status": wanted, "region": "South East"}, expect=409
        )
        assert refused["error"]["code"] == "invalid_state"
        assert refused["error"]["message"].startswith(
            f"a case that is referred cannot become {wanted.replace('_', ' ')} by a change of "
            "its details; "
            "staff may set it to closed or withdrawn"
        )
        assert refused["error"]["details"] == {
            "status": "referred",
            "requested": wanted,
            "cause": "staff",
        }
    shown = await staff.call("GET", path, expect=200)
    assert shown["status"] == "referred"
    assert shown["region"] is None  # a refused change changes nothing
    assert shown["status_history"] == []
    nulled = await staff.call("PATCH", path, json={"status": None}, expect=422)
    assert [error["loc"] for error in nulled["error"]["details"]] == [["status"]]
    # The status it already has: no change, nothing recorded.
    await staff.call("PATCH", path, json={"status": "referred"}, expect=200)
    withdrawn = await staff.call("PATCH", path, json={"status": "withdrawn"}, expect=200)
    assert withdrawn["closed_at"] is not None
    assert steps(await staff.call("GET", path, expect=200)) == [("referred", "withdrawn", "staff")]
    listed = await staff.call("GET", "/api/v1/cases?status=withdrawn", expect=200)
    assert [c["id"] for c in listed["cases"]] == [case["id"]]
    assert listed["cases"][0]["status_history"] is None  # only on a single case's read


async def test_retention_counts_from_the_close_not_from_a_later_correction(
    staff: Staff, clock: MutableClock
) -> None:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "KIDS-2026-0901",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    path = f"/api/v1/cases/{case['id']}"
    closed = await staff.call("PATCH", path, json={"status": "closed"}, expect=200)
    assert closed["closed_at"] == iso(clock())
    closed_on = clock()
    clock.advance(days=100)
    await staff.call("PATCH", path, json={"region": "South East"}, expect=200)
    settings = staff.client.app[SETTINGS]
    report = await retention.run(
        staff.client.app[DB], settings=settings, now=closed_on + timedelta(days=731)
    )
    assert report.references == ["KIDS-2026-0901"]
