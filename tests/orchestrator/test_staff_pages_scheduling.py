"""Finding a time and booking it from the case page, each step confirmed first."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import (
    AuditEvent,
    Link,
    LinkScope,
    Meeting,
    MeetingStatus,
    StaffRole,
    TimelineEntry,
)
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.orchestrator.invites_support import (
    deliver_mail,
    mail_to,
    read_folder,
    text_of,
    with_method,
)
from tests.orchestrator.web_support import Browser, make_user


async def ready_case(client: TestClient[Any, Any]) -> tuple[Browser, str]:
    """A case with a mediator and two parties, as a scheduler builds it."""
    await make_user(client, "sam@staff.example", StaffRole.scheduler, name="Sam")
    await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo Ahmed")
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")
    response = await browser.post(
        "/staff/cases/new",
        {
            "reference": "KIDS-9",
            "kind": "mediation",
            "local_authority": "Kent",
            "referral_date": "2026-02-27",
        },
    )
    case_path = response.headers["Location"].split("?")[0]
    _, page = await browser.get(case_path)
    mediator_id = re.search(r'<option value="([0-9a-f-]{36})"[^>]*>Mo Ahmed', page)
    assert mediator_id
    await browser.post(f"{case_path}/mediator", {"mediator_id": mediator_id.group(1)})
    for role, name, email in (
        ("parent", "Pat Jordan", "pat@family.example"),
        ("la_officer", "Lee Grant", "lee@kent.example"),
    ):
        await browser.post(
            f"{case_path}/parties", {"role": role, "name": name, "email": email, "channel": "video"}
        )
    return browser, case_path


async def test_poll_then_book_the_best_slot_after_confirming(client: TestClient[Any, Any]) -> None:
    browser, case_path = await ready_case(client)
    asked = await browser.post(f"{case_path}/availability", {"duration_minutes": "180"})
    assert asked.status == 303
    _, page = await browser.get(case_path)
    assert 'id="poll-matrix"' in page
    assert page.count("Not answered yet") == 2
    async with client.app[DB].read() as session:
        assert (
            len(
                (await session.scalars(select(Link).where(col(Link.scope) == LinkScope.poll))).all()
            )
            == 2
        )

    book_links = re.findall(r'href="(/staff/cases/[^"]+/book\?[^"]+)"', page)
    assert book_links, "no ranked times offered"
    status, confirm = await browser.get(html.unescape(book_links[0]))
    assert status == 200
    assert "Check and book the meeting" in confirm and "Pat Jordan" in confirm
    async with client.app[DB].read() as session:
        assert (await session.scalars(select(Meeting))).first() is None  # nothing yet

    start = re.search(r'name="start" value="([^"]+)"', confirm)
    assert start
    booked = await browser.post(
        f"{case_path}/book", {"start": start.group(1), "duration": "180", "mode": "video"}
    )
    assert booked.status == 303, await booked.text()
    async with client.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
    assert meeting.status is MeetingStatus.scheduled
    _, page = await browser.get(case_path)
    assert "Meeting booked" in page and f"/staff/meetings/{meeting.id}/reschedule" in page
    # The console is a mediator's: a scheduler is not offered a link they would be refused.
    assert f"/staff/meetings/{meeting.id}/console" not in page

    # Cancelling asks for a reason first.
    status, form = await browser.get(f"/staff/meetings/{meeting.id}/cancel")
    assert status == 200 and "Everyone is told at once" in form
    assert (
        await browser.post(f"/staff/meetings/{meeting.id}/cancel", {"reason": ""})
    ).status == 422
    done = await browser.post(f"/staff/meetings/{meeting.id}/cancel", {"reason": "Family unwell"})
    assert done.status == 303
    async with client.app[DB].read() as session:
        again = await session.get(Meeting, meeting.id)
    assert again is not None and again.status is MeetingStatus.cancelled


async def test_booking_page_names_the_rule_a_time_breaks_and_offers_the_waiver(
    client: TestClient[Any, Any],
) -> None:
    browser, case_path = await ready_case(client)
    soon = "2026-03-04T10:00:00+00:00"  # Wednesday: inside the family's five working days
    status, confirm = await browser.get(f"{case_path}/book?start={soon.replace('+', '%2B')}")
    assert status == 200
    assert 'id="rules-broken"' in confirm
    assert "The family must be told the date at least 5 working days before" in confirm
    assert 'name="waive_rules"' in confirm and 'name="waiver_reason"' in confirm
    # A time that keeps the rules shows neither the warning nor the waiver.
    _, fine = await browser.get(f"{case_path}/book?start=2026-03-11T10:00:00%2B00:00")
    assert 'id="rules-broken"' not in fine and 'name="waive_rules"' not in fine

    form = {"start": soon, "duration": "180", "mode": "video"}
    refused = await browser.post(f"{case_path}/book", form)
    assert refused.status == 422
    page = html.unescape(await refused.text())
    assert "That time breaks the scheduling rules shown below" in page
    assert "at least 5 working days before" in page
    no_reason = await browser.post(f"{case_path}/book", {**form, "waive_rules": "yes"})
    assert no_reason.status == 422
    assert "Say why the rules are waived" in await no_reason.text()
    async with client.app[DB].read() as session:
        assert (await session.scalars(select(Meeting))).first() is None  # nothing booked yet

    booked = await browser.post(
        f"{case_path}/book",
        {**form, "waive_rules": "yes", "waiver_reason": "Family agreed to shorter notice"},
    )
    assert booked.status == 303, await booked.text()
    async with client.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
        waived = (
            await session.scalars(
                select(TimelineEntry).where(col(TimelineEntry.kind) == "meeting.rules_waived")
            )
        ).one()
        audit = (
            await session.scalars(
                select(AuditEvent).where(col(AuditEvent.action) == "meeting.rules_waived")
            )
        ).one()
    assert meeting.status is MeetingStatus.scheduled
    assert "Family agreed to shorter notice" in waived.summary
    assert (
        audit.details is not None and audit.details["reason"] == "Family agreed to shorter notice"
    )
    _, page = await browser.get(case_path)
    assert "Family agreed to shorter notice" in html.unescape(page)  # on the case timeline


async def booked_meeting(client: TestClient[Any, Any]) -> tuple[Browser, Meeting]:
    """A ready case with a video meeting booked from its page for Wednesday 11 March, 10:00."""
    browser, case_path = await ready_case(client)
    form = {"start": "2026-03-11T10:00:00+00:00", "duration": "180", "mode": "video"}
    assert (await browser.post(f"{case_path}/book", form)).status == 303
    async with client.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
    return browser, meeting


async def test_moving_a_meeting_from_its_page_offers_the_same_waiver(
    client: TestClient[Any, Any],
) -> None:
    browser, meeting = await booked_meeting(client)
    path = f"/staff/meetings/{meeting.id}/reschedule"
    sunday = "2026-03-15T10:00:00+00:00"

    status, confirm = await browser.get(f"{path}?start={sunday.replace('+', '%2B')}&duration=180")
    assert status == 200
    assert "Sunday 15 March 2026 is a Sunday, not a working day" in confirm
    assert 'name="waive_rules"' in confirm
    move = {"start": sunday, "duration": "180", "confirmed": "yes"}
    refused = await browser.post(path, move)
    assert refused.status == 422
    assert "Sunday 15 March 2026 is a Sunday" in await refused.text()
    moved = await browser.post(
        path, {**move, "waive_rules": "yes", "waiver_reason": "The school hall is free then"}
    )
    assert moved.status == 303, await moved.text()
    async with client.app[DB].read() as session:
        again = await session.get(Meeting, meeting.id)
    assert again is not None and again.sequence == 1


async def test_moving_a_meeting_from_the_case_page_sends_new_invites(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    browser, meeting = await booked_meeting(client)
    case_path = f"/staff/cases/{meeting.case_id}"
    await deliver_mail(client)
    before = {m["Message-ID"] for m in read_folder(settings.mail_dir)}

    _, page = await browser.get(case_path)
    move = re.search(r'href="(/staff/meetings/[0-9a-f-]{36}/reschedule)"', page)
    assert move, "the case page offers no way to move the meeting"
    status, form_page = await browser.get(move.group(1))
    assert status == 200 and "Move the meeting" in form_page
    assert "Wednesday 11 March 2026" in form_page
    # The scheduler types a local time into the form; the next step asks to confirm it.
    asked = await browser.post(move.group(1), {"start": "2026-03-18T10:00", "duration": "180"})
    assert asked.status == 303, await asked.text()
    status, confirm = await browser.get(asked.headers["Location"])
    assert status == 200
    assert "New time: <strong>Wednesday 18 March 2026" in confirm
    start = re.search(r'name="start" value="([^"]+)"', confirm)
    assert start
    moved = await browser.post(
        move.group(1), {"start": start.group(1), "duration": "180", "confirmed": "yes"}
    )
    assert moved.status == 303, await moved.text()
    status, page = await browser.get(moved.headers["Location"])
    assert "Meeting moved; new invites are on their way" in page
    assert "Wednesday 18 March 2026" in page and "Wednesday 11 March 2026" not in page

    await deliver_mail(client)
    new = [m for m in read_folder(settings.mail_dir) if m["Message-ID"] not in before]
    updates = with_method(new, "REQUEST")
    pat = mail_to(updates, "pat@family.example")
    assert len(pat) == 1 and str(pat[0]["Subject"]).startswith("Updated:")
    assert "Wednesday 18 March 2026, 10am to 1pm (UK time)" in text_of(pat[0])


async def test_the_move_page_offers_the_best_times_like_the_booking_page(
    client: TestClient[Any, Any],
) -> None:
    browser, case_path = await ready_case(client)
    _, case_page = await browser.get(case_path)
    best = re.search(r'href="/staff/cases/[^"]+/book\?start=([^"&]+)', case_page)
    assert best, "the case page offers no times"
    form = {"start": unquote(best.group(1)), "duration": "180", "mode": "video"}
    assert (await browser.post(f"{case_path}/book", form)).status == 303  # the best time
    async with client.app[DB].read() as session:
        meeting = (await session.scalars(select(Meeting))).one()
    path = f"/staff/meetings/{meeting.id}/reschedule"

    status, page = await browser.get(path)
    assert status == 200 and 'id="best-times"' in page
    offered = re.findall(rf'href="({re.escape(path)}\?start=[^"]+)">([^<]+)</a>', page)
    assert offered, "the move page offers no times"
    now = re.search(r"Now: ([^<]+)\.</p>", page)
    assert now and now.group(1) not in [text for _, text in offered]  # no "move" to itself
    link, shown = offered[0]
    status, confirm = await browser.get(html.unescape(link))
    assert status == 200
    assert f"New time: <strong>{shown}" in confirm
    start = re.search(r'name="start" value="([^"]+)"', confirm)
    assert start
    moved = await browser.post(
        path, {"start": start.group(1), "duration": "180", "confirmed": "yes"}
    )
    assert moved.status == 303, await moved.text()
    _, case_page = await browser.get(moved.headers["Location"])
    assert shown in case_page
    async with client.app[DB].read() as session:
        again = await session.get(Meeting, meeting.id)
    assert again is not None and again.sequence == 1
    assert again.start_at.isoformat() == datetime.fromisoformat(start.group(1)).isoformat()
