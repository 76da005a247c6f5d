"""The reason a meeting is cancelled reaches each person, and nobody else.

Every CANCEL (mail text, HTML and the calendar's DESCRIPTION) says the meeting is off, when
it was to be, why (as typed, escaped in HTML) and who to call; the old join link says the
same to its holder only. The reason is never written to the logs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar

from orchestrator.core.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.invites_support import (
    PEOPLE,
    book,
    calendar_part,
    deliver_mail,
    html_of,
    mail_to,
    make_case,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.meetings_support import get, join_links, path_of

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tuesday 10 March, 10:00 GMT
WHEN = "Tuesday 10 March 2026, 10am to midday (UK time)"
REASON = "The mediator is ill.\nWe will ring you <today> & offer new dates."
YOUNG = {"role": "young_person", "name": "Jo", "email": "jo@young.example", "easy_read": True}


def one_line(text: str) -> str:
    return text.replace("\r\n", "\n")


async def cancelled_with_reason(
    client: TestClient[Any, Any], staff: Staff, people: list[dict[str, Any]]
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Book a meeting, note everyone's join link, then cancel it with REASON."""
    booked = await book(staff, await make_case(staff, people=people), START)
    await deliver_mail(client)
    found = await join_links(staff, booked.meeting_id)
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/cancel",
        json={"reason": REASON},
        expect=200,
    )
    await deliver_mail(client)
    return booked.meeting_id, found


async def test_every_cancellation_says_when_why_and_who_to_call(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    await cancelled_with_reason(client, staff, [*PEOPLE, YOUNG])
    cancels = with_method(read_folder(settings.mail_dir), "CANCEL")
    addresses = [p["email"] for p in [*PEOPLE, YOUNG]] + ["mediator@service.example"]
    assert sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in cancels) == sorted(addresses)
    for address in addresses:
        (message,) = mail_to(cancels, address)
        text, html = one_line(text_of(message)), html_of(message)
        assert WHEN in text and WHEN in html, address
        assert REASON in text, address  # exactly as typed
        assert "We will ring you &lt;today&gt; &amp; offer new dates." in html, address
        assert "<today>" not in html, address
        assert settings.help_line in text and settings.help_line in html, address
        assert "cancelled" in text and "cancelled" in str(message["Subject"]).lower(), address
        assert REASON not in str(message["Subject"])
        _, ics = calendar_part(message) or ("", b"")
        calendar = Calendar.from_ical(ics)
        (event,) = calendar.walk("VEVENT")
        assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        description = str(event["DESCRIPTION"])
        assert REASON in description and settings.help_line in description
    jo = one_line(text_of(mail_to(cancels, "jo@young.example")[0]))
    assert f"Why: {REASON}" in jo  # the easy-read wording says it too


async def test_a_person_only_taken_off_the_meeting_is_told_no_reason(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    school = booked.party_ids["head@school.example"]
    await staff.call("DELETE", f"/api/v1/cases/{booked.case_id}/parties/{school}", expect=204)
    await deliver_mail(client)
    (cancel,) = with_method(
        mail_to(read_folder(settings.mail_dir), "head@school.example"), "CANCEL"
    )
    assert "You no longer need to come" in text_of(cancel)
    assert "Why" not in text_of(cancel)


async def test_the_old_join_link_says_why_to_its_holder_only(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    _, found = await cancelled_with_reason(client, staff, PEOPLE)
    parent = next(link for link in found.values() if link["role"] == "parent")
    status, page, _ = await get(client, path_of(parent["url"]))
    assert status == 410
    assert "This meeting has been cancelled" in page and WHEN in page
    assert "The mediator is ill.<br>We will ring you &lt;today&gt; &amp; offer new dates." in page
    assert "<today>" not in page
    # Anyone else's token (here, the parent's with one character changed) learns nothing.
    token = path_of(parent["url"]).removeprefix("/j/")
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    status, page, _ = await get(client, f"/j/{tampered}")
    assert status == 404 and "This link is not valid" in page
    assert "has been cancelled" not in page and "The mediator is ill" not in page


async def test_the_reason_is_never_logged(
    client: TestClient[Any, Any], staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything the service logs (the database driver's own DEBUG echo of SQL is not a log
    # a deployment keeps, and it would show every stored value).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="orchestrator")
    _, found = await cancelled_with_reason(client, staff, PEOPLE)
    for link in found.values():
        await get(client, path_of(link["url"]))
        await get(client, path_of(link["url"]) + "/video")
    assert caplog.records  # the logs were listened to
    for fragment in ("The mediator is ill", "offer new dates"):
        assert fragment not in caplog.text
