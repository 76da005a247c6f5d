"""Invitations as people receive them: one per person, their own links, updates and cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from orchestrator.core.models import LinkScope, OutboxStatus
from orchestrator.core.settings import Settings
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    PEOPLE,
    book,
    calendar_part,
    deliver_mail,
    html_of,
    links_of,
    mail_to,
    make_case,
    outbox_rows,
    read_folder,
    text_of,
    with_method,
)

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tuesday 10 March, 10:00 GMT


def event_of(ics: bytes) -> Any:
    calendar = Calendar.from_ical(ics)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def attendee_addresses(event: Any) -> list[str]:
    found = event.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return [str(a).lower().removeprefix("mailto:") for a in found]


async def test_each_person_gets_their_own_invitation(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    messages = read_folder(settings.mail_dir)
    invites = with_method(messages, "REQUEST")
    # Four parties with email and the mediator: one invitation each.
    assert len(invites) == 5
    join_links = {}
    for person in PEOPLE:
        mine = [m for m in mail_to(invites, person["email"])]
        assert len(mine) == 1, person["email"]
        message = mine[0]
        method, ics = calendar_part(message) or ("", b"")
        calendar, event = event_of(ics)
        assert str(calendar["METHOD"]) == method == "REQUEST"
        assert int(event["SEQUENCE"]) == 0
        assert str(event["UID"]) and "meeting" not in str(event["UID"]).lower()
        # Only the mediator (CHAIR) and the recipient: no other party's address.
        addresses = attendee_addresses(event)
        assert sorted(addresses) == sorted(["mediator@service.example", person["email"]])
        others = [p["email"] for p in PEOPLE if p["email"] != person["email"]]
        raw = message.as_string()
        assert not any(other in raw for other in others)
        # Their own /j/ link, the same in the body, the HTML and the calendar.
        url = str(event["URL"])
        assert url.startswith("http://testserver.local/j/")
        assert url in text_of(message) and url in html_of(message)
        assert url in str(event["DESCRIPTION"]).replace("\n", "")
        join_links[person["email"]] = url
        # RSVP links to the reply page, one per answer.
        for answer in ("accepted", "tentative", "declined"):
            assert f"?answer={answer}" in text_of(message)
    assert len(set(join_links.values())) == len(PEOPLE)
    # Roles as DOMAIN.md gives them: LA REQ, school REQ, SENDIASS supporter OPT.
    roles = {}
    for person in PEOPLE:
        _, ics = calendar_part(mail_to(invites, person["email"])[0]) or ("", b"")
        _, event = event_of(ics)
        found = event.get("ATTENDEE")
        for attendee in found if isinstance(found, list) else [found]:
            if person["email"] in str(attendee).lower():
                roles[person["role"]] = str(attendee.params["ROLE"])
            else:
                assert str(attendee.params["ROLE"]) == "CHAIR"
    assert roles == {
        "parent": "REQ-PARTICIPANT",
        "la_officer": "REQ-PARTICIPANT",
        "school": "REQ-PARTICIPANT",
        "sendiass": "OPT-PARTICIPANT",
    }
    rows = await outbox_rows(client, "invite.")
    assert all(r.status is OutboxStatus.sent for r in rows) and len(rows) == 5
    assert booked.meeting_id


async def test_a_repeated_delivery_sends_nothing_twice(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    await book(staff, await make_case(staff), START)
    first = await deliver_mail(client)
    assert await deliver_mail(client) == 0
    assert len(list(settings.mail_dir.glob("*.eml"))) == first


async def test_reschedule_replaces_the_event_with_new_links(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    before = {m["Message-ID"] for m in read_folder(settings.mail_dir)}
    first = calendar_part(
        mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), "zoe.carter@")[0]
    )
    assert first is not None
    _, old_event = event_of(first[1])
    moved = START + timedelta(days=2, hours=3)
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={"start": moved.isoformat(), "duration_minutes": 120},
        expect=200,
    )
    await deliver_mail(client)
    new = [m for m in read_folder(settings.mail_dir) if m["Message-ID"] not in before]
    updates = with_method(new, "REQUEST")
    assert len(updates) == 5
    zoe = mail_to(updates, "zoe.carter@")[0]
    assert str(zoe["Subject"]).startswith("Updated:")
    part = calendar_part(zoe)
    assert part is not None
    _, event = event_of(part[1])
    assert str(event["UID"]) == str(old_event["UID"])
    assert int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART").astimezone(UTC) == moved
    assert str(event["URL"]) != str(old_event["URL"])  # the old join link died with the move
    assert "Thursday 12 March 2026, 1pm to 3pm (UK time)" in text_of(zoe)


async def test_cancel_sends_a_real_cancel_to_everyone(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    await staff.call(
        "POST", f"/api/v1/meetings/{booked.meeting_id}/cancel", json={"reason": "x"}, expect=200
    )
    await deliver_mail(client)
    cancels = with_method(read_folder(settings.mail_dir), "CANCEL")
    assert len(cancels) == 5
    for message in cancels:
        _, ics = calendar_part(message) or ("", b"")
        calendar, event = event_of(ics)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 1  # above the REQUEST's 0
        assert "http://testserver.local/j/" not in message.as_string()
        assert str(message["Subject"]).startswith("Cancelled:")


async def test_removing_a_person_cancels_for_them_only(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    before = {m["Message-ID"] for m in read_folder(settings.mail_dir)}
    school = booked.party_ids["head@school.example"]
    await staff.call("DELETE", f"/api/v1/cases/{booked.case_id}/parties/{school}", expect=204)
    await deliver_mail(client)
    new = [m for m in read_folder(settings.mail_dir) if m["Message-ID"] not in before]
    cancels = with_method(new, "CANCEL")
    requests = with_method(new, "REQUEST")
    assert [str(m["To"]) for m in cancels] == ["Ms Patel <head@school.example>"]
    assert "You no longer need to come" in text_of(cancels[0])
    # Everyone else hears who is coming now; the school is gone from the list.
    assert len(requests) == 4
    assert not mail_to(requests, "head@school.example")
    for message in requests:
        assert "- School" not in text_of(message)
    assert all(
        link.revoked_at is not None for link in await links_of(client, school, LinkScope.join_room)
    )


async def test_party_added_after_booking_is_invited(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    before = {m["Message-ID"] for m in read_folder(settings.mail_dir)}
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/parties",
        json={"role": "health", "name": "Dr Who", "email": "dr@nhs.example"},
        expect=201,
    )
    await deliver_mail(client)
    new = [m for m in read_folder(settings.mail_dir) if m["Message-ID"] not in before]
    invites = with_method(new, "REQUEST")
    assert [str(m["To"]) for m in invites] == ["Dr Who <dr@nhs.example>"]
    assert "http://testserver.local/j/" in text_of(invites[0])


async def test_no_header_or_property_can_be_injected(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    people = [
        {
            "role": "parent",
            "name": "Eve;ROLE=CHAIR:mailto:x@evil.example, Bcc: all@evil.example",
            "email": "eve@family.example",
        }
    ]
    await book(staff, await make_case(staff, people=people), START)
    await deliver_mail(client)
    message = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), "eve@family")[0]
    assert message["Bcc"] is None
    assert "all@evil.example" not in str(message["To"]).split("<")[-1]
    _, ics = calendar_part(message) or ("", b"")
    _, event = event_of(ics)
    assert sorted(attendee_addresses(event)) == ["eve@family.example", "mediator@service.example"]
    for attendee in event.get("ATTENDEE"):
        if "eve@" in str(attendee):
            assert str(attendee.params["ROLE"]) == "REQ-PARTICIPANT"


async def test_easy_read_and_missing_translation(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    people: list[dict[str, Any]] = [
        {"role": "young_person", "name": "Jo", "email": "jo@young.example", "easy_read": True},
        {"role": "parent", "name": "Ana", "email": "ana@family.example", "language": "cy"},
    ]
    await book(staff, await make_case(staff, people=people), START)
    await deliver_mail(client)
    messages = with_method(read_folder(settings.mail_dir), "REQUEST")
    jo = text_of(mail_to(messages, "jo@young.example")[0])
    assert "You are invited to a meeting" in str(
        mail_to(messages, "jo@young.example")[0]["Subject"]
    )
    assert "Can you come? Click one" in jo
    ana = text_of(mail_to(messages, "ana@family.example")[0])
    assert "We do not have this message in your language yet" in ana
    assert "We do not have this message in your language" not in jo


async def test_people_without_email_are_flagged_not_mailed(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    people = [{"role": "parent", "name": "Phone Only", "phone": "07700 900123", "channel": "phone"}]
    booked = await book(staff, await make_case(staff, people=people), START)
    await deliver_mail(client)
    assert not mail_to(read_folder(settings.mail_dir), "phone")
    timeline = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/timeline")
    if isinstance(timeline, dict):  # the timeline API may not exist yet: the row is enough
        kinds = [entry.get("kind") for entry in timeline.get("entries", [])]
        assert not kinds or "invites.no_email" in kinds


def as_a_calendar_keeps_it(messages: list[Any]) -> dict[str, Any]:
    """Apply iTIP messages in order as a client does: a higher SEQUENCE replaces the copy.

    Returns the event held per UID (None once cancelled); a message whose SEQUENCE is not
    above the one held is ignored, which is how Outlook and Gmail treat it.
    """
    held: dict[str, tuple[int, Any]] = {}
    for message in messages:
        part = calendar_part(message)
        if part is None:
            continue
        method, (_, event) = part[0], event_of(part[1])
        uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
        if uid in held and sequence <= held[uid][0]:
            continue
        held[uid] = (sequence, event if method == "REQUEST" else None)
    return {uid: event for uid, (_, event) in held.items()}


class Inbox:
    """Every message delivered so far, in the order it was delivered."""

    def __init__(self, client: TestClient[Any, Any], settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.messages: list[Any] = []

    async def deliver(self) -> None:
        await deliver_mail(self.client)
        seen = {m["Message-ID"] for m in self.messages}
        self.messages += [
            m for m in read_folder(self.settings.mail_dir) if m["Message-ID"] not in seen
        ]

    def calendar_mail_to(self, address: str) -> list[tuple[str, Any]]:
        """(method, VEVENT) of each calendar message to ``address``, oldest first."""
        found = []
        for message in mail_to(self.messages, address):
            part = calendar_part(message)
            if part is not None:
                found.append((part[0], event_of(part[1])[1]))
        return found


async def test_a_person_invited_again_gets_a_request_their_calendar_takes(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    inbox = Inbox(client, settings)
    booked = await book(staff, await make_case(staff), START)
    meeting_url = f"/api/v1/meetings/{booked.meeting_id}"
    await inbox.deliver()
    moved = START + timedelta(days=1)
    await staff.call(
        "POST",
        f"{meeting_url}/reschedule",
        json={"start": moved.isoformat(), "duration_minutes": 120},
        expect=200,
    )
    await inbox.deliver()
    school = booked.party_ids["head@school.example"]
    await staff.call("DELETE", f"/api/v1/cases/{booked.case_id}/parties/{school}", expect=204)
    await inbox.deliver()
    assert (await staff.call("GET", meeting_url))["sequence"] == 2  # the CANCEL just sent
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/parties",
        json={"role": "school", "name": "Ms Patel", "email": "head@school.example"},
        expect=201,
    )
    await inbox.deliver()

    to_school = inbox.calendar_mail_to("head@school.example")
    assert [(method, int(event["SEQUENCE"])) for method, event in to_school] == [
        ("REQUEST", 0),
        ("REQUEST", 1),
        ("CANCEL", 2),
        ("REQUEST", 3),
    ]
    (event,) = as_a_calendar_keeps_it(mail_to(inbox.messages, "head@school.example")).values()
    assert event is not None, "the school's calendar kept the CANCEL"
    assert event.decoded("DTSTART").astimezone(UTC) == moved
    # The others were told the new list under the CANCEL's number, never a reused one.
    to_zoe = inbox.calendar_mail_to("zoe.carter@")
    assert [(method, int(event["SEQUENCE"])) for method, event in to_zoe] == [
        ("REQUEST", 0),
        ("REQUEST", 1),
        ("REQUEST", 2),
    ]
    assert (await staff.call("GET", meeting_url))["sequence"] == 3

    # The next change goes above every number anyone was sent, and every calendar takes it.
    await staff.call(
        "POST",
        f"{meeting_url}/reschedule",
        json={"start": (moved + timedelta(days=1)).isoformat(), "duration_minutes": 120},
        expect=200,
    )
    await inbox.deliver()
    for address in ("head@school.example", "zoe.carter@", "mediator@service.example"):
        (event,) = as_a_calendar_keeps_it(mail_to(inbox.messages, address)).values()
        assert event is not None and int(event["SEQUENCE"]) == 4, address
    assert (await staff.call("GET", meeting_url))["sequence"] == 4
