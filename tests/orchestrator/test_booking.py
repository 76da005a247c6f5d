"""Booking through the real app on both databases: one transaction, no double booking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.core.models import (
    AuditEvent,
    Invitation,
    Link,
    LinkScope,
    Meeting,
    MeetingTransition,
    OutboxKind,
    OutboxMessage,
    TimelineEntry,
)
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.availability_support import field
from tests.orchestrator.meetings_support import (
    START,
    book,
    iso,
    join_links,
    ready_case,
)
from tests.orchestrator.test_poll_pages import polled_case


async def rows(client: TestClient[Any, Any], model: Any, **where: Any) -> list[Any]:
    async with client.app[DB].read() as session:
        query = select(model)
        for name, value in where.items():
            query = query.where(col(getattr(model, name)) == value)
        return list((await session.scalars(query)).all())


async def test_booking_creates_the_meeting_links_invitations_and_room_call(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    ready = await ready_case(staff, parties=("parent", "la_officer", "school"))
    meeting = await book(staff, ready.case_id)
    assert meeting["status"] == "scheduled"
    assert meeting["start"] == iso(START)
    assert meeting["end"] == iso(START + timedelta(hours=3))
    assert meeting["sequence"] == 0
    assert meeting["ical_uid"].endswith("@testserver.local")
    assert meeting["room_ready"] is False  # the room is made after commit, by the outbox

    meeting_id = uuid.UUID(meeting["id"])
    invitations = await rows(client, Invitation, meeting_id=meeting_id)
    assert {str(i.party_id) for i in invitations} == set(ready.parties.values())
    links = await join_links(staff, meeting["id"])
    assert set(links) == {*ready.parties.values(), "mediator"}
    assert all(link["url"].startswith("http://testserver.local/j/") for link in links.values())
    assert len({link["url"] for link in links.values()}) == 4  # personal, not shared

    calls = await rows(client, OutboxMessage, kind=OutboxKind.provider_call)
    assert [c.payload["action"] for c in calls] == ["create_room"]
    transitions = await rows(client, MeetingTransition, meeting_id=meeting_id)
    assert [t.to_status.value for t in transitions] == ["scheduled"]
    timeline = await rows(client, TimelineEntry, meeting_id=meeting_id)
    assert [t.kind for t in timeline][:1] == ["meeting.booked"]
    case = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
    assert case["status"] == "booked"


async def test_overlap_buffer_and_daily_capacity_are_refused_with_alternatives(
    staff: Staff,
) -> None:
    ready = await ready_case(staff, max_sessions_per_day=2, buffer_minutes=30)
    await book(staff, ready.case_id)  # 10:00-13:00
    clash = await book(staff, ready.case_id, start=START + timedelta(hours=1), expect=409)
    assert clash["error"]["code"] == "conflict"
    alternatives = clash["error"]["details"]["alternatives"]
    assert alternatives, "a refusal offers the next free times"
    for slot in alternatives:  # none of them overlaps the booking or its buffer
        assert slot["start"] >= iso(START + timedelta(hours=3, minutes=30)) or slot["end"] <= iso(
            START - timedelta(minutes=30)
        )
    # Inside the 30-minute buffer after the first meeting.
    buffered = await book(
        staff,
        ready.case_id,
        start=START + timedelta(hours=3, minutes=15),
        duration_minutes=60,
        expect=409,
    )
    assert buffered["error"]["details"]["reasons"] == ["mediator_busy"]
    # The next free alternative (after the first meeting and its buffer) is bookable.
    offered = alternatives[0]
    assert offered["start"] == iso(START + timedelta(hours=3, minutes=30))
    second = await book(
        staff,
        ready.case_id,
        start=START.fromisoformat(offered["start"]),
        duration_minutes=180,
    )
    assert second["status"] == "scheduled"
    # A third session the same day breaks the mediator's capacity of two (which no waiver
    # of the scheduling rules lifts).
    third = await book(
        staff,
        ready.case_id,
        start=START.replace(hour=17),
        duration_minutes=60,
        expect=409,
        waive_rules=True,
        waiver_reason="The family can only do the evening",
    )
    assert third["error"]["details"]["reasons"] == ["mediator_full"]


async def test_venue_cannot_be_double_booked_across_mediators(staff: Staff) -> None:
    venue = {"name": "Town Hall", "address": "1 High Street, Maidstone", "access_notes": "Lift"}
    first = await ready_case(staff, reference="KIDS-1", mediator_email="a@staff.example")
    second = await ready_case(
        staff, reference="KIDS-2", mediator_email="b@staff.example", own_mediator=False
    )
    await book(staff, first.case_id, mode="in_person", venue=venue)
    same_place = dict(venue, address="1 high street,  MAIDSTONE")
    refused = await book(staff, second.case_id, mode="in_person", venue=same_place, expect=409)
    assert refused["error"]["details"]["reasons"] == ["venue_busy"]
    await book(staff, second.case_id, mode="in_person", venue={"address": "2 Other Road"})


async def test_bad_requests_are_refused_without_writing(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    past = await book(staff, ready.case_id, start=clock() - timedelta(hours=1), expect=422)
    assert past["error"]["code"] == "validation_failed"
    await book(staff, ready.case_id, mode="in_person", expect=422)  # no venue
    unknown = await book(staff, ready.case_id, mode="video", provider="nosuch", expect=422)
    assert unknown["error"]["details"] == {"provider": "nosuch"}  # refused by booking.book
    await book(staff, ready.case_id, duration_minutes=0, expect=422)
    await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/meetings",
        role="mediator",
        json={"start": iso(START), "duration_minutes": 60, "mode": "video"},
        expect=403,
    )
    assert await rows(client, Link, scope=LinkScope.join_room) == []


async def test_reschedule_bumps_sequence_and_replaces_links(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    before = await join_links(staff, meeting["id"])
    moved = await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"start": iso(START + timedelta(days=1)), "duration_minutes": 120},
        expect=200,
    )
    assert moved["sequence"] == 1
    assert moved["start"] == iso(START + timedelta(days=1))
    assert moved["ical_uid"] == meeting["ical_uid"]
    after = await join_links(staff, meeting["id"])
    assert set(after) == set(before)
    assert not {link["url"] for link in after.values()} & {link["url"] for link in before.values()}
    # Moving onto itself is fine (its own time does not clash with itself).
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"start": iso(START + timedelta(days=1, minutes=30)), "duration_minutes": 120},
        expect=200,
    )


async def test_cancel_kills_links_and_frees_the_time(staff: Staff) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    cancelled = await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/cancel",
        json={"reason": "The family asked to postpone"},
        expect=200,
    )
    assert cancelled["status"] == "cancelled"
    assert (await join_links(staff, meeting["id"])) == {}
    again = await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"}, expect=409
    )
    assert again["error"]["code"] == "invalid_state"
    await book(staff, ready.case_id)  # the slot is free again
    case = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
    assert case["status"] == "booked"


async def test_mediators_see_only_their_own_meetings(staff: Staff) -> None:
    mine = await ready_case(staff, reference="MINE")
    other = await ready_case(
        staff, reference="OTHER", mediator_email="x@staff.example", own_mediator=False
    )
    my_meeting = await book(staff, mine.case_id)
    their_meeting = await book(staff, other.case_id)
    await staff.call("GET", f"/api/v1/meetings/{my_meeting['id']}", role="mediator", expect=200)
    hidden = await staff.call(
        "GET", f"/api/v1/meetings/{their_meeting['id']}", role="mediator", expect=404
    )
    assert hidden["error"]["code"] == "not_found"
    await staff.call(
        "POST", f"/api/v1/meetings/{their_meeting['id']}/start", role="mediator", expect=404
    )


# ---------------------------------------------------------------------------- the rules


async def outbox_emails(client: TestClient[Any, Any]) -> list[OutboxMessage]:
    return await rows(client, OutboxMessage, kind=OutboxKind.email)


async def test_booking_refuses_times_the_slot_search_never_offers(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    # The test clock says Monday 2 March 2026, 09:00; the mediator keeps office hours.
    ready = await ready_case(staff)
    mail_before = len(await outbox_emails(client))
    refused = {
        "bank holiday (Easter Monday)": datetime(2026, 4, 6, 9, 0, tzinfo=UTC),
        "bank holiday (Christmas Day)": datetime(2026, 12, 25, 10, 0, tzinfo=UTC),
        "Sunday 15 March 2026 is a Sunday": datetime(2026, 3, 15, 10, 0, tzinfo=UTC),
        "7pm to 10pm is outside the mediator's working hours (9am to 5pm)": datetime(
            2026, 3, 11, 19, 0, tzinfo=UTC
        ),
        "the family must be told the date at least 5 working days before": datetime(
            2026, 3, 4, 10, 0, tzinfo=UTC
        ),
    }
    for words, start in refused.items():
        answer = await book(staff, ready.case_id, start=start, expect=422)
        error = answer["error"]
        assert error["code"] == "scheduling_rules_broken", (words, error)
        assert words in error["message"], (words, error["message"])
        assert "waive" in error["message"]
        assert error["details"]["waivable"] is True
        assert [r["message"] for r in error["details"]["rules"] if words in r["message"]], words
    # Nothing was booked and nobody was invited.
    listed = await staff.call("GET", f"/api/v1/cases/{ready.case_id}/meetings", expect=200)
    assert listed["meetings"] == []
    assert await rows(client, Invitation) == []
    assert len(await outbox_emails(client)) == mail_before


async def test_a_partys_own_limits_are_named_when_booking_breaks_them(staff: Staff) -> None:
    ready = await ready_case(staff, parties=("parent",))
    await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/parties",
        json={
            "role": "school",
            "name": "Pat Teacher",
            "email": "pat@school.example",
            "rules": {"excluded_weekdays": [3]},  # no Wednesdays
        },
        expect=201,
    )
    wednesday = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    answer = await book(staff, ready.case_id, start=wednesday, expect=422)
    assert "Pat Teacher cannot meet on Wednesdays" in answer["error"]["message"]
    await book(staff, ready.case_id, start=wednesday + timedelta(days=1))  # Thursday is fine


async def test_a_time_a_required_party_said_no_to_is_refused_as_the_slots_leave_it_out(
    staff: Staff,
) -> None:
    case, poll, link = await polled_case(staff)
    said_no, said_yes = poll["candidates"][:2]
    answered = await staff.client.post(
        link, data={field(said_no): "no", field(said_yes): "yes"}, allow_redirects=False
    )
    assert answered.status == 303
    slots = await staff.call("GET", f"/api/v1/cases/{case['id']}/slots?duration_minutes=180")
    assert said_no not in {slot["start"] for slot in slots["slots"]}

    refused = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/meetings",
        json={"start": said_no, "duration_minutes": 180, "mode": "video"},
        expect=422,
    )
    assert refused["error"]["code"] == "scheduling_rules_broken"
    assert "Pat Parent answered the poll that they cannot do" in refused["error"]["message"]
    meeting = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/meetings",
        json={"start": said_yes, "duration_minutes": 180, "mode": "video"},
        expect=201,
    )
    # Moving it onto the refused time is refused too, unless waived with a reason.
    move = {"start": said_no, "duration_minutes": 180}
    path = f"/api/v1/meetings/{meeting['id']}/reschedule"
    await staff.call("POST", path, json=move, expect=422)
    reason = "Pat rang: the morning is free after all"
    waived = {**move, "waive_rules": True, "waiver_reason": reason}
    assert (await staff.call("POST", path, json=waived, expect=200))["start"] == said_no


async def test_a_waiver_with_a_reason_books_outside_the_rules_on_the_record(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    spec = await staff.call("GET", "/openapi.json", role=None, expect=200)
    documented = spec["components"]["schemas"]["MeetingCreate"]["properties"]
    assert {"waive_rules", "waiver_reason"} <= set(documented)
    ready = await ready_case(staff)
    soon = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # inside the family's five working days
    no_reason = await book(staff, ready.case_id, start=soon, waive_rules=True, expect=422)
    assert "waiver_reason" in str(no_reason["error"])
    await book(staff, ready.case_id, start=soon, waive_rules=True, waiver_reason="  ", expect=422)
    assert await rows(client, Invitation) == []

    meeting = await book(
        staff,
        ready.case_id,
        start=soon,
        waive_rules=True,
        waiver_reason="Family agreed to shorter notice",
    )

    assert meeting["status"] == "scheduled"
    assert len(await rows(client, Invitation, meeting_id=uuid.UUID(meeting["id"]))) == 2
    timeline = await rows(client, TimelineEntry, meeting_id=uuid.UUID(meeting["id"]))
    waived = [t for t in timeline if t.kind == "meeting.rules_waived"]
    assert len(waived) == 1
    assert "Family agreed to shorter notice" in waived[0].summary
    assert "too little notice for the family" in waived[0].summary
    audit = await rows(client, AuditEvent, action="meeting.rules_waived")
    assert len(audit) == 1
    assert audit[0].actor_id == staff.user_ids["scheduler"]
    assert audit[0].details == {
        "rules": [{"rule": "notice", "party_id": None}],
        "reason": "Family agreed to shorter notice",
    }


async def test_moving_a_meeting_keeps_the_same_rules(staff: Staff) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    path = f"/api/v1/meetings/{meeting['id']}/reschedule"
    sunday = {"start": iso(datetime(2026, 3, 15, 10, 0, tzinfo=UTC)), "duration_minutes": 120}
    refused = await staff.call("POST", path, json=sunday, expect=422)
    assert "Sunday 15 March 2026 is a Sunday" in refused["error"]["message"]
    moved = await staff.call(
        "POST",
        path,
        json={**sunday, "waive_rules": True, "waiver_reason": "The school opens on Sunday"},
        expect=200,
    )
    assert moved["sequence"] == 1


async def test_a_closed_or_withdrawn_case_cannot_be_booked(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    # Closed and withdrawn are final: a family that comes back is a new case.
    for status in ("closed", "withdrawn"):
        ready = await ready_case(
            staff,
            reference=f"KIDS-2026-{status.upper()}",
            mediator_email=f"{status}@staff.example",
            own_mediator=False,
        )
        await staff.call(
            "PATCH", f"/api/v1/cases/{ready.case_id}", json={"status": status}, expect=200
        )
        refused = await book(staff, ready.case_id, expect=409)
        assert refused["error"]["message"] == f"the case is {status}; a meeting cannot be booked"
        shown = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
        assert shown["status"] == status
        assert await rows(client, Meeting, case_id=uuid.UUID(ready.case_id)) == []


async def test_a_start_years_ahead_is_refused_not_a_500(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    ready = await ready_case(staff)
    for start in ("9999-12-31T23:00:00Z", "2031-03-10T10:00:00Z"):
        refused = await staff.call(
            "POST",
            f"/api/v1/cases/{ready.case_id}/meetings",
            json={"start": start, "duration_minutes": 180, "mode": "video"},
            expect=422,
        )
        assert refused["error"]["message"] == "start is more than a year ahead; check the date"
    assert await rows(client, Meeting, case_id=uuid.UUID(ready.case_id)) == []
    meeting = await book(staff, ready.case_id)
    refused = await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"start": "9999-12-31T23:00:00Z", "duration_minutes": 180},
        expect=422,
    )
    assert refused["error"]["details"] == {"field": "start"}
