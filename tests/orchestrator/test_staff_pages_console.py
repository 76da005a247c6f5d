"""The mediator's room console and outcome form, and that nobody else's meeting opens."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from orchestrator.core.models import (
    Channel,
    Meeting,
    MeetingStatus,
    Outcome,
    ParticipantStatus,
    Party,
    PartyRole,
    StaffRole,
)
from orchestrator.meeting import attendance, rooms
from orchestrator.web.keys import DB
from tests.conftest import MutableClock
from tests.orchestrator.test_staff_pages_scheduling import ready_case
from tests.orchestrator.web_support import Browser, make_user


async def booked_meeting(client: TestClient[Any, Any]) -> tuple[Browser, Meeting]:
    browser, case_path = await ready_case(client)
    _, page = await browser.get(case_path)
    start = re.search(r"/book\?start=([^&]+)&amp;", page)
    assert start
    from urllib.parse import unquote

    response = await browser.post(
        f"{case_path}/book", {"start": unquote(start.group(1)), "duration": "180", "mode": "video"}
    )
    assert response.status == 303
    async with client.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
    return browser, meeting


async def arrive(
    client: TestClient[Any, Any],
    meeting: Meeting,
    party_id: uuid.UUID,
    at: datetime,
    *,
    status: ParticipantStatus = ParticipantStatus.in_lobby,
    room_id: uuid.UUID | None = None,
) -> None:
    """What a video provider's join call-back records: the person is in the lobby (or,
    with ``status``, in the room)."""
    async with client.app[DB].write() as session:
        await attendance.append(
            session,
            attendance.event_row(
                meeting_id=meeting.id,
                party_id=party_id,
                status=status,
                room_id=room_id,
                source="jitsi",
                channel=Channel.video,
                at=at,
            ),
        )


async def test_mediator_runs_the_room_and_records_the_outcome(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    _, meeting = await booked_meeting(client)
    client.session.cookie_jar.clear()
    clock.set(meeting.start_at)
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    status, page = await mo.get("/staff/sessions")
    assert status == 200 and f"/staff/meetings/{meeting.id}/console" in page
    assert page.index("Today") < page.index(f"/staff/meetings/{meeting.id}/console")
    console = f"/staff/meetings/{meeting.id}/console"
    assert (await mo.post(f"{console}/start")).status == 303
    async with client.app[DB].read() as session:
        parties = {p.role: p for p in (await session.scalars(select(Party))).all()}
    parent = parties[PartyRole.parent]
    await arrive(client, meeting, parent.id, clock())
    _, page = await mo.get(console)
    lobby = page.split('id="lobby"')[1].split("</ul>")[0]
    assert "Pat Jordan" in lobby and "Admit" in lobby

    clock.advance(minutes=1)
    assert (await mo.post(f"{console}/admit", {"party_id": str(parent.id)})).status == 303
    _, page = await mo.get(console)
    assert 'data-room="joint"' in page
    joint = page.split('data-room="joint"')[1].split("</ul>")[0]
    assert "Pat Jordan" in joint and "sent here, not yet seen here" in joint
    # The video service reports them in the joint room: the console no longer says "sent".
    async with client.app[DB].read() as session:
        joint_room = await rooms.main_room(session, meeting.id)
    seen = ParticipantStatus.in_session
    await arrive(client, meeting, parent.id, clock(), status=seen, room_id=joint_room.id)
    _, page = await mo.get(console)
    joint = page.split('data-room="joint"')[1].split("</ul>")[0]
    assert "Pat Jordan" in joint and "not yet seen" not in joint

    clock.advance(minutes=1)
    moved = await mo.post(
        f"{console}/caucus", {"label": "Family room", "party_ids": str(parent.id)}
    )
    assert moved.status == 303
    _, page = await mo.get(console)
    family = page.split('data-room="Family room"')[1].split("</ul>")[0]
    assert "Pat Jordan" in family

    clock.advance(minutes=1)
    assert (await mo.post(f"{console}/recall")).status == 303
    _, page = await mo.get(console)
    assert "Pat Jordan" in page.split('data-room="joint"')[1].split("</ul>")[0]

    clock.advance(minutes=1)
    asked = await mo.post(f"{console}/end")
    assert asked.headers["Location"] == f"{console}/end"  # ending takes a second step
    async with client.app[DB].read() as session:
        still = await session.get(Meeting, meeting.id)
    assert still is not None and still.status is MeetingStatus.in_session
    status, confirm = await mo.get(f"{console}/end")
    assert status == 200 and "End the session for everyone?" in confirm
    ended = await mo.post(f"{console}/end", {"confirm": "yes"})
    assert ended.headers["Location"] == f"/staff/meetings/{meeting.id}/outcome"
    status, form = await mo.get(f"/staff/meetings/{meeting.id}/outcome")
    assert status == 200 and "Record the outcome" in form
    missing = await mo.post(f"/staff/meetings/{meeting.id}/outcome", {})
    assert missing.status == 422 and "Choose what happened" in await missing.text()
    saved = await mo.post(
        f"/staff/meetings/{meeting.id}/outcome",
        {"result": "agreement", "issue_1": "Scribe support in exams", "agreed_1": "yes"},
    )
    assert saved.status == 303
    async with client.app[DB].read() as session:
        outcome = (await session.scalars(select(Outcome))).one()
        again = await session.get(Meeting, meeting.id)
    assert outcome.result.value == "agreement" and outcome.issues[0]["agreed"] is True
    assert again is not None and again.status is MeetingStatus.closed


async def test_another_mediator_cannot_open_the_console(client: TestClient[Any, Any]) -> None:
    _, meeting = await booked_meeting(client)
    await make_user(client, "kim@staff.example", StaffRole.mediator, name="Kim Lee")
    client.session.cookie_jar.clear()
    kim = Browser(client)
    await kim.sign_in("kim@staff.example")
    for path in ("console", "console/panel", "console/events", "outcome"):
        status, text = await kim.get(f"/staff/meetings/{meeting.id}/{path}")
        assert status == 404, path
        assert "KIDS-9" not in text
    refused = await kim.post(f"/staff/meetings/{meeting.id}/console/start")
    assert refused.status == 404
    async with client.app[DB].read() as session:
        stored = await session.get(Meeting, meeting.id)
    assert stored is not None
    assert stored.status is MeetingStatus.scheduled
    # A scheduler is not a mediator either.
    client.session.cookie_jar.clear()
    sam = Browser(client)
    await sam.sign_in("sam@staff.example")
    assert (await sam.get(f"/staff/meetings/{meeting.id}/console"))[0] == 403


async def test_the_console_says_when_the_session_can_be_started(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    _, meeting = await booked_meeting(client)
    client.session.cookie_jar.clear()
    clock.set(meeting.start_at - timedelta(minutes=76))
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    console = f"/staff/meetings/{meeting.id}/console"

    refused = await mo.post(f"{console}/start")

    assert refused.status == 303
    _, page = await mo.get(refused.headers["Location"])
    assert "The session can be started from" in page and "when joining opens" in page
    async with client.app[DB].read() as session:
        again = await session.get(Meeting, meeting.id)
    assert again is not None and again.status is MeetingStatus.scheduled


async def _ended(client: TestClient[Any, Any], clock: MutableClock) -> tuple[Browser, Meeting]:
    """A booked meeting the mediator has started and ended; signed in as the mediator."""
    _, meeting = await booked_meeting(client)
    client.session.cookie_jar.clear()
    clock.set(meeting.start_at)
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    console = f"/staff/meetings/{meeting.id}/console"
    assert (await mo.post(f"{console}/start")).status == 303
    clock.advance(minutes=60)
    assert (await mo.post(f"{console}/end", {"confirm": "yes"})).status == 303
    return mo, meeting


FOUR_ISSUES = {
    **{f"issue_{i}": f"Issue number {i}" for i in range(1, 5)},
    **{f"agreed_{i}": "yes" for i in range(1, 5)},
}


async def test_the_outcome_form_adds_rows_without_saving_and_takes_next_steps(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    mo, meeting = await _ended(client, clock)
    path = f"/staff/meetings/{meeting.id}/outcome"
    three = {k: v for k, v in FOUR_ISSUES.items() if not k.endswith("_4")}

    more = await mo.post(path, {"result": "agreement", **three, "add": "issue"})
    page = await more.text()
    assert more.status == 200 and 'id="issue_4"' in page and 'value="Issue number 3"' in page
    assert 'id="issue_4" name="issue_4" type="text" value="" autofocus' in page
    async with client.app[DB].read() as session:
        assert (await session.scalars(select(Outcome))).first() is None  # nothing saved

    half = await mo.post(
        path,
        {
            "result": "agreement",
            **FOUR_ISSUES,
            "step_action_1": "Send the amended plan",
            "step_due_1-day": "31",
            "step_due_1-month": "2",
            "step_due_1-year": "2026",
        },
    )
    refused = await half.text()
    assert half.status == 422 and "<title>Error:" in refused
    assert 'href="#step_who_1">Next step 1: say who will do it' in refused
    assert 'href="#step_due_1">Next step 1: enter a real date' in refused
    assert 'value="Issue number 4"' in refused  # what was typed is kept

    saved = await mo.post(
        path,
        {
            "result": "agreement",
            **FOUR_ISSUES,
            "step_action_1": "Send the amended plan",
            "step_who_1": "Lee Grant",
            "step_due_1-day": "27",
            "step_due_1-month": "3",
            "step_due_1-year": "2026",
        },
    )
    assert saved.status == 303
    async with client.app[DB].read() as session:
        outcome = (await session.scalars(select(Outcome))).one()
    assert len(outcome.issues) == 4
    assert outcome.next_steps == [
        {"action": "Send the amended plan", "who": "Lee Grant", "due": "2026-03-27"}
    ]
    _, again = await mo.get(saved.headers["Location"])
    assert "<h1" in again and "Issue the certificate</h1>" in again
    assert 'value="Issue number 4"' in again and 'id="issue_5"' in again
    assert (
        'id="step_due_1-day" name="step_due_1-day" type="text" inputmode="numeric" value="27"'
        in again
    )


async def test_the_outcome_page_issues_the_certificate_once_and_serves_its_pdf(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    mo, meeting = await _ended(client, clock)
    path = f"/staff/meetings/{meeting.id}/outcome"
    assert (await mo.post(path, {"result": "agreement", **FOUR_ISSUES})).status == 303

    issued = await mo.post(f"/staff/meetings/{meeting.id}/certificate")
    assert issued.status == 303 and issued.headers["Location"] == f"{path}?done=issued"
    _, page = await mo.get(issued.headers["Location"])
    assert "Certificate issued and sent" in page and "Outcome and certificate</h1>" in page
    assert "Waiting to be sent: <strong>Pat Jordan" in page

    pdf = f"/staff/meetings/{meeting.id}/certificate.pdf"
    shown = await mo.client.get(pdf)
    assert shown.status == 200 and shown.content_type == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline")
    saved = await mo.client.get(f"{pdf}?download=1")
    assert saved.headers["Content-Disposition"].startswith("attachment")
    assert await saved.read() == await shown.read()

    twice = await mo.post(f"/staff/meetings/{meeting.id}/certificate")
    assert twice.status == 409 and "was already issued for this" in await twice.text()
    corrected = await mo.post(path, {"result": "no_agreement"})
    assert corrected.status == 422 and "the outcome stands" in await corrected.text()
