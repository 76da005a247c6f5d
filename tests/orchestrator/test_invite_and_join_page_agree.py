"""A party's invite (its text, its HTML and its calendar event) and their join page tell the
same story: the same time, worded the same way, and the same number and PIN to dial.

Each was once worded and decided in its own place: the email said "10:00 to 12:00 GMT"
where the page said "10am to midday (UK time)", and a Jitsi room's PIN was offered with
the service's dial-in number in the invite but the page's own rule could differ.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from icalendar import Calendar
from sqlmodel import col, select

from orchestrator.core.models import Invitation, Meeting
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
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
from tests.orchestrator.meetings_support import app_with, get, jitsi_settings, path_of

DIAL_IN = "+44 20 7946 0000"
ZOE = "zoe.carter@family.example"
MEDIATOR = "mediator@service.example"
# Tuesday 9 June 2026, 8:30 UTC: 9:30am in London (summer time).
START = datetime(2026, 6, 9, 8, 30, tzinfo=UTC)
WHEN = "Tuesday 9 June 2026, 9:30am to 11:30am (UK time)"


@pytest.fixture
async def jitsi_dial_in(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> tuple[TestClient[Any, Any], Staff]:
    changes = jitsi_settings(jitsi_dial_in_number=DIAL_IN)
    return await app_with(aiohttp_client, settings, clock, **changes)


def the_invite(settings: Settings, address: str) -> EmailMessage:
    mine = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), address)
    assert len(mine) == 1, address
    return mine[0]


def join_path(message: EmailMessage) -> str:
    found = re.search(r"http://testserver\.local(/j/[A-Za-z0-9._-]+)", text_of(message))
    assert found is not None
    return path_of(found.group(0))


def email_phone(message: EmailMessage) -> tuple[str, str]:
    """The number and PIN the invite's text says to dial."""
    found = re.search(r"call (\+[0-9 ]+?) and enter your PIN ([0-9]+)\.", text_of(message))
    assert found is not None, text_of(message)
    return found.group(1), found.group(2)


def page_phone(page: str) -> tuple[str, str]:
    """The number and PIN the join page says to dial (the PIN as keyed, without spaces)."""
    number = re.search(r'href="tel:[^"]*">([^<]+)</a> and key your PIN', page)
    pin = re.search(r'id="pin">([0-9 ]+)<', page)
    assert number is not None and pin is not None, page
    return number.group(1), pin.group(1).replace(" ", "")


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


async def test_each_persons_own_pin_is_the_same_in_the_invite_and_on_the_page(
    jitsi_dial_in: tuple[TestClient[Any, Any], Staff], settings: Settings
) -> None:
    client, staff = jitsi_dial_in
    await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    pins = set()
    for address in (ZOE, MEDIATOR):
        invite = the_invite(settings, address)
        status, page, _ = await get(client, join_path(invite))
        assert status == 200
        assert email_phone(invite) == page_phone(page)
        number, pin = email_phone(invite)
        assert number == DIAL_IN
        assert "This PIN is yours alone" in page
        pins.add(pin)
    assert len(pins) == 2  # the mediator's and Zoë's own


async def test_a_jitsi_rooms_shared_pin_comes_with_the_dial_in_number_in_both(
    jitsi_dial_in: tuple[TestClient[Any, Any], Staff], settings: Settings
) -> None:
    client, staff = jitsi_dial_in
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    # A meeting with no PIN per person, only its room's (as one booked before the service
    # gave each person their own): the room stores no number, so Jitsi's is the one to call.
    async with client.app[DB].write() as session:
        meeting = await session.get(Meeting, uuid.UUID(booked.meeting_id))
        assert meeting is not None
        meeting.mediator_pin = None
        meeting.dial_in_pin = "54321"
        for invitation in await session.scalars(
            select(Invitation).where(col(Invitation.meeting_id) == meeting.id)
        ):
            invitation.phone_pin = None
    for sent in settings.mail_dir.glob("*.eml"):
        sent.unlink()  # only the invite sent again below is left to read
    zoe = booked.party_ids[ZOE]
    await staff.call("POST", f"/api/v1/cases/{booked.case_id}/parties/{zoe}/resend", expect=200)
    await deliver_mail(client)
    invite = the_invite(settings, ZOE)
    status, page, _ = await get(client, join_path(invite))
    assert status == 200
    assert email_phone(invite) == page_phone(page) == (DIAL_IN, "54321")
    assert "This is the meeting's PIN" in page
    _method, ics = calendar_part(invite) or ("", b"")
    assert f"{DIAL_IN}, PIN 54321" in str(Calendar.from_ical(ics).walk("VEVENT")[0]["DESCRIPTION"])
