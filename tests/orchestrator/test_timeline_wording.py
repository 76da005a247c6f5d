"""The case timeline reads plainly: people by name and role in words, times in the case's zone.

Each kind of entry is made the way staff and parties make it (booking, moving, cancelling,
a poll answer, an invitation accepted and declined, an outcome, a certificate) and read
twice: the API's stored summary, which names nobody, and the case page, which names people.
Neither may show an id, a role code, "UTC" or an ISO timestamp.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.cases import retention
from orchestrator.cases.timeline import plain
from orchestrator.core.models import Case, Party, PartyRole, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator import availability_support as polls
from tests.orchestrator.invites_support import (
    book,
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.outcomes_support import held_meeting, mediator_for, open_case, record, utc
from tests.orchestrator.web_support import Browser, make_user

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tuesday 10 March, 10am in London (GMT)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # la_officer, in_person, if_need_be …
ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})")


def assert_plain(text: str) -> None:
    """No id, no role or status code, no UTC and no ISO date or time in ``text``."""
    assert not UUID.search(text), text
    assert not CODE.search(text), text
    assert "UTC" not in text, text
    assert not ISO.search(text), text


async def summaries(staff: Staff, case_id: str, *kinds: str) -> list[str]:
    """The API's summaries of the given kinds of entry, oldest first, each checked plain."""
    timeline = await staff.call("GET", f"/api/v1/cases/{case_id}/timeline", expect=200)
    found = [e["summary"] for e in timeline["entries"] if e["kind"] in kinds]
    assert found, f"no {kinds} entries"
    for summary in found:
        assert_plain(summary)
    return found


async def timeline_on_page(client: TestClient[Any, Any], case_id: str) -> list[str]:
    """What the scheduler reads in the case page's Timeline section, one line per entry."""
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    status, page = await browser.get(f"/staff/cases/{case_id}")
    assert status == 200
    section = page.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    lines = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
        for item in section.split("<li>")[1:]
    ]
    for line in lines:
        assert_plain(line)
    return lines


def rsvp_path(settings: Settings, to: str, answer: str) -> str:
    invite = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), to)[0]
    found = re.search(r"http://testserver\.local(/r/[^\s?]+)\?answer=" + answer, text_of(invite))
    assert found is not None
    return found.group(1)


async def test_booking_replies_moving_and_cancelling_read_plainly(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    for to, answer in (("zoe.carter@", "accepted"), ("bob.smith@", "declined")):
        saved = await client.post(
            rsvp_path(settings, to, answer), data={"answer": answer}, allow_redirects=False
        )
        assert saved.status == 303
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={"start": (START + timedelta(days=1)).isoformat(), "duration_minutes": 120},
        expect=200,
    )
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/cancel",
        json={"reason": "The family asked to postpone"},
        expect=200,
    )

    case_id = booked.case_id
    assert await summaries(staff, case_id, "meeting.booked") == [
        "Meeting booked for Tuesday 10 March, 10am, by video"
    ]
    assert await summaries(staff, case_id, "meeting.rescheduled") == [
        "Meeting moved to Wednesday 11 March, 10am, by video"
    ]
    assert sorted(await summaries(staff, case_id, "party.replied")) == [
        "A party (local authority) declined the invitation on the web page",
        "A party (parent or carer) accepted the invitation on the web page",
    ]  # made at the same moment, so in either order
    assert (await summaries(staff, case_id, "meeting.cancelled"))[0].startswith("Meeting cancelled")
    await summaries(staff, case_id, "invites.sent", "invites.cancelled", "party.added")

    page = await timeline_on_page(client, case_id)
    said = " | ".join(page)
    assert "Zoë Carter (parent or carer) accepted the invitation on the web page" in said
    assert "Bob Smith (local authority) declined the invitation on the web page" in said
    assert "Meeting booked for Tuesday 10 March, 10am, by video" in said
    assert "Meeting moved to Wednesday 11 March, 10am, by video" in said
    assert "Added Sam Adviser (SENDIASS)" in said


async def test_a_poll_answer_reads_plainly(client: TestClient[Any, Any], staff: Staff) -> None:
    made = await polls.make_case(staff)
    await polls.make_mediator(staff, made["id"], email="mo@mediation.example")
    await polls.add_party(
        staff, made["id"], role="la_officer", name="Kim Officer", email="kim@council.example"
    )
    poll = await polls.request_poll(staff, made["id"])
    link = await polls.poll_link_for(staff, "kim@council.example")
    first, second = poll["candidates"][:2]
    answered = await client.post(
        link,
        data={polls.field(first): "yes", polls.field(second): "if_need_be", "note": "Mornings"},
        allow_redirects=False,
    )
    assert answered.status == 303

    (summary,) = await summaries(staff, made["id"], "poll.answered")
    assert summary.startswith("A party (local authority) answered the poll: 1 yes, 1 if need be")
    await summaries(staff, made["id"], "availability.requested")
    page = " | ".join(await timeline_on_page(client, made["id"]))
    assert "Kim Officer (local authority) answered the poll: 1 yes, 1 if need be" in page


