"""A family's own referral by the API: open to anyone, checked, limited, and the same answer
for everyone; schedulers accept it into a case (with an acknowledgement) or decline it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.cases import retention
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import deliver_mail, mail_to, read_folder, text_of

PARENT_REFERRAL: dict[str, Any] = {
    "who": "parent_carer",
    "name": "Zoë Carter",
    "contact_by": "email",
    "email": "zoe.carter@family.example",
    "best_times": "weekday mornings",
    "local_authority": "Kent",
    "decision_date": "2026-02-10",
    "issues": ["education", "health"],
    "wants": "mediation",
}


async def refer(client: TestClient[Any, Any], body: dict[str, Any]) -> tuple[int, Any]:
    response = await client.post("/api/v1/referrals", json=body)
    data = await response.json() if response.content_type == "application/json" else None
    return response.status, data


async def test_a_parent_refers_and_a_scheduler_accepts_it_into_a_case(
    staff: Staff, clock: MutableClock
) -> None:
    status, answer = await refer(staff.client, PARENT_REFERRAL)
    assert status == 202
    assert answer["received"] is True and "contact you" in answer["message"]

    (waiting,) = (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"]
    assert waiting["name"] == "Zoë Carter" and waiting["status"] == "new"
    assert waiting["referral_date"] == "2026-03-02"  # the day they asked (the clock's today)
    assert "website" not in waiting and "date_of_birth" not in waiting

    clock.advance(days=1)  # the scheduler accepts it the next day
    case = await staff.call(
        "POST",
        f"/api/v1/referrals/{waiting['id']}/accept",
        json={"reference": "KIDS-SELF-1"},
        expect=200,
    )
    # The go-ahead is the day the family asked, not the day it was accepted.
    assert case["referral_date"] == "2026-03-02"
    assert case["deadlines"]["target"]["date"] == "2026-04-04"  # + 33 days
    assert case["health_in_issue"] is True and case["decision_date"] == "2026-02-10"
    parties = await staff.call("GET", f"/api/v1/cases/{case['id']}/parties", expect=200)
    assert [(p["role"], p["email"]) for p in parties["parties"]] == [
        ("parent", "zoe.carter@family.example")
    ]
    assert (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"] == []

    await deliver_mail(staff.client)
    to_parent = mail_to(read_folder(staff.client.app[SETTINGS].mail_dir), PARENT_REFERRAL["email"])
    (ack,) = [m for m in to_parent if "referral" in str(m["Subject"])]  # beside their own page
    words = " ".join(text_of(ack).split())
    assert "KIDS-SELF-1" in words
    assert "by Saturday 4 April 2026" in words  # the target
    assert "that is by Wednesday 1 April 2026" in words  # the statutory 30 days
    # Accepting twice opens no second case.
    await staff.call(
        "POST",
        f"/api/v1/referrals/{waiting['id']}/accept",
        json={"reference": "KIDS-SELF-2"},
        expect=409,
    )


async def test_bad_referrals_are_refused_with_a_clear_4xx(
    staff: Staff, clock: MutableClock
) -> None:
    async def refused(body: dict[str, Any]) -> int:
        clock.advance(minutes=10)  # each on a fresh budget: this is about the checks
        return (await refer(staff.client, body))[0]

    assert await refused({}) == 422
    # contact by email with no address; a letter with no address
    assert await refused({**PARENT_REFERRAL, "email": None}) == 422
    assert await refused({**PARENT_REFERRAL, "contact_by": "letter"}) == 422
    assert await refused({**PARENT_REFERRAL, "issues": []}) == 422
    assert await refused({**PARENT_REFERRAL, "wants": "tribunal"}) == 422
    assert await refused({**PARENT_REFERRAL, "decision_date": "2026-03-20"}) == 422
    assert await refused({**PARENT_REFERRAL, "name": "Zoë\r\nBcc: x@y.z"}) == 422
    assert await refused({**PARENT_REFERRAL, "surprise": True}) == 422
    clock.advance(minutes=10)
    response = await staff.client.post(
        "/api/v1/referrals", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    # Nothing refused was kept.
    assert (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"] == []


async def test_a_filled_honeypot_gets_the_same_answer_and_is_not_kept(staff: Staff) -> None:
    person = await refer(staff.client, PARENT_REFERRAL)
    bot = await refer(staff.client, {**PARENT_REFERRAL, "website": "http://spam.example"})
    assert bot == person == (202, person[1])
    listed = (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"]
    assert len(listed) == 1


async def test_the_answer_never_says_whether_someone_is_known(staff: Staff) -> None:
    first = await refer(staff.client, PARENT_REFERRAL)
    again = await refer(staff.client, PARENT_REFERRAL)  # the same person, the same family
    stranger = await refer(
        staff.client, {**PARENT_REFERRAL, "name": "Someone Else", "email": "new@family.example"}
    )
    assert first == again == stranger
    # Each is a row for the scheduler to see; none was merged or refused.
    listed = (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"]
    assert len(listed) == 3


async def test_referrals_from_one_address_are_limited(staff: Staff, clock: MutableClock) -> None:
    for _ in range(5):
        assert (await refer(staff.client, PARENT_REFERRAL))[0] == 202
    response = await staff.client.post("/api/v1/referrals", json=PARENT_REFERRAL)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.json())["error"]["code"] == "too_many_attempts"
    # A malformed one counts too, and is refused the same way while over the budget.
    assert (await refer(staff.client, {}))[0] == 429
    clock.advance(minutes=11)  # one more every ten minutes
    assert (await refer(staff.client, PARENT_REFERRAL))[0] == 202
    assert len((await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"]) == 6


async def test_only_schedulers_see_accept_and_decline_referrals(staff: Staff) -> None:
    await refer(staff.client, PARENT_REFERRAL)
    (waiting,) = (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"]
    path = f"/api/v1/referrals/{waiting['id']}"
    await staff.call("GET", "/api/v1/referrals", role=None, expect=401)
    await staff.call("GET", "/api/v1/referrals", role="mediator", expect=403)
    await staff.call("POST", path + "/accept", role="mediator", json={"reference": "X"}, expect=403)
    await staff.call("POST", path + "/decline", json={"reason": " "}, expect=422)
    await staff.call(
        "POST", "/api/v1/referrals/not-an-id/decline", json={"reason": "x"}, expect=404
    )
    declined = await staff.call(
        "POST", path + "/decline", json={"reason": "This is not a SEND disagreement"}, expect=200
    )
    assert declined["status"] == "declined"
    await staff.call("POST", path + "/accept", json={"reference": "KIDS-X"}, expect=409)
    await deliver_mail(staff.client)
    (told,) = mail_to(read_folder(staff.client.app[SETTINGS].mail_dir), PARENT_REFERRAL["email"])
    assert "This is not a SEND disagreement" in text_of(told)
    # Declined referrals leave the waiting list but are still there to read.
    assert (await staff.call("GET", "/api/v1/referrals", expect=200))["referrals"] == []
    listed = await staff.call("GET", "/api/v1/referrals?status=declined", expect=200)
    assert [r["decline_reason"] for r in listed["referrals"]] == ["This is not a SEND disagreement"]


async def test_retention_forgets_who_sent_a_referral(staff: Staff, clock: MutableClock) -> None:
    app = staff.client.app
    await refer(staff.client, PARENT_REFERRAL)
    await refer(staff.client, {**PARENT_REFERRAL, "email": "kept@family.example"})
    old, kept = (await staff.call("GET", "/api/v1/referrals"))["referrals"]
    await staff.call(
        "POST", f"/api/v1/referrals/{old['id']}/decline", json={"reason": "Not SEND"}, expect=200
    )
    case = await staff.call(
        "POST", f"/api/v1/referrals/{kept['id']}/accept", json={"reference": "K-1"}, expect=200
    )
    await deliver_mail(staff.client)
    assert mail_to(read_folder(app[SETTINGS].mail_dir), PARENT_REFERRAL["email"])
    await staff.call("PATCH", f"/api/v1/cases/{case['id']}", json={"status": "closed"}, expect=200)

    await retention.run(app[DB], settings=app[SETTINGS], now=clock() + timedelta(days=731))
    listed = [
        r
        for status in ("accepted", "declined")
        for r in (await staff.call("GET", f"/api/v1/referrals?status={status}"))["referrals"]
    ]
    for referral in listed:
        assert referral["name"] == "[removed]" and referral["email"] is None
        assert referral["decline_reason"] is None
    # The facts stay: when, what was asked, and what became of it.
    assert sorted(r["status"] for r in listed) == ["accepted", "declined"]
    # The mail that told the declined family is gone from the mail folder too.
    assert mail_to(read_folder(app[SETTINGS].mail_dir), PARENT_REFERRAL["email"]) == []
