"""A young person over compulsory school age refers themselves: they are the addressee, the
invitations and the certificate name them, and their parent comes only if they ask."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from pypdf import PdfReader

from orchestrator.core.settings import Settings
from orchestrator.web.keys import SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    ALWAYS,
    Booked,
    book,
    deliver_mail,
    mail_to,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.meetings_support import deliver_outbox
from tests.orchestrator.test_notify_texts import notify_app

YOUNG = "jordan.lee@young.example"
PARENT = "sam.lee@family.example"
# Jordan is 17: born October 2008, over compulsory school age since Friday 27 June 2025.
JORDAN: dict[str, Any] = {
    "who": "young_person",
    "name": "Jordan Lee",
    "date_of_birth": "2008-10-15",
    "contact_by": "email",
    "email": YOUNG,
    "local_authority": "Kent",
    "issues": ["education"],
    "wants": "mediation",
    # Parent's details typed, but Jordan did not ask for them to come: not kept.
    "invite_parent": False,
    "parent_name": "Sam Lee",
    "parent_email": PARENT,
}
START = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)


async def accept(staff: Staff, body: dict[str, Any], reference: str) -> dict[str, Any]:
    response = await staff.client.post("/api/v1/referrals", json=body)
    assert response.status == 202
    listed = await staff.call("GET", "/api/v1/referrals", expect=200)
    referral = next(r for r in listed["referrals"] if r["name"] == body["name"])
    assert referral["young_person_since"] == "2025-06-27"
    # Only the day they became a young person is kept: no birth date, no parent's details.
    assert "date_of_birth" not in referral
    assert (referral["parent_email"] is None) is not body["invite_parent"]
    return dict(
        await staff.call(
            "POST",
            f"/api/v1/referrals/{referral['id']}/accept",
            json={"reference": reference},
            expect=200,
        )
    )


def mails(staff: Staff) -> list[Any]:
    return read_folder(staff.client.app[SETTINGS].mail_dir)


async def test_a_17_year_old_is_the_addressee_and_chooses_who_comes(
    staff: Staff, clock: MutableClock
) -> None:
    case = await accept(staff, JORDAN, "KIDS-YP-1")
    parties = (await staff.call("GET", f"/api/v1/cases/{case['id']}/parties"))["parties"]
    assert [(p["role"], p["name"]) for p in parties] == [("young_person", "Jordan Lee")]

    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={"name": "Maya Mediator", "email": "maya@service.example", "working_hours": ALWAYS},
        expect=201,
    )
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/mediator", json={"mediator_id": mediator["id"]}
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/parties",
        json={"role": "la_officer", "name": "Bob Smith", "email": "bob@council.example.gov.uk"},
        expect=201,
    )
    await book(staff, Booked(case_id=case["id"], mediator_id=mediator["id"]), START)
    await deliver_mail(staff.client)
    # The invitation goes to Jordan; the parent, not asked for, gets nothing at all.
    assert len(with_method(mail_to(mails(staff), YOUNG), "REQUEST")) == 1
    assert mail_to(mails(staff), PARENT) == []

    # Jordan's acknowledgement carries their own "Who would you like to bring?" link.
    (ack,) = [m for m in mail_to(mails(staff), YOUNG) if "referral" in str(m["Subject"])]
    found = re.search(r"http://testserver\.local(/b/\S+)", text_of(ack))
    assert found is not None
    page = await staff.client.get(found.group(1))
    assert page.status == 200 and "Who would you like to bring?" in await page.text()
    refused = await staff.client.post(found.group(1), data={"role": "parent", "name": "Sam Lee"})
    assert refused.status == 422 and "so we can invite them" in await refused.text()
    added = await staff.client.post(
        found.group(1),
        data={"role": "parent", "name": "Sam Lee", "email": PARENT},
        allow_redirects=False,
    )
    assert added.status == 303
    # Now Jordan asked: the parent is on the case, as a supporter, and is invited.
    parties = (await staff.call("GET", f"/api/v1/cases/{case['id']}/parties"))["parties"]
    parent = next(p for p in parties if p["role"] == "parent")
    assert parent["name"] == "Sam Lee" and parent["required"] is False
    await deliver_mail(staff.client)
    assert len(with_method(mail_to(mails(staff), PARENT), "REQUEST")) == 1
    # The link is Jordan's own: an edited one opens nothing.
    assert (await staff.client.get(found.group(1)[:-3] + "xyz")).status == 404


async def test_a_young_person_who_asks_for_their_parent_gets_them_invited(staff: Staff) -> None:
    case = await accept(
        staff,
        {**JORDAN, "invite_parent": True, "wants": "disagreement_resolution"},
        "KIDS-YP-2",
    )
    parties = (await staff.call("GET", f"/api/v1/cases/{case['id']}/parties"))["parties"]
    assert [(p["role"], p["email"]) for p in parties] == [
        ("young_person", YOUNG),
        ("parent", PARENT),
    ]


async def test_the_certificate_names_the_young_person(staff: Staff) -> None:
    case = await accept(staff, {**JORDAN, "wants": "mias_certificate"}, "KIDS-YP-3")
    assert case["kind"] == "mias"
    await deliver_mail(staff.client)
    (ack,) = [m for m in mail_to(mails(staff), YOUNG) if "referral" in str(m["Subject"])]
    assert "within 3 working days of that call" in " ".join(text_of(ack).split())
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/certificates",
        json={"kind": "mias", "event_date": "2026-02-26"},
        expect=201,
    )
    response = await staff.client.get(
        str(certificate["pdf_url"]), headers=staff.headers("scheduler")
    )
    reader = PdfReader(io.BytesIO(await response.read()))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert "Jordan Lee, the young person, received information and advice about mediation" in text


async def test_a_young_person_not_yet_over_school_age_is_asked_to_have_a_parent_refer(
    staff: Staff,
) -> None:
    # Born 1 September 2010: over compulsory school age only from Friday 25 June 2027.
    response = await staff.client.post(
        "/api/v1/referrals", json={**JORDAN, "date_of_birth": "2010-09-01"}
    )
    assert response.status == 422
    assert (await response.json())["error"]["details"] == {"field": "date_of_birth"}
    assert (await staff.call("GET", "/api/v1/referrals"))["referrals"] == []


async def test_a_young_person_reached_by_phone_gets_the_acknowledgement_by_text(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    by_phone = {**JORDAN, "contact_by": "phone", "email": None, "phone": "07700 900 123"}
    await accept(staff, by_phone, "KIDS-YP-4")
    await deliver_outbox(client)
    (text,) = fake.texts_to("+447700900123")
    body = text.personalisation["body"]
    assert "we have your referral" in body
    assert "We aim to hold the meeting by Saturday 4 April 2026" in body
    short = re.search(r"https?://[^/\s]+(/b/\S+)", body)
    assert short is not None and len(short.group(1)) < 60  # their own link, short
    page = await client.get(short.group(1))
    assert page.status == 200 and "Who would you like to bring?" in await page.text()
    assert "KIDS-YP-4" not in body and "Jordan" not in body  # texts name no one
