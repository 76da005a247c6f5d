"""Recording an outcome through the real app: attendance, the case moving on, the clock."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import MeetingStatus, TimelineEntry
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import (
    held_meeting,
    mediator_for,
    open_case,
    record,
    utc,
)

ISSUES = [
    {"summary": "Speech and language therapy hours", "agreed": True},
    {"summary": "Placement for September", "agreed": False},
]


async def test_outcome_confirms_attendance_moves_case_and_starts_clock_over_easter(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, party = await open_case(staff, clock, mediator_id=mediator_id)
    # Thursday before Good Friday: the 3 working days skip Good Friday and Easter Monday.
    meeting_id = await held_meeting(
        staff,
        case["id"],
        start=utc(2026, 4, 2, 9, 0),
        mediator_id=mediator_id,
        attended={party["parent"]: (5, 155), party["la_officer"]: (0, 180)},
    )
    clock.set(utc(2026, 4, 2, 13, 30))

    outcome = await record(
        staff,
        meeting_id,
        result="partial_agreement",
        issues=ISSUES,
        agreement_text="The LA will fund 20 hours of therapy a term.",
        next_steps=[{"action": "Amend the plan", "who": "LA", "due": "2026-04-16"}],
        # The school joined in person: the mediator marks it.
        attendance=[{"party_id": party["school"], "attended": True}],
    )

    assert outcome["result"] == "partial_agreement"
    assert outcome["certificate_kind"] == "mediation"
    assert outcome["certificate_due"] == "2026-04-09"
    seen = {row["party_id"]: row for row in outcome["attendance"]}
    assert seen[party["parent"]]["attended"] is True
    assert seen[party["parent"]]["seconds_present"] == 150 * 60
    assert seen[party["la_officer"]]["seconds_present"] == 180 * 60
    assert (
        seen[party["school"]] | {"attended": True, "confirmed_by": "mediator"}
        == seen[party["school"]]
    )

    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["status"] == "outcome_recorded"
    assert shown["deadlines"]["certificate_due"]["date"] == "2026-04-09"
    again = await staff.call("GET", f"/api/v1/meetings/{meeting_id}/outcome", expect=200)
    assert again["issues"] == ISSUES
    assert again["next_steps"][0]["who"] == "LA"

    timeline = await staff.call("GET", f"/api/v1/cases/{case['id']}/timeline", expect=200)
    kinds = [entry["kind"] for entry in timeline["entries"]]
    assert {"outcome.recorded", "attendance.final"} <= set(kinds)
    summaries = " ".join(entry["summary"] for entry in timeline["entries"])
    assert "1 of 2 issues agreed" in summaries
    assert "3 of 3 attended" in summaries


async def test_outcome_without_marks_uses_the_merged_events(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, party = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 20, 10), attended={party["parent"]: (0, 60)}
    )
    clock.set(utc(2026, 3, 20, 15))
    outcome = await record(staff, meeting_id, result="not_attended")
    attended = {row["party_id"]: row["attended"] for row in outcome["attendance"]}
    assert attended == {party["parent"]: True, party["la_officer"]: False, party["school"]: False}
    # Friday 20 March + 3 working days.
    assert outcome["certificate_due"] == "2026-03-25"


async def test_only_the_cases_mediator_records_and_only_after_it_started(
    staff: Staff, clock: MutableClock
) -> None:
    case, _ = await open_case(staff, clock)  # no mediator assigned to this case
    meeting_id = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 10, 10), status=MeetingStatus.scheduled
    )
    path = f"/api/v1/meetings/{meeting_id}/outcome"
    body = {"result": "agreement"}
    await staff.call("POST", path, role="scheduler", json=body, expect=403)
    # A mediator who does not run this case cannot even see the meeting.
    await mediator_for(staff)
    await staff.call("POST", path, role="mediator", json=body, expect=404)
    # An admin can, but not before the meeting has started.
    answer = await staff.call("POST", path, role="admin", json=body, expect=409)
    assert answer["error"]["code"] == "invalid_state"
    clock.set(utc(2026, 3, 10, 14))
    await staff.call("POST", path, role="admin", json=body, expect=201)


async def test_result_must_match_the_issues_and_cancelled_meetings_have_none(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, _ = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 3, 1, 10))
    path = f"/api/v1/meetings/{meeting_id}/outcome"
    answer = await staff.call(
        "POST", path, role="mediator", json={"result": "agreement", "issues": ISSUES}, expect=422
    )
    assert "every issue" in answer["error"]["message"]
    await staff.call("POST", path, role="mediator", json={"result": "maybe"}, expect=422)
    await staff.call("GET", path, expect=404)  # nothing was written

    cancelled = await held_meeting(
        staff, case["id"], start=utc(2026, 3, 1, 14), status=MeetingStatus.cancelled
    )
    await staff.call(
        "POST",
        f"/api/v1/meetings/{cancelled}/outcome",
        role="mediator",
        json={"result": "agreement"},
        expect=409,
    )
    async with staff.client.app[DB].read() as session:
        kinds = (await session.scalars(select(col(TimelineEntry.kind)))).all()
    assert "outcome.recorded" not in kinds


async def test_outcome_can_be_corrected_until_the_certificate_is_issued(
    staff: Staff, clock: MutableClock
) -> None:
    mediator_id = await mediator_for(staff)
    case, _ = await open_case(staff, clock, mediator_id=mediator_id)
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 3, 2, 9, 0), hours=2)
    clock.set(utc(2026, 3, 2, 12))
    await record(staff, meeting_id, result="no_agreement")
    corrected = await record(staff, meeting_id, result="agreement")
    assert corrected["result"] == "agreement"
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )
    answer = await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting_id}/outcome",
        role="mediator",
        json={"result": "no_agreement"},
        expect=409,
    )
    assert "certificate" in answer["error"]["message"]
