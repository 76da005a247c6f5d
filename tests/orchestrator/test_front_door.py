"""The service's own address says what it is and where staff sign in."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.models import StaffRole
from tests.orchestrator.web_support import Browser, make_user


async def test_the_front_door_says_what_the_service_is(client: TestClient[Any, Any]) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "This link does not work" not in text
    assert "organises SEND mediation meetings for KIDS SEND Mediation Service" in text
    assert "do not need an account" in text and "links in the messages we send you" in text
    assert "0333 006 2835" in text  # the help line, for anyone who lost their link
    assert re.search(r'<a class="govuk-link" href="/sign-in">Staff sign in</a>', page)
    assert '<html lang="en-GB"' in page and "<h1" in page and 'id="main-content"' in page
    assert (await client.get("/sign-in")).status == 200


async def test_signed_in_staff_go_straight_to_their_work(client: TestClient[Any, Any]) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/staff"
