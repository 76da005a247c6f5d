"""One name type for everyone: refused when it cannot go into a header as typed, else shown
exactly as typed in the email's To and the invite's CN."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from orchestrator.core.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.invites_support import (
    calendar_part,
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    with_method,
)

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
HEADER_TRICK = "LA officer =?utf-8?q?=0D=0ABcc:_evil@evil.example?="
PARENT = 'Zoë "Zed" O\'Brien \\ Carter'
MEDIATOR = 'Maya "M" Back\\slash'


@pytest.mark.parametrize(
    "name", [HEADER_TRICK, "Sam\r\nBcc: evil@evil.example", "Sam\u2028Smith", "Tab\there", " "]
)
async def test_a_name_that_cannot_go_in_a_header_is_refused_everywhere(
    staff: Staff, name: str
) -> None:
    booked = await make_case(staff, people=[])
    parties = f"/api/v1/cases/{booked.case_id}/parties"
    person = {"role": "la_officer", "name": name, "email": "lee@kent.example"}
    refused = await staff.call("POST", parties, json=person, expect=422)
    assert refused["error"]["details"][0]["loc"] == ["name"]
    assert "one line" in refused["error"]["details"][0]["msg"]
    party = await staff.call("POST", parties, json={**person, "name": "Lee"}, expect=201)
    await staff.call("PATCH", f"{parties}/{party['id']}", json={"name": name}, expect=422)
    mediator = {"name": name, "email": "mediator2@service.example"}
    await staff.call("POST", "/api/v1/mediators", json=mediator, expect=422)
    shown = await staff.call("GET", parties, expect=200)
    assert [p["name"] for p in shown["parties"]] == ["Lee"]


async def test_quotes_and_backslashes_reach_to_and_cn_as_typed(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await make_case(
        staff, people=[{"role": "parent", "name": PARENT, "email": "zoe@family.example"}]
    )
    mediator = await staff.call(
        "POST",
        "/api/v1/mediators",
        json={
            "name": MEDIATOR,
            "email": "maya@service.example",
            "working_hours": {str(d): ["07:00", "21:00"] for d in range(1, 8)},
        },
        expect=201,
    )
    assert mediator["name"] == MEDIATOR
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/mediator",
        json={"mediator_id": mediator["id"]},
        expect=200,
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{booked.case_id}/meetings",
        json={"start": START.isoformat(), "duration_minutes": 120, "mode": "video"},
        expect=201,
    )
    await deliver_mail(client)
    requests = with_method(read_folder(settings.mail_dir), "REQUEST")
    for address, typed in (("zoe@family.example", PARENT), ("maya@service.example", MEDIATOR)):
        invite = mail_to(requests, address)[0]
        (to,) = invite["To"].addresses
        assert (to.display_name, to.addr_spec) == (typed, address)
        found = calendar_part(invite)
        assert found is not None
        event = Calendar.from_ical(found[1]).walk("VEVENT")[0]
        attendees = event.get("attendee")
        names = {
            str(a).removeprefix("mailto:"): a.params.get("CN")
            for a in (attendees if isinstance(attendees, list) else [attendees])
        }
        assert names[address] == typed


async def test_a_name_stored_before_names_were_checked_is_still_shown(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    import uuid

    from orchestrator.core.models import Mediator, Party
    from orchestrator.web.keys import DB

    booked = await make_case(
        staff, people=[{"role": "la_officer", "name": "Lee", "phone": "07700 900123"}]
    )
    async with client.app[DB].write() as session:
        party = await session.get(Party, uuid.UUID(booked.party_ids["Lee"]))
        mediator = await session.get(Mediator, uuid.UUID(booked.mediator_id))
        assert party is not None and mediator is not None
        party.name = mediator.name = HEADER_TRICK
    parties = await staff.call("GET", f"/api/v1/cases/{booked.case_id}/parties", expect=200)
    assert [p["name"] for p in parties["parties"]] == [HEADER_TRICK]
    shown = await staff.call("GET", f"/api/v1/mediators/{booked.mediator_id}", expect=200)
    assert shown["name"] == HEADER_TRICK


async def test_a_staff_name_that_cannot_be_mailed_is_refused_on_the_invite_form(
    client: TestClient[Any, Any],
) -> None:
    from sqlmodel import select

    from orchestrator.core.models import StaffRole, StaffUser
    from orchestrator.web.keys import DB
    from tests.orchestrator.web_support import Browser, make_user

    await make_user(client, "ada@staff.example", StaffRole.admin)
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    response = await admin.post(
        "/staff/admin/users",
        {"email": "new@staff.example", "name": "Nia =?utf-8?q?=0A?=", "role": "mediator"},
    )
    assert response.status == 422
    assert "Enter their name on one line" in await response.text()
    async with client.app[DB].read() as session:
        emails = (await session.scalars(select(StaffUser.email))).all()
    assert list(emails) == ["ada@staff.example"]
