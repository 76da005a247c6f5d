"""A party's invite (its text, its HTML and its calendar event) and their join page tell the
same story: the same time, worded the same way, and the same number and PIN to dial.

Each was once worded and decided in its own place: the email said "10:00 to 12:00 GMT"
where the page said "10am to midday (UK time)", and a Jitsi room's PIN was offered with
the service's dial-in number in the invite but the page's own rule could differ.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from orchestrator.settings import Settings
from tests.conftest import Staff
from tests.orchestrator.invites_support import (
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
from tests.orchestrator.meetings_support import get, path_of

ZOE = "zoe.carter@family.example"
# Tuesday 9 June 2026, 8:30 UTC: 9:30am in London (summer time).
START = datetime(2026, 6, 9, 8, 30, tzinfo=UTC)
WHEN = "Tuesday 9 June 2026, 9:30am to 11:30am (UK time)"


def the_invite(settings: Settings, address: str) -> EmailMessage:
    mine = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), address)
    assert len(mine) == 1, address
    return mine[0]


def join_path(message: EmailMessage) -> str:
    found = re.search(r"http://testserver\.local(/j/[A-Za-z0-9._-]+)", text_of(message))
    assert found is not None
    return path_of(found.group(0))


async def test_the_invite_and_the_join_page_word_the_time_alike(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    invite = the_invite(settings, ZOE)
    _method, ics = calendar_part(invite) or ("", b"")
    description = str(Calendar.from_ical(ics).walk("VEVENT")[0]["DESCRIPTION"])
    status, page, _ = await get(client, join_path(invite))
    assert status == 200
    for said in (text_of(invite), html_of(invite), description, page):
        assert WHEN in said
    # When the video room opens: 30 minutes before, one clock for both.
    assert "it opens at 9am on the day" in text_of(invite)
    assert "The video room opens at 9am on Tuesday 9 June 2026." in page
    assert "09:30" not in text_of(invite) and "09:30" not in page
    assert booked.meeting_id
