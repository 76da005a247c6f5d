"""The public referral form at ``/refer`` and the schedulers' list at ``/staff/referrals``."""

from __future__ import annotations

from typing import Any

from orchestrator.core.models import StaffRole
from tests.conftest import MutableClock, Staff
from tests.orchestrator.web_support import Browser, make_user

FORM: dict[str, Any] = {
    "who": "parent_carer",
    "name": "Zoë Carter",
    "contact_by": "phone",
    "phone": "07700 900 982",
    "best_times": "after 10am",
    "local_authority": "Kent",
    "decision_date-day": "10",
    "decision_date-month": "2",
    "decision_date-year": "2026",
    "issues": "education",
    "wants": "mias_certificate",
    "website": "",
}


async def test_a_form_with_problems_comes_back_with_them_named_and_what_was_typed(
    staff: Staff,
) -> None:
    page = await staff.client.get("/refer")
    assert page.status == 200 and "Ask us for mediation" in await page.text()
    sent = {**FORM, "phone": "", "wants": "", "decision_date-year": "26"}
    response = await staff.client.post("/refer", data=sent)
    html = await response.text()
    assert response.status == 422
    assert "<title>Error: " in html and "There is a problem" in html
    assert 'href="#phone"' in html and "Enter a phone number" in html
    assert 'href="#wants"' in html and "Choose what you would like" in html
    assert 'href="#decision_date-day"' in html
    assert 'value="Zoë Carter"' in html  # kept as typed
    assert (await staff.call("GET", "/api/v1/referrals"))["referrals"] == []


async def test_every_accepted_form_reads_the_same_thank_you(staff: Staff) -> None:
    person = await staff.client.post("/refer", data=FORM, allow_redirects=False)
    bot = await staff.client.post(
        "/refer", data={**FORM, "website": "http://spam.example"}, allow_redirects=False
    )
    assert person.status == bot.status == 303
    assert person.headers["Location"] == bot.headers["Location"] == "/refer/thanks"
    thanks = await staff.client.get("/refer/thanks")
    assert "Thank you – we have your referral" in await thanks.text()
    (kept,) = (await staff.call("GET", "/api/v1/referrals"))["referrals"]
    assert kept["phone"] == "07700 900 982" and kept["decision_date"] == "2026-02-10"
    assert kept["issues"] == ["education"] and kept["wants"] == "mias_certificate"


async def test_too_many_forms_from_one_address_get_the_friendly_429(
    staff: Staff, clock: MutableClock
) -> None:
    for _ in range(5):
        assert (await staff.client.post("/refer", data=FORM, allow_redirects=False)).status == 303
    response = await staff.client.post("/refer", data=FORM, allow_redirects=False)
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in await response.text()


async def test_a_scheduler_accepts_a_referral_from_the_list(staff: Staff) -> None:
    await staff.client.post("/refer", data=FORM, allow_redirects=False)
    await make_user(staff.client, "sched@staff.example", StaffRole.scheduler)
    browser = Browser(staff.client)
    await browser.sign_in("sched@staff.example")
    status, html = await browser.get("/staff/referrals")
    assert status == 200 and "Zoë Carter" in html and "Only the MIAS certificate" in html
    (referral,) = (await staff.call("GET", "/api/v1/referrals"))["referrals"]
    refused = await browser.post(f"/staff/referrals/{referral['id']}/accept", {"reference": ""})
    assert refused.status == 422 and "Enter the case reference" in await refused.text()
    accepted = await browser.post(
        f"/staff/referrals/{referral['id']}/accept", {"reference": "KIDS-PAGE-1"}
    )
    assert accepted.status == 303 and accepted.headers["Location"].startswith("/staff/cases/")
    status, html = await browser.get(accepted.headers["Location"].split("?")[0])
    assert "KIDS-PAGE-1" in html and "Opened from the family" in html
    # How they asked to be reached stays on the case: by phone, after 10am.
    assert "The family's own referral" in html and "after 10am" in html
    status, html = await browser.get("/staff/referrals")
    assert "No referrals are waiting" in html


async def test_a_reference_that_cannot_be_one_is_refused_on_the_form(staff: Staff) -> None:
    await staff.client.post("/refer", data=FORM, allow_redirects=False)
    await make_user(staff.client, "sched@staff.example", StaffRole.scheduler)
    browser = Browser(staff.client)
    await browser.sign_in("sched@staff.example")
    (referral,) = (await staff.call("GET", "/api/v1/referrals"))["referrals"]
    path = f"/staff/referrals/{referral['id']}"
    refused = await browser.post(path + "/accept", {"reference": "A\tB"})
    assert refused.status == 422 and "one line of up to 64 characters" in await refused.text()
    refused = await browser.post(path + "/decline", {"reason": "  "})
    assert refused.status == 422 and "Say why the referral is declined" in await refused.text()
    declined = await browser.post(path + "/decline", {"reason": "Not a SEND matter"})
    assert declined.status == 303
    _, html = await browser.get("/staff/referrals?notice=declined")
    assert "Referral declined" in html and "No referrals are waiting" in html
