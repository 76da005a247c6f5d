"""Answers by RSVP link and by iTIP REPLY mail (Outlook, outlook.com, Gmail, Apple shapes)."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.__main__ import main
from orchestrator.core.models import Invitation, Meeting, PartStat
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import (
    book,
    deliver_mail,
    mail_to,
    make_case,
    read_folder,
    text_of,
    with_method,
)

SAMPLES = Path(__file__).parent.parent / "calendars" / "samples"
SAMPLE_UID = "26387e8e-7526-552a-be8e-61545b6e26f5@mediate.example"
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
TOKEN = "inbound-secret-0123456789"


async def partstat(client: TestClient[web.Request, web.Application], party_id: str) -> PartStat:
    async with client.app[DB].read() as session:
        invitation = await session.scalar(
            select(Invitation).where(col(Invitation.party_id) == uuid.UUID(party_id))
        )
        assert invitation is not None
        return invitation.partstat


def rsvp_url(text: str, answer: str) -> str:
    found = re.search(r"http://testserver\.local(/r/[^\s?]+)\?answer=" + answer, text)
    assert found is not None
    return found.group(1)


async def test_an_rsvp_link_asks_first_and_saves_on_the_button(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    invite = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), "zoe.carter@")[0]
    path = rsvp_url(text_of(invite), "declined")
    zoe = booked.party_ids["zoe.carter@family.example"]
    # A mail scanner fetching the link answers nothing.
    page = await client.get(path + "?answer=declined")
    assert page.status == 200
    body = await page.text()
    assert "Can you come to the meeting?" in body and "Tuesday 10 March 2026" in body
    assert 'value="declined" checked' in body
    assert await partstat(client, zoe) is PartStat.needs_action
    saved = await client.post(path, data={"answer": "declined"}, allow_redirects=False)
    assert saved.status == 303
    assert await partstat(client, zoe) is PartStat.declined
    thanks = await client.get(saved.headers["Location"])
    assert "No, I cannot come" in await thanks.text()
    # Someone else's answer is untouched.
    assert await partstat(client, booked.party_ids["bob.smith@council.example.gov.uk"]) is (
        PartStat.needs_action
    )


async def test_a_tampered_rsvp_link_gets_a_friendly_404(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    invite = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), "zoe.carter@")[0]
    path = rsvp_url(text_of(invite), "accepted")
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    for response in (
        await client.get(tampered),
        await client.post(tampered, data={"answer": "accepted"}),
    ):
        assert response.status == 404
        text = await response.text()
        assert "0333 006 2835" in text and "Zoë" not in text


async def test_a_moved_meeting_kills_old_rsvp_links(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    booked = await book(staff, await make_case(staff), START)
    await deliver_mail(client)
    invite = mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), "zoe.carter@")[0]
    path = rsvp_url(text_of(invite), "accepted")
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={"start": "2026-03-11T10:00:00Z", "duration_minutes": 120},
        expect=200,
    )
    assert (await client.get(path)).status == 404


# ---------------------------------------------------------------------------- by mail


async def sample_meeting(
    client: TestClient[Any, Any], staff: Staff, *, sequence: int, people: list[dict[str, Any]]
) -> dict[str, str]:
    """A booked meeting whose UID is the one the samples answer, sent at ``sequence``."""
    booked = await book(staff, await make_case(staff, people=people), START)
    async with client.app[DB].write() as session:
        meeting = await session.get(Meeting, uuid.UUID(booked.meeting_id))
        assert meeting is not None
        meeting.ical_uid = SAMPLE_UID
        meeting.sequence = meeting.calendar_sequence = sequence
        for invitation in await session.scalars(
            select(Invitation).where(col(Invitation.meeting_id) == meeting.id)
        ):
            invitation.last_sequence_sent = sequence
    return booked.party_ids


async def post_mail(client: TestClient[Any, Any], raw: bytes, token: str = TOKEN) -> Any:
    return await client.post(
        "/hooks/mail/inbound", data=raw, headers={"X-Orchestrator-Token": token}
    )


@pytest.fixture
def inbound(client: TestClient[Any, Any]) -> None:
    client.app[SETTINGS].inbound_mail_token = SecretStr(TOKEN)


@pytest.mark.parametrize(
    ("sample", "email", "sequence", "expected"),
    [
        ("outlook_desktop_reply.eml", "bob.smith@council.example.gov.uk", 1, PartStat.accepted),
        ("gmail_reply.eml", "zoe.carter@gmail.com", 2, PartStat.declined),
        ("apple_reply.eml", "dan.oneill@icloud.com", 0, PartStat.accepted),
    ],
)
async def test_calendar_replies_by_mail_update_the_answer(
    client: TestClient[Any, Any],
    staff: Staff,
    inbound: None,
    sample: str,
    email: str,
    sequence: int,
    expected: PartStat,
) -> None:
    people = [{"role": "parent", "name": "Person", "email": email}]
    ids = await sample_meeting(client, staff, sequence=sequence, people=people)
    response = await post_mail(client, (SAMPLES / sample).read_bytes())
    assert response.status == 200
    assert (await response.json())["result"] == "updated"
    assert await partstat(client, ids[email]) is expected


async def test_outlook_com_reply_without_organizer_or_sequence(
    client: TestClient[Any, Any], staff: Staff, inbound: None
) -> None:
    people = [{"role": "parent", "name": "Carer", "email": "carer.jones@outlook.com"}]
    ids = await sample_meeting(client, staff, sequence=1, people=people)
    ics = (SAMPLES / "outlook_com_tentative.ics").read_bytes()
    raw = (
        b"From: carer.jones@outlook.com\r\nTo: mediation@localhost\r\nSubject: Tentative\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
        + ics
    )
    response = await post_mail(client, raw)
    assert (await response.json())["result"] == "updated"
    assert await partstat(client, ids["carer.jones@outlook.com"]) is PartStat.tentative


async def test_a_stale_sequence_is_ignored(
    client: TestClient[Any, Any], staff: Staff, inbound: None
) -> None:
    people = [{"role": "la_officer", "name": "Bob", "email": "bob.smith@council.example.gov.uk"}]
    ids = await sample_meeting(client, staff, sequence=2, people=people)
    response = await post_mail(client, (SAMPLES / "outlook_desktop_reply.eml").read_bytes())
    assert (await response.json())["result"] == "stale"
    assert await partstat(client, ids["bob.smith@council.example.gov.uk"]) is PartStat.needs_action


async def test_an_unknown_uid_is_logged_and_dropped(
    client: TestClient[Any, Any], staff: Staff, inbound: None, caplog: pytest.LogCaptureFixture
) -> None:
    await book(staff, await make_case(staff), START)
    with caplog.at_level(logging.WARNING, logger="orchestrator.messaging.replies"):
        response = await post_mail(client, (SAMPLES / "gmail_reply.eml").read_bytes())
    assert response.status == 200
    assert (await response.json())["result"] == "unknown_uid"
    assert "unknown UID" in caplog.text
    assert "zoe" not in caplog.text.lower()  # no personal data in logs


async def test_the_inbound_hook_needs_the_token_and_caps_size(
    client: TestClient[Any, Any], staff: Staff, inbound: None
) -> None:
    raw = (SAMPLES / "gmail_reply.eml").read_bytes()
    assert (await post_mail(client, raw, token="wrong")).status == 401
    assert (await client.post("/hooks/mail/inbound", data=raw)).status == 401
    client.app[SETTINGS].inbound_mail_max_bytes = 10_000
    big = raw + b"x" * 20_000
    assert (await post_mail(client, big)).status == 413
    plain = (SAMPLES / "plain_no_calendar.eml").read_bytes()
    assert (await (await post_mail(client, plain)).json())["result"] == "not_a_reply"


async def test_the_inbound_hook_is_off_without_a_token(client: TestClient[Any, Any]) -> None:
    raw = (SAMPLES / "gmail_reply.eml").read_bytes()
    assert (await client.post("/hooks/mail/inbound", data=raw)).status == 404


def test_mail_ingest_command_reads_a_message_from_stdin(tmp_path: Path) -> None:
    env = {
        "ORCH_DATA_DIR": str(tmp_path),
        "ORCH_ENV": "dev",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "mail", "ingest"],
        input=(SAMPLES / "gmail_reply.eml").read_bytes(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"unknown_uid" in result.stdout


def outlook_com_mail(*, sender: str, dtstamp: str = "20260320T181102Z") -> bytes:
    """outlook.com's tentative REPLY (no ORGANIZER, no SEQUENCE) for carer.jones, sent by
    ``sender`` and stamped ``dtstamp``."""
    ics = (SAMPLES / "outlook_com_tentative.ics").read_bytes()
    ics = ics.replace(b"DTSTAMP:20260320T181102Z", b"DTSTAMP:" + dtstamp.encode())
    return (
        f"From: {sender}\r\nTo: mediation@localhost\r\nSubject: Tentative\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
        + ics
    )


async def test_a_reply_without_sequence_made_before_the_move_is_stale(
    client: TestClient[Any, Any], staff: Staff, inbound: None, clock: MutableClock
) -> None:
    people = [{"role": "parent", "name": "Carer", "email": "carer.jones@outlook.com"}]
    booked = await book(staff, await make_case(staff, people=people), START)
    async with client.app[DB].write() as session:
        meeting = await session.get(Meeting, uuid.UUID(booked.meeting_id))
        assert meeting is not None
        meeting.ical_uid = SAMPLE_UID
    carer = booked.party_ids["carer.jones@outlook.com"]
    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    await staff.call(
        "POST",
        f"/api/v1/meetings/{booked.meeting_id}/reschedule",
        json={"start": "2026-03-11T10:00:00Z", "duration_minutes": 120},
        expect=200,
    )

    # Answered on 2 March, to the invitation for the old time.
    old = await post_mail(
        client, outlook_com_mail(sender="carer.jones@outlook.com", dtstamp="20260302T120000Z")
    )
    assert (await old.json())["result"] == "stale"
    assert await partstat(client, carer) is PartStat.needs_action

    # Answered after the new time was sent: it counts.
    new = await post_mail(
        client, outlook_com_mail(sender="carer.jones@outlook.com", dtstamp="20260303T093000Z")
    )
    assert (await new.json())["result"] == "updated"
    assert await partstat(client, carer) is PartStat.tentative


async def test_one_party_cannot_answer_for_another(
    client: TestClient[Any, Any], staff: Staff, inbound: None, caplog: pytest.LogCaptureFixture
) -> None:
    people = [
        {"role": "parent", "name": "Carer", "email": "carer.jones@outlook.com"},
        {"role": "la_officer", "name": "Bob", "email": "bob.smith@council.example.gov.uk"},
    ]
    ids = await sample_meeting(client, staff, sequence=0, people=people)

    with caplog.at_level(logging.INFO, logger="orchestrator.messaging.replies"):
        response = await post_mail(
            client, outlook_com_mail(sender="Bob Smith <Bob.Smith@council.example.gov.uk>")
        )

    assert response.status == 200
    assert (await response.json())["result"] == "wrong_sender"
    assert await partstat(client, ids["carer.jones@outlook.com"]) is PartStat.needs_action
    assert await partstat(client, ids["bob.smith@council.example.gov.uk"]) is (
        PartStat.needs_action
    )
    assert "someone other than its attendee" in caplog.text
    assert "bob" not in caplog.text.lower() and "carer" not in caplog.text.lower()
    # The parent's own reply, in any letter case, still counts.
    own = await post_mail(client, outlook_com_mail(sender="Carer <Carer.Jones@Outlook.com>"))
    assert (await own.json())["result"] == "updated"
    assert await partstat(client, ids["carer.jones@outlook.com"]) is PartStat.tentative


async def test_a_reply_piped_to_mail_ingest_reaches_the_same_subscribers(
    client: TestClient[Any, Any],
    staff: Staff,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people = [{"role": "parent", "name": "Person", "email": "zoe.carter@gmail.com"}]
    ids = await sample_meeting(client, staff, sequence=2, people=people)
    endpoint = await staff.call(
        "POST",
        "/api/v1/webhooks",
        role="admin",
        json={"url": "http://127.0.0.1:9/events", "events": ["party.replied"]},
        expect=201,
    )
    monkeypatch.setenv("ORCH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ORCH_DATA_DIR", str(settings.data_dir))
    raw = (SAMPLES / "gmail_reply.eml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))

    await asyncio.to_thread(main, ["mail", "ingest"])

    assert capsys.readouterr().out.strip() == "updated"
    assert await partstat(client, ids["zoe.carter@gmail.com"]) is PartStat.declined
    # The case system hears of it, as it would of a reply posted to the service.
    log = await staff.call(
        "GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", role="admin", expect=200
    )
    assert [d["event_type"] for d in log["deliveries"]] == ["party.replied"]