async def test_an_outcome_and_a_late_certificate_read_plainly(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    case, _ = await open_case(staff, clock, mediator_id=await mediator_for(staff))
    meeting_id = await held_meeting(staff, case["id"], start=utc(2026, 4, 2, 9))
    clock.set(utc(2026, 4, 2, 14))
    await record(staff, meeting_id, result="partial_agreement")
    clock.set(utc(2026, 4, 20, 10))  # after the three working days
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/certificates", json={"kind": "mediation"}, expect=201
    )

    (outcome,) = await summaries(staff, case["id"], "outcome.recorded")
    assert outcome.startswith("Outcome recorded: ")
    (issued,) = await summaries(staff, case["id"], "certificate.issued")
    assert "late (due Thursday 9 April 2026)" in issued
    assert "appeal deadline Wednesday 20 May 2026" in issued
    page = " | ".join(await timeline_on_page(client, case["id"]))
    assert "late (due Thursday 9 April 2026)" in page


async def test_someone_removed_from_the_case_is_still_named(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await make_case(staff)
    school = booked.party_ids["head@school.example"]
    await staff.call("DELETE", f"/api/v1/cases/{booked.case_id}/parties/{school}", expect=204)

    assert await summaries(staff, booked.case_id, "party.removed") == ["Removed a party (school)"]
    page = await timeline_on_page(client, booked.case_id)
    assert "Removed Ms Patel (school)" in " | ".join(page)


async def test_an_anonymised_case_timeline_names_nobody(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    declined = await client.post(
        rsvp_path(settings, "bob.smith@", "declined"),
        data={"answer": "declined"},
        allow_redirects=False,
    )
    assert declined.status == 303
    async with client.app[DB].write() as session:
        case = await session.get(Case, uuid.UUID(booked.case_id))
        assert case is not None
        await retention.anonymise_case(session, case=case, now=clock(), settings=settings)

    said = " | ".join(await timeline_on_page(client, booked.case_id))
    assert "Local authority 2 declined the invitation on the web page" in said
    for name in ("Zoë", "Carter", "Bob", "Smith", "Patel", "Adviser"):
        assert name not in said


# ---------------------------------------------------------------------------- rows as stored


def officer(name: str = "Kim Officer") -> Party:
    return Party(id=uuid.uuid4(), case_id=uuid.uuid4(), role=PartyRole.la_officer, name=name)


def read(summary: str, party: Party | None = None, **more: Any) -> str:
    facts: dict[str, Any] = {"kind": "party.replied", "details": None, "anonymised": False}
    facts.update(more)
    return plain(
        summary,
        party=party,
        zone="Europe/London",
        at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        **facts,
    )


def test_rows_written_before_the_plain_wording_are_put_into_words() -> None:
    said = read("A party (la_officer) declined the invitation (email)", officer())
    assert said == "Kim Officer (local authority) declined the invitation (email)"
    moved = read("Meeting moved to 2026-12-04 10:00 UTC (in_person)", kind="meeting.rescheduled")
    assert moved == "Meeting moved to Friday 4 December, 10am, in person"
    due = read("a party (school) will not take part. Certificate due by 2027-01-05")
    assert due == "a party (school) will not take part. Certificate due by Tuesday 5 January 2027"
    assert_plain(read("Sent a party (young_person) their poll link again"))


def test_a_move_is_said_from_its_stored_start_in_the_case_zone() -> None:
    # 10am in London in summer is 09:00 UTC; another year is named.
    details = {"start": "2027-06-04T09:00:00+00:00", "mode": "phone"}
    said = read("anything", kind="meeting.rescheduled", details=details)
    assert said == "Meeting moved to Friday 4 June 2027, 10am, by phone"


def test_an_anonymised_case_names_nobody() -> None:
    anonymous = officer(name="Local authority 2")
    said = read("A party (la_officer) accepted the invitation", anonymous, anonymised=True)
    assert said == "Local authority 2 accepted the invitation"
    assert "Kim" not in read("A party (local authority) declined", anonymous, anonymised=True)
