"""A postal address on the party form: entered by staff, checked, kept tidy, never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from tests.conftest import Staff
from tests.orchestrator.test_unreachable_parties import open_case
from tests.orchestrator.web_support import Browser, make_user


async def test_staff_enter_an_address_so_a_person_with_no_email_can_be_written_to(
    client: TestClient[Any, Any], staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the service logs at INFO
    case_id = await open_case(staff)
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    person = {"role": "parent", "name": "Robin Carer", "channel": "phone"}

    refused = await browser.post(
        f"/staff/cases/{case_id}/parties",
        {**person, "postal_address": "12 Mill Lane", "postcode": "not a postcode"},
    )
    assert refused.status == 422
    assert "Enter a UK postcode, like SW1A 1AA" in await refused.text()

    added = await browser.post(
        f"/staff/cases/{case_id}/parties",
        {**person, "postal_address": "12  Mill Lane\r\n\r\n Hebden Bridge ", "postcode": "hx78aa"},
    )
    assert added.status == 303  # back to the case page
    [party] = (await staff.call("GET", f"/api/v1/cases/{case_id}/parties", expect=200))["parties"]
    assert party["postal_address"] == "12 Mill Lane\nHebden Bridge"
    assert party["postcode"] == "HX7 8AA"
    _, form = await browser.get(f"/staff/cases/{case_id}/parties/{party['id']}")
    assert "12 Mill Lane\nHebden Bridge</textarea>" in form and 'value="HX7 8AA"' in form
    assert "Mill Lane" not in caplog.text and "HX7" not in caplog.text  # never in a log

    # Taking the address away leaves Robin with no way to be reached: refused.
    cleared = await browser.post(
        f"/staff/cases/{case_id}/parties/{party['id']}",
        {"name": "Robin Carer", "channel": "phone", "required_shown": "1", "required": "yes"},
    )
    assert cleared.status == 422
