"""A case's clocks through the real app: where each starts, what moves it, what is refused."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import (
    LA_OFFICER,
    PARENT,
    held_meeting,
    mediator_for,
    record,
    utc,
)
from tests.orchestrator.web_support import Browser, make_user

REFERRAL = {
    "reference": "KIDS-2026-0450",
    "kind": "mediation",
    "local_authority": "Kent",
    "referral_date": "2026-10-20",  # the family said go ahead on Tuesday 20 October
}


async def refer(staff: Staff, **extra: Any) -> dict[str, Any]:
    case: dict[str, Any] = await staff.call(
        "POST", "/api/v1/cases", json={**REFERRAL, **extra}, expect=201
    )
    return case


async def test_adding_the_la_officer_late_does_not_restart_the_target(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))  # Friday 4 December: target and statutory both overdue
    case = await refer(staff)
    before = case["deadlines"]
    assert before["target"] == {"date": "2026-11-22", "days_left": -12, "level": "overdue"}
    assert before["statutory"]["date"] == "2026-11-19"  # not told yet: from the go-ahead
    assert case["la_notified_on"] is None

    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=PARENT, expect=201)
    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=LA_OFFICER, expect=201)
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)

    # The referral notice went today. The provider's 33 days still run from 20 October;
    # the statutory 30 from today: 27 days left in December + 3 = Sunday 3 January 2027.
    assert shown["deadlines"]["target"] == before["target"]
    assert shown["deadlines"]["statutory"] == {"date": "2027-01-03", "days_left": 30, "level": "ok"}
    assert shown["referral_date"] == "2026-10-20"
    assert shown["la_notified_on"] == "2026-12-04"
    assert shown["la_notice_delay_days"] == 45  # 11 days of October, 30 of November, 4

    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    status, page = await browser.get(f"/staff/cases/{case['id']}")
    assert status == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Family said go ahead Tue 20 Oct 2026" in text
    assert "Local authority told Fri 4 Dec 2026 Late notice 45 days after the go-ahead" in text
    assert "Target Sun 22 Nov 2026 Overdue 12 days overdue" in text
    assert "Statutory 30 days Sun 3 Jan 2027 On track 30 days left" in text


async def test_reports_count_days_to_the_meeting_from_the_go_ahead(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 11, 10, 10))  # the LA is told three weeks after the go-ahead
    case = await refer(staff)
    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=LA_OFFICER, expect=201)
    mediator_id = await mediator_for(staff)
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/mediator",
        json={"mediator_id": str(mediator_id)},
        expect=200,
    )
    # Held on Monday 30 November: 41 days after the go-ahead (over the 33-day target),
    # 20 days after the notice (within the statutory 30).
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 11, 30, 10))
    clock.set(utc(2026, 11, 30, 15))
    await record(staff, meeting_id, result="agreement")
    report = await staff.call(
        "GET", "/api/v1/reports/summary?from=2026-11-01&to=2026-11-30", expect=200
    )
    total = report["total"]
    assert total["meetings_held"] == 1
    assert total["median_days_to_meeting"] == 41
    assert (total["within_target"], total["within_30_days"]) == (0, 1)


async def test_health_in_issue_puts_the_icb_notice_clock_on_the_case(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))
    case = await refer(staff, health_in_issue=True)
    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=LA_OFFICER, expect=201)
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    # Told on Friday 4 December: Mon 7, Tue 8, Wed 9.
    assert shown["health_in_issue"] is True
    assert shown["deadlines"]["health_notice"] == {
        "date": "2026-12-09",
        "days_left": 5,
        "level": "amber",
        "done_on": None,
    }
    # Health provision not in issue: no such clock; and it can be said later.
    other = await refer(staff, reference="KIDS-2026-0451")
    assert other["deadlines"]["health_notice"] is None
    changed = await staff.call(
        "PATCH", f"/api/v1/cases/{other['id']}", json={"health_in_issue": True}, expect=200
    )
    assert changed["deadlines"]["health_notice"]["date"] == "2026-10-23"  # from the go-ahead
    refused = await staff.call(
        "PATCH", f"/api/v1/cases/{other['id']}", json={"health_in_issue": None}, expect=422
    )
    (error,) = refused["error"]["details"]
    assert error["loc"][-1] == "health_in_issue" and "not set to null" in error["msg"]


async def test_recording_that_the_icb_was_told_stops_its_clock(
    staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))
    case = await refer(staff, health_in_issue=True)
    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=LA_OFFICER, expect=201)
    path = f"/api/v1/cases/{case['id']}"

    refused = await staff.call("PATCH", path, json={"icb_notified_on": "2026-12-05"}, expect=422)
    assert refused["error"]["message"] == (
        "icb_notified_on cannot be in the future: it is the day the ICB was told"
    )
    assert refused["error"]["details"] == {"field": "icb_notified_on"}
    refused = await staff.call("PATCH", path, json={"local_authority": None}, expect=422)
    assert [error["loc"] for error in refused["error"]["details"]] == [["local_authority"]]
    shown = await staff.call("GET", path, expect=200)
    assert shown["icb_notified_on"] is None and shown["local_authority"] == "Kent"

    told = await staff.call("PATCH", path, json={"icb_notified_on": "2026-12-04"}, expect=200)
    assert told["icb_notified_on"] == "2026-12-04"
    assert told["deadlines"]["health_notice"] == {
        "date": "2026-12-09",
        "days_left": 5,
        "level": "met",
        "done_on": "2026-12-04",
    }
    clock.set(utc(2026, 12, 21, 10))  # long after the deadline: met, not overdue
    shown = await staff.call("GET", path, expect=200)
    assert shown["deadlines"]["health_notice"]["level"] == "met"

    # Told two working days late; then the record taken back (a mistake): overdue again.
    late = await staff.call("PATCH", path, json={"icb_notified_on": "2026-12-11"}, expect=200)
    assert late["deadlines"]["health_notice"] == {
        "date": "2026-12-09",
        "days_left": -2,
        "level": "late",
        "done_on": "2026-12-11",
    }
    undone = await staff.call("PATCH", path, json={"icb_notified_on": None}, expect=200)
    assert undone["icb_notified_on"] is None
    assert undone["deadlines"]["health_notice"]["level"] == "overdue"
    timeline = await staff.call("GET", f"{path}/timeline", expect=200)
    assert "Case details changed: icb notified on" in [e["summary"] for e in timeline["entries"]]

    # No health in issue, no ICB to tell.
    other = await refer(staff, reference="KIDS-2026-0452")
    refused = await staff.call(
        "PATCH", f"/api/v1/cases/{other['id']}", json={"icb_notified_on": "2026-12-04"}, expect=422
    )
    assert "health care provision in issue" in refused["error"]["message"]


async def test_the_case_page_records_that_the_icb_was_told(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))
    case = await refer(staff, health_in_issue=True)
    await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=LA_OFFICER, expect=201)
    clock.set(utc(2026, 12, 10, 10))  # Thursday 10 December: a day past the deadline
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    page_url = f"/staff/cases/{case['id']}"
    _, page = await browser.get(page_url)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "LA tells health (ICB) Wed 9 Dec 2026 Overdue 1 day overdue" in text
    assert "Health commissioners (ICB) told Not recorded yet" in text
    # The three-box date (GOV.UK date input), today filled in.
    for box, value in (("day", "10"), ("month", "12"), ("year", "2026")):
        assert re.search(rf'name="icb_notified_on-{box}" type="text" value="{value}"', page), box

    form = f"{page_url}/icb-notice"
    for value, message in (
        ("2026-12-11", "The date the ICB was told must be today or in the past"),
        ("", "Enter the date the ICB was told"),
        ("10 December", "The date the ICB was told must be a real date"),
    ):
        response = await browser.post(form, {"icb_notified_on": value})
        assert response.status == 422, value
        answer = await response.text()
        assert 'id="icb_notified_on-error"' in answer and message in answer, value
    # The summary links to the first empty box, else the day box.
    for boxes, message, first_wrong in (
        ({"day": "11", "month": "12", "year": "2026"}, "must be today or in the past", "day"),
        (
            {"day": "10", "month": "", "year": "2026"},
            "The date the ICB was told must include a month",
            "month",
        ),
        (
            {"day": "31", "month": "2", "year": "2026"},
            "The date the ICB was told must be a real date",
            "day",
        ),
    ):
        posted = {f"icb_notified_on-{box}": value for box, value in boxes.items()}
        response = await browser.post(form, posted)
        assert response.status == 422, boxes
        answer = await response.text()
        assert 'id="icb_notified_on-error"' in answer and message in answer, boxes
        assert "<title>Error: " in answer and f'href="#icb_notified_on-{first_wrong}"' in answer
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["icb_notified_on"] is None

    response = await browser.post(form, {"icb_notified_on": "2026-12-10"})
    assert response.status == 303
    _, page = await browser.get(response.headers["Location"].split("#")[0])
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "LA tells health (ICB) Wed 9 Dec 2026 Done late Thu 10 Dec 2026, 1 day late" in text
    assert "Health commissioners (ICB) told Thu 10 Dec 2026" in text
    assert "LA tells health (ICB) Wed 9 Dec 2026 Overdue" not in text


async def test_future_decision_and_referral_dates_are_refused(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))
    for field in ("decision_date", "referral_date"):
        refused = await staff.call(
            "POST",
            "/api/v1/cases",
            json={**REFERRAL, "reference": f"KIDS-{field}", field: "2026-12-05"},
            expect=422,
        )
        assert refused["error"]["code"] == "validation_failed"
        assert f"{field} cannot be in the future" in refused["error"]["message"]
    listed = await staff.call("GET", "/api/v1/cases", expect=200)
    assert listed["cases"] == []  # nothing half-written

    case = await refer(staff, decision_date="2026-10-01")
    refused = await staff.call(
        "PATCH", f"/api/v1/cases/{case['id']}", json={"decision_date": "2027-01-10"}, expect=422
    )
    assert "decision_date cannot be in the future" in refused["error"]["message"]
    shown = await staff.call("GET", f"/api/v1/cases/{case['id']}", expect=200)
    assert shown["decision_date"] == "2026-10-01"

    # The form says so beside the field.
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    response = await browser.post(
        "/staff/cases/new",
        {**REFERRAL, "reference": "KIDS-FORM", "decision_date": "2026-12-25"},
    )
    assert response.status == 422
    page = await response.text()
    assert 'id="decision_date-error"' in page
    assert "The decision date must be today or in the past" in page


async def test_the_referral_form_says_health_is_in_issue(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    clock.set(utc(2026, 12, 4, 10))
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    response = await browser.post("/staff/cases/new", {**REFERRAL, "health_in_issue": "yes"})
    assert response.status == 303, await response.text()
    status, page = await browser.get(response.headers["Location"].split("?")[0])
    assert status == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    # Not told yet: 3 working days from the go-ahead, Tue 20 Oct -> Fri 23 Oct.
    assert "LA tells health (ICB) Fri 23 Oct 2026 Overdue 42 days overdue" in text
    assert "Health care provision In issue" in text
    assert "Local authority told Not yet" in text
