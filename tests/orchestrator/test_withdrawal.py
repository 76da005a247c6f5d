"""The family withdraws from their own link, or the LA cannot meet the 30 days: every
meeting is cancelled for everyone, and the certificate is due 3 working days later."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.settings import Settings
from orchestrator.web.keys import SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import mail_to, read_folder, text_of, with_method
from tests.orchestrator.meetings_support import book, deliver_outbox, ready_case
from tests.orchestrator.test_mias_calls import family_path
from tests.orchestrator.test_notify_texts import ALEX, notify_app

PEOPLE = ("parent", "la_officer", "young_person")
THURSDAY = "2026-03-05"  # 3 working days after the test clock's Monday 2 March 2026


async def test_the_family_withdraws_and_every_meeting_is_cancelled_for_everyone(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await notify_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=PEOPLE)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    mail_dir = client.app[SETTINGS].data_dir / "mail"
    path = await family_path(client, client.app[SETTINGS], "sam@family.example")

    confirm = await client.get(f"{path}/withdraw")
    assert "Are you sure you want to withdraw" in await confirm.text()
    still = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}", expect=200)
    assert still["status"] == "scheduled"  # opening the page changes nothing

    done = await client.post(
        f"{path}/withdraw", data={"reason": "We have decided to go to the Tribunal"}
    )
    assert done.status == 200
    page = await done.text()
    assert "You have withdrawn from mediation" in page
    assert "Thursday 5 March 2026" in page
    again = await client.post(f"{path}/withdraw", data={}, allow_redirects=False)
    assert again.status == 303  # pressed twice: nothing more happens

    cancelled = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}", expect=200)
    assert cancelled["status"] == "cancelled"
    case = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
    assert case["status"] == "outcome_recorded"
    assert case["deadlines"]["certificate_due"]["date"] == THURSDAY

    await deliver_outbox(client)
    mails = read_folder(mail_dir)
    for address in ("sam@family.example", "lee@kent.example"):
        assert len(with_method(mail_to(mails, address), "CANCEL")) == 1, address
    texts = [t.personalisation["body"] for t in fake.texts_to(ALEX)]
    assert len([t for t in texts if "is cancelled" in t]) == 1
    told = mail_to(mails, "scheduler@staff.example")
    assert len(told) == 1
    assert "certificate due by Thursday 5 March 2026" in str(told[0]["Subject"])
    assert "We have decided to go to the Tribunal" in text_of(told[0])
    timeline = await staff.call("GET", f"/api/v1/cases/{ready.case_id}/timeline", expect=200)
    summaries = " ".join(e["summary"] for e in timeline["entries"])
    assert "withdrew from mediation and asked for the certificate" in summaries

    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/certificates",
        json={"kind": "declined"},
        expect=201,
    )
    assert (certificate["event_date"], certificate["on_time"]) == ("2026-03-02", True)


async def test_staff_record_a_withdrawal_taken_by_phone_through_the_api(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    ready = await ready_case(staff)
    path = f"/api/v1/cases/{ready.case_id}/withdrawal"
    refused = await staff.call(
        "POST", path, json={"party_id": ready.parties["la_officer"]}, expect=422
    )
    assert "only the parent or young person" in refused["error"]["message"]
    case = await staff.call("POST", path, json={"party_id": ready.parties["parent"]}, expect=200)
    assert case["deadlines"]["certificate_due"]["date"] == THURSDAY
    await staff.call("POST", path, json={"party_id": ready.parties["parent"]}, expect=409)


async def test_the_la_saying_it_cannot_meet_30_days_starts_the_certificate_clock(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    path = f"/api/v1/cases/{ready.case_id}/la-cannot-meet-30-days"
    await staff.call("POST", path, json={"on": "2026-03-03"}, expect=422)  # tomorrow
    await staff.call("POST", path, json={"on": "0001-01-01"}, expect=422)  # before the referral
    case = await staff.call("POST", path, json={"on": "2026-03-02"}, expect=200)
    assert case["deadlines"]["certificate_due"]["date"] == THURSDAY
    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/certificates",
        json={"kind": "missed_30_days"},
        expect=201,
    )
    assert certificate["on_time"] is True
    mias = await ready_case(
        staff, reference="KIDS-MIAS-9", kind="mias", mediator_email="x@s.e", own_mediator=False
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{mias.case_id}/la-cannot-meet-30-days",
        json={"on": "2026-03-02"},
        expect=422,
    )
