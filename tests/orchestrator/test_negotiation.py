"""Asking parties when they can meet: who gets a poll, what it offers, what the email says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from orchestrator.core.models import (
    Case,
    CaseStatus,
    Party,
    Poll,
    PollResponse,
    StaffRole,
    TimelineEntry,
)
from orchestrator.scheduling import poll_requests
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.availability_support import (
    FeedServer,
    add_party,
    feeds_fixture,  # noqa: F401 - the ``feeds`` fixture
    html_of,
    link_path,
    make_case,
    make_mediator,
    poll_emails,
    request_poll,
    text_of,
)
from tests.orchestrator.web_support import Browser, make_user

LONDON = ZoneInfo("Europe/London")


def local(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(LONDON)


async def test_only_parties_without_a_calendar_and_with_an_email_are_polled(
    staff: Staff,
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    parent = await add_party(staff, case["id"], name="Pat Parent", email="pat@family.example")
    school = await add_party(
        staff,
        case["id"],
        role="school",
        name="Sam Senco",
        email="senco@school.example",
        calendar={"ics_url": "https://calendar.school.example/senco.ics"},
    )
    la = await add_party(
        staff, case["id"], role="la_officer", name="Lee Officer", email=None, phone="01632 960001"
    )

    answer = await request_poll(staff, case["id"])

    assert [p["party_id"] for p in answer["polled"]] == [parent["id"]]
    assert {p["party_id"]: p["reason"] for p in answer["not_polled"]} == {
        school["id"]: "calendar",
        la["id"]: "no_email",
    }
    sent = await poll_emails(staff)
    assert [to for to, _ in sent] == [["pat@family.example"]]
    message = sent[0][1]
    assert message["Subject"] == "Please tell us when you can meet"
    body = text_of(message)
    assert "Dear Pat Parent" in body
    assert "0333 006 2835" in body  # the help line
    assert link_path(message) in html_of(message)
    # Nothing about anyone else on the case.
    for other in ("Sam Senco", "Lee Officer", "senco@school.example", "KIDS-2026-0100"):
        assert other not in body
        assert other not in html_of(message)

    async with staff.client.app[DB].read() as session:
        stored = await session.get(Case, uuid.UUID(case["id"]))
        assert stored is not None and stored.status is CaseStatus.negotiating
        responses = (await session.scalars(select(PollResponse))).all()
        assert [(str(r.party_id), r.answered_at) for r in responses] == [(parent["id"], None)]
        kinds = (await session.scalars(select(TimelineEntry.kind))).all()
        assert "availability.requested" in kinds


async def test_candidates_are_coarse_times_in_working_hours_after_the_notice(
    staff: Staff,
) -> None:
    case = await make_case(staff)
    # The mediator works Monday to Thursday.
    await make_mediator(
        staff, case["id"], working_hours={str(d): ["09:00", "17:00"] for d in range(1, 5)}
    )
    await add_party(staff, case["id"])

    answer = await request_poll(staff, case["id"])

    starts = [local(c) for c in answer["candidates"]]
    assert 0 < len(starts) <= 20
    assert {(s.hour, s.minute) for s in starts} == {(9, 30), (13, 0)}
    assert all(s.weekday() < 4 for s in starts)  # no Fridays, no weekends
    # Today is Monday 2 March: the family must hear 5 working days ahead, so not before the 9th.
    assert min(starts).date().isoformat() == "2026-03-09"
    assert starts == sorted(starts)
    assert answer["timezone"] == "Europe/London"


async def test_bank_holidays_are_never_offered(staff: Staff) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"])

    answer = await request_poll(
        staff,
        case["id"],
        window_start="2026-04-01T00:00:00+01:00",
        window_end="2026-04-09T00:00:00+01:00",
    )

    days = sorted({local(c).date().isoformat() for c in answer["candidates"]})
    # Good Friday (3 April) and Easter Monday (6 April) are bank holidays in England.
    assert days == ["2026-04-01", "2026-04-02", "2026-04-07", "2026-04-08"]
    # After the clocks change, 09:30 in London is 08:30 UTC.
    assert "2026-04-01T08:30:00Z" in answer["candidates"]


async def test_existing_sessions_of_the_mediator_are_not_offered(staff: Staff) -> None:
    from tests.orchestrator.availability_support import add_meeting

    case = await make_case(staff)
    mediator = await make_mediator(staff, case["id"])
    other = await make_case(staff, reference="OTHER-1")
    await add_party(staff, case["id"])
    await add_meeting(
        staff,
        mediator_id=mediator["id"],
        case_id=other["id"],
        start=datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
    )

    answer = await request_poll(staff, case["id"])

    days = {local(c).date().isoformat() for c in answer["candidates"]}
    assert "2026-03-09" in days
    assert "2026-03-10" not in days  # one session a day, and that day is taken


async def test_a_new_request_replaces_the_old_poll_and_its_links(
    staff: Staff, clock: MutableClock
) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"])
    first = await request_poll(staff, case["id"])
    old_link = link_path((await poll_emails(staff))[0][1])
    clock.advance(hours=1)

    second = await request_poll(staff, case["id"], duration_minutes=120)

    assert second["poll_id"] != first["poll_id"]
    sent = await poll_emails(staff)
    assert len(sent) == 2
    new_link = link_path(sent[1][1])
    assert new_link != old_link
    gone = await staff.client.get(old_link)
    assert gone.status == 404
    assert "withdrawn" in await gone.text()
    assert (await staff.client.get(new_link)).status == 200
    async with staff.client.app[DB].read() as session:
        old = await session.get(Poll, uuid.UUID(first["poll_id"]))
        assert old is not None and old.closed_at is not None


async def test_poll_link_url_gives_reminders_the_same_link(staff: Staff) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    party = await add_party(staff, case["id"])
    answer = await request_poll(staff, case["id"])
    emailed = link_path((await poll_emails(staff))[0][1])

    app = staff.client.app
    async with app[DB].write() as session:
        poll = await session.get(Poll, uuid.UUID(answer["poll_id"]))
        person = await session.get(Party, uuid.UUID(party["id"]))
        assert poll is not None and person is not None
        url = await poll_requests.poll_link_url(session, poll, person, app[SETTINGS])

    assert url == "http://testserver.local" + emailed


async def test_only_schedulers_ask_and_bad_requests_are_refused(staff: Staff) -> None:
    case = await make_case(staff)
    path = f"/api/v1/cases/{case['id']}/availability-requests"
    await staff.call("POST", path, role="mediator", json={"duration_minutes": 180}, expect=403)
    await staff.call("POST", path, json={"duration_minutes": 5}, expect=422)
    await staff.call("POST", path, json={}, expect=422)
    await staff.call(
        "POST", f"/api/v1/cases/{uuid.uuid4()}/availability-requests",
        json={"duration_minutes": 180}, expect=404,
    )  # fmt: skip
    nothing = await staff.call(
        "POST",
        path,
        json={
            "duration_minutes": 180,
            "window_start": "2026-03-07T00:00:00Z",  # a weekend only
            "window_end": "2026-03-08T23:00:00Z",
        },
        expect=422,
    )
    assert "no time" in nothing["error"]["message"]
    async with staff.client.app[DB].read() as session:
        assert (await session.scalars(select(Poll).where(col(Poll.id).is_not(None)))).all() == []


ALL_DAY_TUESDAY = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//feeds//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:away@feeds.test\r\nDTSTAMP:20260101T000000Z\r\n"
    b"DTSTART;VALUE=DATE:20260310\r\nDTEND;VALUE=DATE:20260311\r\n"
    b"SUMMARY:Training day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_candidates_respect_the_mediators_calendar_and_the_parties_rules(
    staff: Staff, feeds: FeedServer
) -> None:
    feeds.feeds["mediator"] = ALL_DAY_TUESDAY  # Tuesday 10 March: an all-day event
    case = await make_case(staff)
    await make_mediator(staff, case["id"], calendar={"ics_url": feeds.url("mediator")})
    await add_party(staff, case["id"])
    await add_party(
        staff, case["id"], role="school", name="Sam Senco", email="senco@school.example",
        rules={"excluded_weekdays": [3]},  # never on Wednesdays
    )  # fmt: skip

    answer = await request_poll(staff, case["id"])

    days = {local(c).date() for c in answer["candidates"]}
    assert days, "some times are still offered"
    assert not [d for d in days if d.weekday() == 2], "a Wednesday was offered to the school"
    assert datetime(2026, 3, 10).date() not in days  # the mediator is away all day
    assert datetime(2026, 3, 9).date() in days


async def test_a_window_of_centuries_is_refused_at_once(staff: Staff) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"], role="parent", name="Sam", email="sam@family.example")
    refused = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/availability-requests",
        json={
            "duration_minutes": 132,
            "window_start": "0541-12-07T14:40:30Z",
            "window_end": "7390-11-29T12:21:26Z",
        },
        expect=422,
    )
    assert "at most 180 days" in refused["error"]["message"]


async def test_a_case_whose_target_is_further_off_than_the_cap_can_still_be_polled(
    staff: Staff,
) -> None:
    # A target of 365 days (the most a case may have) lies beyond the 180-day cap: the
    # default window looks as far as the cap, it does not refuse the poll outright.
    case = await make_case(staff, target_days=365)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"], role="parent", name="Sam", email="sam@family.example")

    answer = await request_poll(staff, case["id"])

    assert answer["candidates"]
    start = datetime.fromisoformat(answer["window_start"])
    end = datetime.fromisoformat(answer["window_end"])
    assert (end - start).days <= 180
    # A window the caller chose is never trimmed: one longer than the cap is refused.
    refused = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/availability-requests",
        json={"duration_minutes": 180, "window_end": "2027-03-01T00:00:00Z"},
        expect=422,
    )
    assert "at most 180 days" in refused["error"]["message"]


async def test_the_staff_page_polls_a_case_whose_target_is_further_off_than_the_cap(
    staff: Staff,
) -> None:
    case = await make_case(staff, target_days=365)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"], role="parent", name="Sam", email="sam@family.example")
    await make_user(staff.client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(staff.client)
    await browser.sign_in("sam@staff.example")

    asked = await browser.post(
        f"/staff/cases/{case['id']}/availability", {"duration_minutes": "180"}
    )

    assert asked.status == 303, await asked.text()
    assert "notice=asked" in asked.headers["Location"]
    assert [to for to, _ in await poll_emails(staff)] == [["sam@family.example"]]


async def test_a_window_starting_years_ahead_is_refused_at_once(staff: Staff) -> None:
    case = await make_case(staff)
    await make_mediator(staff, case["id"])
    await add_party(staff, case["id"], role="parent", name="Sam", email="sam@family.example")
    path = f"/api/v1/cases/{case['id']}/availability-requests"

    for window in (
        {"window_start": "9999-12-31T23:00:00Z"},
        {"window_start": "9999-12-01T00:00:00Z", "window_end": "9999-12-31T23:59:59Z"},
        {"window_start": "2126-03-10T09:00:00Z"},
    ):
        refused = await staff.call(
            "POST", path, json={"duration_minutes": 180, **window}, expect=422
        )
        assert "at most 180 days ahead" in refused["error"]["message"]
    assert await poll_emails(staff) == []
