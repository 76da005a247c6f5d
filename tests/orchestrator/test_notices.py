"""The other mail of a case: referral notice (statutory start), consent request, introduction."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.models import StaffRole
from orchestrator.settings import Settings
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    text_of,
)
from tests.orchestrator.web_support import Browser, make_user

LA = {"role": "la_officer", "name": "Bob Smith", "email": "bob.smith@council.example.gov.uk"}
PARENT = {"role": "parent", "name": "Zoë Carter", "email": "zoe.carter@family.example"}
SCHOOL = {"role": "school", "name": "Ms Patel", "email": "head@school.example"}


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
        "take part. Certificate due by 2026-03-05"
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
