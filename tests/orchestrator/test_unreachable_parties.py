"""People who must be invited need an email or a phone: refused at input, flagged if already so."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.models import Party, PartyRole, StaffRole
from orchestrator.web.keys import CLOCK, DB
from tests.conftest import Staff
from tests.orchestrator.web_support import Browser, make_user

REFUSED = (
    "A required person needs an email address, a phone number or a postal address, "
    "so they can be invited"
)


async def open_case(staff: Staff, reference: str = "KIDS-REACH") -> str:
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": reference,
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
        },
        expect=201,
    )
    return str(case["id"])


async def test_the_api_refuses_a_required_party_nobody_can_reach(staff: Staff) -> None:
    case_id = await open_case(staff)
    parties = f"/api/v1/cases/{case_id}/parties"
    for person in (
        {"role": "parent", "name": "Pat Jordan"},
        {"role": "school", "name": "Oak School", "required": True},
        # The LA's decision-maker is always invited, even when marked optional.
        {"role": "la_officer", "name": "Lee Grant", "required": False},
    ):
        refused = await staff.call("POST", parties, json=person, expect=422)
        assert refused["error"]["code"] == "validation_failed"
        assert refused["error"]["message"] == REFUSED[:1].lower() + REFUSED[1:]
    assert (await staff.call("GET", parties, expect=200))["parties"] == []

    # A phone number is enough; an optional supporter may come without either.
    phone_only = await staff.call(
        "POST",
        parties,
        json={"role": "parent", "name": "Pat Jordan", "phone": "07700 900123", "channel": "phone"},
        expect=201,
    )
    await staff.call(
        "POST", parties, json={"role": "observer", "name": "Trainee mediator"}, expect=201
    )
    # Taking away the last contact is refused, and nothing changes.
    await staff.call("PATCH", f"{parties}/{phone_only['id']}", json={"phone": None}, expect=422)
    listed = await staff.call("GET", parties, expect=200)
    parent = next(p for p in listed["parties"] if p["id"] == phone_only["id"])
    assert parent["phone"] == phone_only["phone"] and parent["phone"]


async def test_the_staff_page_refuses_it_beside_the_email_field(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    case_id = await open_case(staff)
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    case_path = f"/staff/cases/{case_id}"
    refused = await browser.post(
        f"{case_path}/parties", {"role": "parent", "name": "Pat Jordan", "channel": "video"}
    )
    assert refused.status == 422
    page = await refused.text()
    assert "There is a problem" in page and f'<a href="#email">{REFUSED}</a>' in page
    assert 'value="Pat Jordan"' in page  # what was typed is kept
    added = await browser.post(
        f"{case_path}/parties",
        {"role": "parent", "name": "Pat Jordan", "email": "pat@family.example"},
    )
    assert added.status == 303

    listed = await staff.call("GET", f"/api/v1/cases/{case_id}/parties", expect=200)
    pat = listed["parties"][0]["id"]
    cleared = await browser.post(
        f"{case_path}/parties/{pat}", {"name": "Pat Jordan", "email": "", "channel": "video"}
    )
    assert cleared.status == 422
    assert REFUSED in await cleared.text()
    listed = await staff.call("GET", f"/api/v1/cases/{case_id}/parties", expect=200)
    assert listed["parties"][0]["email"] == "pat@family.example"


async def test_existing_unreachable_people_are_flagged_on_the_board_and_case_page(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    case_id = await open_case(staff)
    await open_case(staff, "KIDS-FINE")
    # A record from before the rule: required, with no email and no phone.
    async with client.app[DB].write() as session:
        session.add(
            Party(
                case_id=uuid.UUID(case_id),
                role=PartyRole.parent,
                name="Pat Jordan",
                required=True,
                created_at=client.app[CLOCK](),
            )
        )
        session.add(
            Party(
                case_id=uuid.UUID(case_id),
                role=PartyRole.observer,
                name="Quiet Observer",
                required=False,
                created_at=client.app[CLOCK](),
            )
        )
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")

    status, board = await browser.get("/staff")
    assert status == 200
    rows = board.split("<tbody")[1].split("</tr>")
    flagged = [row for row in rows if "Cannot reach" in row]
    assert len(flagged) == 1
    assert "KIDS-REACH" in flagged[0] and "Cannot reach Pat Jordan" in flagged[0]
    assert "Quiet Observer" not in board

    status, page = await browser.get(f"/staff/cases/{case_id}")
    assert status == 200
    assert "Cannot reach Pat Jordan: they must be invited but have no email address" in page
    assert "Cannot reach Quiet Observer" not in page

    # A closed case (perhaps anonymised) is nobody's to reach any more.
    await staff.call("PATCH", f"/api/v1/cases/{case_id}", json={"status": "closed"}, expect=200)
    _, page = await browser.get(f"/staff/cases/{case_id}")
    assert "Cannot reach" not in page
