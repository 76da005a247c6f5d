"""Sending one person their invitation or poll link again, after withdrawn links or a new email."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.invites_support import (
    book,
    calendar_part,
    deliver_mail,
    make_case,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.web_support import Browser, make_user

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
ZOE = "zoe.carter@family.example"


def new_mail(settings: Settings, before: set[str]) -> list[EmailMessage]:
    return [m for m in read_folder(settings.mail_dir) if m["Message-ID"] not in before]


def seen(settings: Settings) -> set[str]:
    return {str(m["Message-ID"]) for m in read_folder(settings.mail_dir)}


def event_of(message: EmailMessage) -> Any:
    part = calendar_part(message)
    assert part is not None
    return Calendar.from_ical(part[1]).walk("VEVENT")[0]


def link_in(message: EmailMessage, path: str) -> str:
    found = re.search(rf"http://testserver\.local{path}[A-Za-z0-9._-]+", text_of(message))
    assert found, f"no {path} link in the mail"
    return found.group(0)


async def scheduler(client: TestClient[Any, Any]) -> Browser:
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    return browser


async def test_a_corrected_email_gets_the_current_invite_through_the_api(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    first = with_method(read_folder(settings.mail_dir), "REQUEST")
    old = next(m for m in first if ZOE in str(m["To"]))
    before = seen(settings)
    zoe = booked.party_ids[ZOE]
    await staff.call(
        "PATCH",
        f"/api/v1/cases/{booked.case_id}/parties/{zoe}",
        json={"email": "zoe@right.example"},
        expect=200,
    )

    answer = await staff.call(
        "POST", f"/api/v1/cases/{booked.case_id}/parties/{zoe}/resend", expect=200
    )
    assert answer == {
        "party_id": zoe,
        "invites_queued": 1,
        "poll_links_queued": 0,
        "new_links": False,
    }
    await deliver_mail(client)
    sent = new_mail(settings, before)
    # One message, to the corrected address only: nobody else hears anything.
    assert [str(m["To"]) for m in sent] == ["Zoë Carter <zoe@right.example>"]
    invite = with_method(sent, "REQUEST")[0]
    assert str(invite["Subject"]).startswith("Invitation:")
    event, old_event = event_of(invite), event_of(old)
    assert str(event["UID"]) == str(old_event["UID"])
    assert int(event["SEQUENCE"]) == int(old_event["SEQUENCE"])  # the meeting did not move
    assert str(event["URL"]) == str(old_event["URL"])  # her join link still works
    assert "zoe@right.example" in str(event["ATTENDEE"]).lower()
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline", expect=200)
    resent = [e for e in timeline["entries"] if e["kind"] == "party.resent"]
    assert [e["summary"] for e in resent] == [
        "Sent a party (parent or carer) their invitation again"
    ]
    trail = await staff.call(
        "GET", f"/api/v1/cases/{booked.case_id}/audit", role="admin", expect=200
    )
    actions = [e["action"] for e in trail["entries"]]
    assert "POST /cases/{case_id}/parties/{party_id}/resend" in actions

    # A mediator cannot send mail for the case; a party of another case is not found.
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/parties/{zoe}/resend",
        role="mediator",
        expect=403,
    )
    other = await make_case(staff, mediator_email="other@service.example")
    await staff.call("POST", f"/api/v1/cases/{other.case_id}/parties/{zoe}/resend", expect=404)


async def test_after_withdraw_links_the_staff_page_sends_her_new_ones(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    browser = await scheduler(client)
    await deliver_mail(client)
    old = next(m for m in with_method(read_folder(settings.mail_dir), "REQUEST") if ZOE in m["To"])
    old_join = link_in(old, "/j/")
    before = seen(settings)
    zoe = booked.party_ids[ZOE]
    case_path = f"/staff/cases/{booked.case_id}"

    withdrawn = await browser.post(f"{case_path}/parties/{zoe}/revoke-links")
    assert withdrawn.status == 303
    assert (await client.get(old_join.removeprefix("http://testserver.local"))).status == 404
    _, page = await browser.get(case_path)
    assert 'Send links again<span class="govuk-visually-hidden"> to Zoë Carter' in page

    resent = await browser.post(f"{case_path}/parties/{zoe}/resend")
    assert resent.status == 303
    assert resent.headers["Location"] == f"{case_path}?notice=resent#parties"
    await deliver_mail(client)
    sent = new_mail(settings, before)
    assert [str(m["To"]) for m in sent] == [f"Zoë Carter <{ZOE}>"]
    invite = with_method(sent, "REQUEST")[0]
    assert int(event_of(invite)["SEQUENCE"]) == int(event_of(old)["SEQUENCE"])
    new_join = link_in(invite, "/j/")
    assert new_join != old_join
    assert (await client.get(new_join.removeprefix("http://testserver.local"))).status == 200
    # The withdrawn link stays withdrawn.
    assert (await client.get(old_join.removeprefix("http://testserver.local"))).status == 404
    rsvp = link_in(invite, "/r/").removeprefix("http://testserver.local")
    assert (await client.get(f"{rsvp}?answer=accepted")).status == 200

    _, page = await browser.get(resent.headers["Location"])
    assert "Sent again, to that person only" in page
    assert "Sent Zoë Carter (parent or carer) their invitation again with new links" in page
    trail = await staff.call(
        "GET", f"/api/v1/cases/{booked.case_id}/audit", role="admin", expect=200
    )
    assert "party.resend" in [e["action"] for e in trail["entries"]]


async def test_a_withdrawn_poll_link_is_sent_again_while_no_meeting_is_booked(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await make_case(staff)
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/availability-requests",
        json={"duration_minutes": 180},
        expect=201,
    )
    browser = await scheduler(client)
    await deliver_mail(client)
    old = next(m for m in read_folder(settings.mail_dir) if "/p/" in text_of(m) and ZOE in m["To"])
    old_poll = link_in(old, "/p/").removeprefix("http://testserver.local")
    before = seen(settings)
    zoe = booked.party_ids[ZOE]
    await browser.post(f"/staff/cases/{booked.case_id}/parties/{zoe}/revoke-links")
    assert (await client.get(old_poll)).status == 404

    answer = await staff.call(
        "POST", f"/api/v1/cases/{booked.case_id}/parties/{zoe}/resend", expect=200
    )
    assert answer["poll_links_queued"] == 1 and answer["invites_queued"] == 0
    await deliver_mail(client)
    sent = new_mail(settings, before)
    assert [str(m["To"]) for m in sent] == [f"Zoë Carter <{ZOE}>"]
    assert str(sent[0]["Subject"]) == str(old["Subject"])
    new_poll = link_in(sent[0], "/p/").removeprefix("http://testserver.local")
    assert new_poll != old_poll
    page = await client.get(new_poll)
    assert page.status == 200 and "Zoë" in await page.text()


async def test_nothing_to_send_or_nowhere_to_send_it_is_said_plainly(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await make_case(
        staff,
        people=[
            {"role": "parent", "name": "Pat Jordan", "email": "pat@family.example"},
            {"role": "school", "name": "Oak School", "phone": "01632 960001"},
        ],
    )
    pat = booked.party_ids["pat@family.example"]
    school = booked.party_ids["Oak School"]
    resend = f"/api/v1/cases/{booked.case_id}/parties"
    early = await staff.call("POST", f"{resend}/{pat}/resend", expect=409)
    assert "no meeting is booked and no poll is open" in early["error"]["message"]
    no_email = await staff.call("POST", f"{resend}/{school}/resend", expect=422)
    assert "no email address" in no_email["error"]["message"]

    # The staff page says the same beside the case's people, and sends nothing.
    browser = await scheduler(client)
    page = await browser.post(f"/staff/cases/{booked.case_id}/parties/{pat}/resend")
    assert page.status == 409
    text = await page.text()
    assert "There is a problem" in text and f'href="#party-{pat}"' in text
    assert "There is nothing to send again yet: no meeting is booked" in text


async def test_links_are_withdrawn_through_the_api_like_the_page(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    old = next(m for m in with_method(read_folder(settings.mail_dir), "REQUEST") if ZOE in m["To"])
    old_join = link_in(old, "/j/").removeprefix("http://testserver.local")
    assert (await client.get(old_join)).status == 200
    zoe = booked.party_ids[ZOE]
    revoke = f"/api/v1/cases/{booked.case_id}/parties/{zoe}/revoke-links"

    # A mediator may not; a party of another case is not found.
    await staff.call("POST", revoke, role="mediator", expect=403)
    other = await make_case(staff, mediator_email="other@service.example")
    await staff.call(
        "POST", f"/api/v1/cases/{other.case_id}/parties/{zoe}/revoke-links", expect=404
    )
    assert (await client.get(old_join)).status == 200

    await staff.call("POST", revoke, expect=204)
    assert (await client.get(old_join)).status == 404
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline", expect=200)
    assert "Withdrew every link of a party (parent or carer)" in [
        e["summary"] for e in timeline["entries"]
    ]
    trail = await staff.call(
        "GET", f"/api/v1/cases/{booked.case_id}/audit", role="admin", expect=200
    )
    actions = [e["action"] for e in trail["entries"]]
    assert "POST /cases/{case_id}/parties/{party_id}/revoke-links" in actions
    # Send links again gives her new ones, as after the page's "Withdraw links".
    answer = await staff.call("POST", f"/api/v1/cases/{booked.case_id}/parties/{zoe}/resend")
    assert answer["new_links"] is True
    openapi = await (await client.get("/openapi.json")).json()
    assert "post" in openapi["paths"]["/api/v1/cases/{case_id}/parties/{party_id}/revoke-links"]
