"""The other mail of a case: referral notice (statutory start), consent request, introduction."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from pypdf import PdfReader
from sqlmodel import col, select

from orchestrator.core.models import Reminder, StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    book,
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.web_support import Browser, make_user

LA = {"role": "la_officer", "name": "Bob Smith", "email": "bob.smith@council.example.gov.uk"}
PARENT = {"role": "parent", "name": "Zoë Carter", "email": "zoe.carter@family.example"}
SCHOOL = {"role": "school", "name": "Ms Patel", "email": "head@school.example"}
HEALTH = {
    "role": "health",
    "name": "Dr Osei",
    "email": "osei@icb.example.nhs.uk",
    "required": False,
}
START = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)  # Thursday 12 March, ten days ahead


def consent_path(settings: Settings, address: str) -> str:
    """The "will you take part?" link this person was sent."""
    asks = [m for m in read_folder(settings.mail_dir) if "Will you take part" in str(m["Subject"])]
    (ask,) = mail_to(asks, address)
    found = re.search(r"http://testserver\.local(/c/\S+)", text_of(ask))
    assert found is not None
    return found.group(1)


async def pending_reminders(client: TestClient[Any, Any], meeting_id: str) -> int:
    async with client.app[DB].read() as session:
        rows = await session.scalars(
            select(Reminder.id).where(
                col(Reminder.meeting_id) == uuid.UUID(meeting_id),
                col(Reminder.sent_at).is_(None),
                col(Reminder.cancelled_at).is_(None),
            )
        )
        return len(rows.all())


async def test_referral_notice_goes_once_and_starts_the_30_days(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    clock.advance(days=3)  # 5 March: the referral date (20 February) is long gone
    booked = await make_case(staff, people=[PARENT, LA])
    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    # The statutory 30 days run from when the LA was told, not from the referral date.
    assert case["deadlines"]["statutory"]["date"] == "2026-04-04"
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/parties",
        json={**LA, "name": "Second Officer", "email": "second@council.example.gov.uk"},
        expect=201,
    )
    await deliver_mail(client)
    messages = read_folder(settings.mail_dir)
    notices = [m for m in messages if str(m["Subject"]).startswith("Request for mediation")]
    assert [str(m["To"]) for m in notices] == ["Bob Smith <bob.smith@council.example.gov.uk>"]
    assert "within 30 days" in text_of(notices[0]) and "5 March 2026" in text_of(notices[0])
    assert not mail_to(notices, "zoe.carter")


async def test_disagreement_resolution_asks_the_other_party_by_link(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await make_case(staff, people=[PARENT, SCHOOL], kind="disagreement_resolution")
    await deliver_mail(client)
    messages = read_folder(settings.mail_dir)
    asks = [m for m in messages if "Will you take part" in str(m["Subject"])]
    assert [str(m["To"]) for m in asks] == ["Ms Patel <head@school.example>"]
    found = re.search(r"http://testserver\.local(/c/\S+)", text_of(asks[0]))
    assert found is not None
    path = found.group(1)
    page = await client.get(path)
    assert page.status == 200 and "Will you take part" in await page.text()
    saved = await client.post(path, data={"answer": "yes"}, allow_redirects=False)
    assert saved.status == 303
    thanks = await client.get(saved.headers["Location"])
    assert "Yes, we will take part" in await thanks.text()
    assert (await client.post(path, data={"answer": "perhaps"})).status == 422
    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    assert case["referral_date"] == "2026-02-20"
    tampered = path[:-2] + ("zz" if not path.endswith("zz") else "yy")
    assert (await client.get(tampered)).status == 404


async def test_parties_are_told_a_mediator_will_contact_them(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    young = {
        "role": "young_person",
        "name": "Jo",
        "email": "jo@young.example",
        "easy_read": True,
    }
    booked = await make_case(staff, people=[PARENT, young])
    await deliver_mail(client)
    messages = read_folder(settings.mail_dir)
    intros = [m for m in messages if "mediator" in str(m["Subject"]).lower()]
    assert sorted(str(m["To"]) for m in intros) == [
        "Jo <jo@young.example>",
        "Zoë Carter <zoe.carter@family.example>",
    ]
    assert "Your mediator is Maya Mediator" in text_of(mail_to(intros, "jo@")[0])
    assert "Maya Mediator will be the mediator" in text_of(mail_to(intros, "zoe.carter@")[0])
    # Assigning the same mediator again sends nothing new.
    before = len(list(settings.mail_dir.glob("*.eml")))
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/mediator",
        json={"mediator_id": booked.mediator_id},
        expect=200,
    )
    await deliver_mail(client)
    assert len(list(settings.mail_dir.glob("*.eml"))) == before


async def test_a_no_to_disagreement_resolution_moves_the_case_on(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await make_case(staff, people=[PARENT, SCHOOL], kind="disagreement_resolution")
    await deliver_mail(client)
    asks = [m for m in read_folder(settings.mail_dir) if "Will you take part" in str(m["Subject"])]
    found = re.search(r"http://testserver\.local(/c/\S+)", text_of(asks[0]))
    assert found is not None
    saved = await client.post(found.group(1), data={"answer": "no"}, allow_redirects=False)
    assert saved.status == 303

    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    # Monday 2 March 2026: the certificate is due on the third working day, Thursday 5.
    assert case["status"] == "outcome_recorded"
    assert case["status_history"][-1]["cause"] == "consent_declined"
    assert case["deadlines"]["certificate_due"]["date"] == "2026-03-05"
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline", expect=200)
    assert any(
        e["summary"] == "Disagreement resolution cannot go ahead: a party (school) will not "
        "take part. Certificate due by Thursday 5 March 2026"
        for e in timeline["entries"]
    )

    # The scheduler sees it on the deadline board until the certificate goes.
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    _, board = await browser.get("/staff")
    assert "Certificate due Thu 5 Mar 2026" in board
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/certificates",
        json={"kind": "declined"},
        expect=201,
    )
    assert certificate["event_date"] == "2026-03-02"
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline", expect=200)
    assert any(
        e["summary"].startswith("Certificate: disagreement resolution did not take place CERT-")
        for e in timeline["entries"]
    )
    _, board = await browser.get("/staff")
    assert "Certificate due" not in board


async def test_assigning_the_mediator_from_the_case_page_introduces_them(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "PAGE-1",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    for person in (PARENT, LA):
        await staff.call("POST", f"/api/v1/cases/{case['id']}/parties", json=person, expect=201)
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo Ahmed")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    _, page = await browser.get(f"/staff/cases/{case['id']}")
    mediator_id = re.search(r'<option value="([0-9a-f-]{36})"[^>]*>Mo Ahmed', page)
    assert mediator_id
    await deliver_mail(client)
    before = {str(m["Subject"]) + str(m["To"]) for m in read_folder(settings.mail_dir)}

    assigned = await browser.post(
        f"/staff/cases/{case['id']}/mediator", {"mediator_id": mediator_id.group(1)}
    )
    assert assigned.status == 303
    await deliver_mail(client)
    intros = [
        m
        for m in read_folder(settings.mail_dir)
        if "mediator" in str(m["Subject"]).lower()
        and str(m["Subject"]) + str(m["To"]) not in before
    ]
    assert sorted(str(m["To"]) for m in intros) == [
        "Bob Smith <bob.smith@council.example.gov.uk>",
        "Zoë Carter <zoe.carter@family.example>",
    ]
    assert "Mo Ahmed will be the mediator" in text_of(mail_to(intros, "zoe.carter@")[0])


async def test_a_no_after_a_meeting_is_booked_cancels_it_for_everyone_and_is_final(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    booked = await make_case(staff, people=[PARENT, SCHOOL], kind="disagreement_resolution")
    await deliver_mail(client)
    path = consent_path(settings, "head@school.example")
    assert (await client.post(path, data={"answer": "yes"}, allow_redirects=False)).status == 303
    await book(staff, booked, START)
    await deliver_mail(client)
    requested = {str(m["To"]) for m in with_method(read_folder(settings.mail_dir), "REQUEST")}
    assert len(requested) == 3  # the parent, the school and the mediator
    assert await pending_reminders(client, booked.meeting_id) > 0

    # The school changes its mind, on the same link, later that morning.
    clock.advance(hours=2)
    saved = await client.post(path, data={"answer": "no"}, allow_redirects=False)
    assert saved.status == 303
    thanks = await (await client.get(saved.headers["Location"])).text()
    assert "No, we will not take part" in thanks
    assert "This answer is final" in thanks and "0333 006 2835" in thanks
    assert "Change your answer" not in thanks

    # Cancelled for everyone who was invited, as when staff cancel: a CANCEL each, no
    # reminders left, the reason on the meeting and on the timeline.
    await deliver_mail(client)
    cancelled = {str(m["To"]) for m in with_method(read_folder(settings.mail_dir), "CANCEL")}
    assert cancelled == requested
    assert await pending_reminders(client, booked.meeting_id) == 0
    meeting = await staff.call("GET", f"/api/v1/meetings/{booked.meeting_id}", expect=200)
    assert meeting["status"] == "cancelled"
    assert meeting["cancel_reason"] == "School will not take part"
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline", expect=200)
    summaries = [e["summary"] for e in timeline["entries"]]
    assert "Meeting cancelled: School will not take part" in summaries

    # The case moves straight on to its certificate (not back to finding a time).
    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    assert case["status"] == "outcome_recorded"
    assert [(h["from_status"], h["to_status"], h["cause"]) for h in case["status_history"]][-1] == (
        "booked",
        "outcome_recorded",
        "consent_declined",
    )
    assert case["deadlines"]["certificate_due"]["date"] == "2026-03-05"

    # What the scheduler sees: the board has the certificate due, the case page the
    # cancelled meeting and why.
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    _, board = await browser.get("/staff")
    assert "Certificate due Thu 5 Mar 2026" in board
    _, page = await browser.get(f"/staff/cases/{booked.case_id}")
    assert "Cancelled: School will not take part" in page
    assert "Meeting cancelled: School will not take part" in page

    # A later "yes" on the same link does not bring the case back: the page says the
    # answer is final and whom to call, and a stale form's "yes" is refused.
    again = await (await client.get(path)).text()
    assert "This answer is final" in again and "0333 006 2835" in again
    assert 'name="answer"' not in again
    clock.advance(hours=1)
    refused = await client.post(path, data={"answer": "yes"}, allow_redirects=False)
    assert refused.status == 409
    assert "the answer is final" in await refused.text()
    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    assert case["status"] == "outcome_recorded"

    # The declined certificate can be issued, and says who would not take part.
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/certificates",
        json={"kind": "declined"},
        expect=201,
    )
    response = await client.get(certificate["pdf_url"], headers=staff.headers("scheduler"))
    reader = PdfReader(io.BytesIO(await response.read()))
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
    assert "on 2 March 2026 the other party (School) said it would not take part" in text
    assert "decided not to go to mediation" not in text


async def test_an_optional_partys_no_leaves_the_meeting_booked(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    booked = await make_case(staff, people=[PARENT, SCHOOL, HEALTH], kind="disagreement_resolution")
    await book(staff, booked, START)
    await deliver_mail(client)
    path = consent_path(settings, "osei@icb.example.nhs.uk")
    saved = await client.post(path, data={"answer": "no"}, allow_redirects=False)
    assert saved.status == 303
    thanks = await (await client.get(saved.headers["Location"])).text()
    assert "This answer is final" not in thanks and "Change your answer" in thanks

    case = await staff.call("GET", f"/api/v1/cases/{booked.case_id}", expect=200)
    assert case["status"] == "booked"
    assert case["deadlines"]["certificate_due"] is None
    meeting = await staff.call("GET", f"/api/v1/meetings/{booked.meeting_id}", expect=200)
    assert meeting["status"] == "scheduled"
    # They may still change their mind.
    clock.advance(hours=1)
    changed = await client.post(path, data={"answer": "yes"}, allow_redirects=False)
    assert changed.status == 303
    assert "Yes, we will take part" in await (await client.get(changed.headers["Location"])).text()
