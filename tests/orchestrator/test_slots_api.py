"""GET /slots through the real app, with calendars served as ICS feeds over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Staff
from tests.orchestrator.availability_support import (
    SECRET,
    FeedServer,
    add_meeting,
    add_party,
    feeds_fixture,  # noqa: F401 - the ``feeds`` fixture
    field,
    ics,
    make_case,
    make_mediator,
    poll_link_for,
    request_poll,
    whole_days,
)


def day(d: int) -> datetime:
    return datetime(2026, 3, d, tzinfo=UTC)


def weekdays_but(*free: int) -> list[datetime]:
    """Every weekday from 9 March to 10 April 2026 except the given March days."""
    days = [datetime(2026, 3, 9, tzinfo=UTC) + timedelta(days=n) for n in range(33)]
    return [d for d in days if d.weekday() < 5 and not (d.month == 3 and d.day in free)]


def on_day(slot: dict[str, Any]) -> int:
    return datetime.fromisoformat(slot["start"].replace("Z", "+00:00")).day


async def slots(staff: Staff, case_id: str, query: str = "") -> dict[str, Any]:
    return dict(
        await staff.call(
            "GET", f"/api/v1/cases/{case_id}/slots?duration_minutes=180&limit=50{query}", expect=200
        )
    )


async def family_case(staff: Staff, feeds: FeedServer, **case: Any) -> dict[str, Any]:
    """A case with an LA officer (good feed), a school (broken feed) and a polled parent."""
    made = await make_case(staff, **case)
    mediator = await make_mediator(staff, made["id"])
    la = await add_party(
        staff, made["id"], role="la_officer", name="Lee", email="lee@la.example",
        calendar={"ics_url": feeds.url("la")},
    )  # fmt: skip
    school = await add_party(
        staff, made["id"], role="school", name="Sam", email="sam@school.example",
        calendar={"ics_url": feeds.url("school")},
    )  # fmt: skip
    parent = await add_party(staff, made["id"])
    return {"case": made, "mediator": mediator, "la": la, "school": school, "parent": parent}


async def test_best_slots_first_with_each_partys_status_and_calendar_errors(
    staff: Staff, feeds: FeedServer
) -> None:
    feeds.feeds["la"] = ics(whole_days(day(9), day(10)))  # the LA officer is out Mon and Tue
    people = await family_case(staff, feeds)
    case_id = people["case"]["id"]
    poll = await request_poll(staff, case_id)
    link = await poll_link_for(staff, "pat@family.example")
    wednesday_morning, wednesday_afternoon = "2026-03-11T09:30:00Z", "2026-03-11T13:00:00Z"
    assert {wednesday_morning, wednesday_afternoon} <= set(poll["candidates"])
    saved = await staff.client.post(
        link,
        data={field(wednesday_morning): "yes", field(wednesday_afternoon): "no"},
        allow_redirects=False,
    )
    assert saved.status == 303

    found = await slots(staff, case_id)

    best = found["slots"][0]
    assert best["start"] == wednesday_morning
    assert best["end"] == "2026-03-11T12:30:00Z"
    assert best["within_target"] is True
    assert best["parties"] == {
        people["la"]["id"]: "free",
        people["school"]["id"]: "unknown",
        people["parent"]["id"]: "yes",
    }
    scores = [s["score"] for s in found["slots"]]
    assert scores == sorted(scores, reverse=True)
    starts = {s["start"] for s in found["slots"]}
    assert wednesday_afternoon not in starts  # the parent said no
    assert not {on_day(s) for s in found["slots"]} & {9, 10}  # the LA officer is busy
    assert found["within_target"] is True and found["blockers"] == []
    # The school's broken feed is reported, without its secret URL; the others still count.
    assert found["calendar_errors"] == [
        {
            "who": "party",
            "party_id": people["school"]["id"],
            "mediator_id": None,
            "message": "feed answered HTTP 500",
        }
    ]
    assert SECRET not in str(found)

    # The scheduler's matrix: answers for the parent, calendar status for the others.
    matrix = await staff.call("GET", f"/api/v1/cases/{case_id}/availability", expect=200)
    rows = {row["party_id"]: row for row in matrix["parties"]}
    assert rows[people["parent"]["id"]]["answers"][wednesday_morning] == "yes"
    assert rows[people["la"]["id"]]["source"] == "calendar"
    # The poll offered nothing on the days the LA officer's calendar is busy.
    assert not {c[:10] for c in rows[people["la"]["id"]]["answers"]} & {"2026-03-09", "2026-03-10"}
    assert rows[people["la"]["id"]]["answers"][wednesday_morning] == "free"
    assert rows[people["school"]["id"]]["calendar_error"] == "feed answered HTTP 500"
    assert set(rows[people["school"]["id"]]["answers"].values()) == {"unknown"}
    assert matrix["waiting_for"] == []


async def test_an_existing_booking_of_the_mediator_takes_that_day(
    staff: Staff, feeds: FeedServer
) -> None:
    # The LA officer can only do Thursday 12 and Monday 23 March.
    feeds.feeds["la"] = ics(whole_days(*weekdays_but(12, 23)))
    feeds.feeds["school"] = ics([])
    people = await family_case(staff, feeds)
    before = await slots(staff, people["case"]["id"])
    assert on_day(before["slots"][0]) == 12
    other = await make_case(staff, reference="OTHER-2")

    await add_meeting(
        staff,
        mediator_id=people["mediator"]["id"],
        case_id=other["id"],
        start=datetime(2026, 3, 12, 14, 0, tzinfo=UTC),
    )

    after = await slots(staff, people["case"]["id"])
    assert {on_day(s) for s in after["slots"]} == {23}  # one session a day for the mediator
    assert after["calendar_errors"] == []


async def test_the_mediators_calendar_and_tentative_time_count(
    staff: Staff, feeds: FeedServer
) -> None:
    feeds.feeds["school"] = ics([])
    # The LA officer is tentatively busy on the 9th, free on the 10th and 20th, else busy.
    feeds.feeds["la"] = ics(whole_days(*weekdays_but(9, 10, 20)), tentative=whole_days(day(9)))
    feeds.feeds["mediator"] = ics(whole_days(day(10)))
    people = await family_case(staff, feeds)
    case = people["case"]
    await staff.call(
        "POST", "/api/v1/mediators",
        json={"name": "Cal", "email": "cal@mediation.example",
              "calendar": {"ics_url": feeds.url("mediator")}},
        expect=201,
    )  # fmt: skip
    listed = await staff.call("GET", "/api/v1/mediators", expect=200)
    cal = next(m for m in listed["mediators"] if m["name"] == "Cal")
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/mediator", json={"mediator_id": cal["id"]},
        expect=200,
    )  # fmt: skip

    found = await slots(staff, case["id"])

    days = {on_day(s) for s in found["slots"]}
    assert 10 not in days  # the mediator's own calendar says busy
    monday = [s for s in found["slots"] if on_day(s) == 9]
    assert monday and all(s["parties"][people["la"]["id"]] == "if_need_be" for s in monday)
    # "If need be" ranks below a later day when everyone is free.
    assert {on_day(s) for s in found["slots"]} == {9, 20}
    assert on_day(found["slots"][0]) == 20 and on_day(found["slots"][-1]) == 9


async def test_nothing_before_the_target_names_the_blocker_and_offers_the_next_times(
    staff: Staff, feeds: FeedServer
) -> None:
    # Target: 10 days from Monday 2 March, so Thursday 12 March; notice rules out the first week.
    feeds.feeds["la"] = ics(whole_days(day(9), day(10), day(11), day(12)))
    feeds.feeds["school"] = ics([])
    people = await family_case(staff, feeds, target_days=10)

    found = await slots(staff, people["case"]["id"])

    assert found["within_target"] is False
    assert found["blockers"][0]["party_id"] == people["la"]["id"]
    assert found["blockers"][0]["role"] == "la_officer"
    assert found["blockers"][0]["blocked"] > 0
    assert "nothing fits before the target" in found["explanation"]
    assert found["slots"], "the earliest times after the target are offered"
    assert all(s["within_target"] is False for s in found["slots"])
    assert on_day(found["earliest_after_target"][0]) == 13
    assert found["earliest_after_target"][0]["start"] == "2026-03-13T09:00:00Z"
    again = await slots(staff, people["case"]["id"])
    assert again["blockers"] == found["blockers"] and again["slots"] == found["slots"]


async def test_cached_calendars_are_not_fetched_again(staff: Staff, feeds: FeedServer) -> None:
    feeds.feeds["la"] = ics(whole_days(day(9)))
    people = await family_case(staff, feeds)
    first = await slots(staff, people["case"]["id"])
    hits = dict(feeds.hits)
    assert hits == {"la": 1, "school": 1}

    second = await slots(staff, people["case"]["id"])

    assert dict(feeds.hits) == hits  # neither the good feed nor the broken one is asked again
    assert second["slots"] == first["slots"]
    assert second["calendar_errors"] == first["calendar_errors"]


async def test_slots_need_a_known_case_and_sane_numbers(staff: Staff) -> None:
    case = await make_case(staff)
    path = f"/api/v1/cases/{case['id']}/slots"
    await staff.call("GET", path + "?duration_minutes=0", expect=422)
    await staff.call("GET", path + "?limit=1000", expect=422)
    await staff.call("GET", path + "?duration_minutes=abc", expect=422)
    await staff.call("GET", "/api/v1/cases/not-a-case/slots", expect=404)
    await staff.call("GET", path, role=None, expect=401)
    # A mediator sees slots only for their own cases.
    await staff.call("GET", path, role="mediator", expect=404)
    # With no mediator, no calendars and no poll, office hours apply and everyone is unknown.
    found = await slots(staff, case["id"])
    assert found["slots"] and found["slots"][0]["start"] == "2026-03-09T09:00:00Z"


async def test_a_time_the_whole_family_answered_if_need_be_ranks_above_unasked_times(
    staff: Staff,
) -> None:
    made = await make_case(staff)
    await make_mediator(staff, made["id"])
    pat = await add_party(staff, made["id"], name="Pat Parent", email="pat@family.example")
    sam = await add_party(staff, made["id"], name="Sam Parent", email="sam@family.example")
    poll = await request_poll(staff, made["id"])
    answered = poll["candidates"][-1]  # the latest time offered, to make the point
    for email in ("pat@family.example", "sam@family.example"):
        link = await poll_link_for(staff, email)
        saved = await staff.client.post(
            link, data={field(answered): "if_need_be"}, allow_redirects=False
        )
        assert saved.status == 303

    found = await staff.call(
        "GET", f"/api/v1/cases/{made['id']}/slots?duration_minutes=180&limit=100", expect=200
    )

    assert len(found["slots"]) == 100
    best = found["slots"][0]
    assert best["start"] == answered
    assert best["parties"] == {pat["id"]: "if_need_be", sam["id"]: "if_need_be"}
    assert "Pat Parent: if need be" in best["explanation"]
    assert "Sam Parent: if need be" in best["explanation"]
    unasked = found["slots"][1]
    assert set(unasked["parties"].values()) == {"unknown"}
    assert "Pat Parent: no answer yet" in unasked["explanation"]
    for slot in found["slots"]:  # people are named, never by id
        assert pat["id"] not in slot["explanation"] and sam["id"] not in slot["explanation"]
