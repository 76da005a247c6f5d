"""The information call (MIAS): the family books a 20-minute phone call from their own link,
the adviser marks it done, and its certificate is due 3 working days later."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlmodel import col, func, select

from orchestrator.cases import intake, roster
from orchestrator.core.db import connect
from orchestrator.core.errors import Conflict
from orchestrator.core.models import Meeting, MeetingStatus
from orchestrator.core.settings import Settings
from orchestrator.scheduling import mias_calls
from orchestrator.web.keys import BUS, DB, WORKDAYS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import deliver_mail, mail_to, read_folder, text_of
from tests.orchestrator.meetings_support import ready_case

FAMILY = "sam@family.example"
FAMILY_LINK = re.compile(r"https?://[^/\s]+(/f/[A-Za-z0-9_.\-]+)")
OFFERED = re.compile(r'name="start" type="radio" value="(\d{8}T\d{4}Z)"')


async def family_path(client: TestClient[Any, Any], settings: Settings, address: str) -> str:
    """The family's own link, read from the email they were sent."""
    await deliver_mail(client)
    mails = [
        m
        for m in mail_to(read_folder(settings.data_dir / "mail"), address)
        if FAMILY_LINK.search(text_of(m))
    ]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    found = FAMILY_LINK.search(text_of(mails[0]))
    assert found is not None
    return found.group(1)


async def book_first_time(client: TestClient[Any, Any], path: str) -> str:
    """Open the call page, choose the first time offered and book it; the time chosen."""
    page = await client.get(f"{path}/call")
    assert page.status == 200
    first = OFFERED.search(await page.text())
    assert first is not None, "no time offered"
    booked = await client.post(
        f"{path}/call",
        data={"start": first.group(1), "phone": "07700 900123"},
        allow_redirects=False,
    )
    assert booked.status == 303, await booked.text()
    return first.group(1)


async def test_the_family_books_a_20_minute_phone_call_from_their_link(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    ready = await ready_case(staff, kind="mias")
    path = await family_path(client, settings, FAMILY)
    home = await client.get(path)
    assert "Book your mediation information call" in await home.text()
    chosen = await book_first_time(client, path)

    meetings = (await staff.call("GET", f"/api/v1/cases/{ready.case_id}/meetings", expect=200))[
        "meetings"
    ]
    assert len(meetings) == 1
    start = datetime.fromisoformat(meetings[0]["start"])
    end = datetime.fromisoformat(meetings[0]["end"])
    assert start.strftime("%Y%m%dT%H%MZ") == chosen
    assert (end - start, meetings[0]["mode"]) == (timedelta(minutes=20), "phone")
    page = await (await client.get(path)).text()
    assert "Your call is booked" in page
    assert "will phone you on 07700 900123" in page

    await deliver_mail(client)
    mails = read_folder(settings.data_dir / "mail")
    invite = [m for m in mail_to(mails, FAMILY) if "Invitation" in str(m["Subject"])]
    assert len(invite) == 1
    words = " ".join(text_of(invite[0]).split())
    assert "telephone call of about 20 minutes" in words
    assert "will phone you on 07700 900123" in words
    assert "two to four hours" not in words
    assert "Join by video" not in words
    # The call is the adviser and the family: the LA officer on the case is not invited.
    assert not [m for m in mail_to(mails, "lee@kent.example") if "Invitation" in str(m["Subject"])]


async def test_a_time_gone_meanwhile_comes_back_with_the_error_on_the_page(
    client: TestClient[Any, Any], staff: Staff, settings: Settings
) -> None:
    await ready_case(staff, kind="mias")
    path = await family_path(client, settings, FAMILY)
    refused = await client.post(f"{path}/call", data={"start": "", "phone": "not a phone"})
    assert refused.status == 422
    html = await refused.text()
    assert "There is a problem" in html
    assert 'href="#start"' in html and 'href="#phone"' in html
    assert "<title>Error:" in html


async def test_the_adviser_marks_the_call_done_and_issues_the_certificate_on_time(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    ready = await ready_case(staff, kind="mias")
    path = await family_path(client, settings, FAMILY)
    await book_first_time(client, path)
    meeting = (await staff.call("GET", f"/api/v1/cases/{ready.case_id}/meetings", expect=200))[
        "meetings"
    ][0]
    done = f"/api/v1/meetings/{meeting['id']}/call-done"
    early = await staff.call("POST", done, role="mediator", expect=409)
    assert "once it has taken place" in early["error"]["message"]

    call_end = datetime.fromisoformat(meeting["end"])
    clock.set(call_end + timedelta(minutes=5))
    await staff.call("POST", done, role="mediator", expect=200)
    case = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
    call_day = call_end.astimezone(UTC).date()
    due = client.app[WORKDAYS].add_working_days(call_day, 3)
    assert case["deadlines"]["certificate_due"]["date"] == due.isoformat()
    assert case["status"] == "held"

    certificate = await staff.call(
        "POST",
        f"/api/v1/cases/{ready.case_id}/certificates",
        role="mediator",
        json={"kind": "mias", "meeting_id": meeting["id"]},
        expect=201,
    )
    assert (certificate["event_date"], certificate["on_time"]) == (call_day.isoformat(), True)
    after = await staff.call("GET", f"/api/v1/cases/{ready.case_id}", expect=200)
    assert after["deadlines"]["certificate_due"] is None
    assert after["status"] == "certificate_issued"


async def _second_mias_case(staff: Staff, mediator_id: str) -> str:
    """Another family's information call with the same adviser."""
    case = await staff.call(
        "POST",
        "/api/v1/cases",
        json={
            "reference": "KIDS-MIAS-2",
            "kind": "mias",
            "local_authority": "Kent",
            "referral_date": "2026-02-20",
        },
        expect=201,
    )
    await staff.call(
        "POST", f"/api/v1/cases/{case['id']}/mediator", json={"mediator_id": mediator_id}
    )
    await staff.call(
        "POST",
        f"/api/v1/cases/{case['id']}/parties",
        json={"role": "parent", "name": "Jo Other", "email": "jo@family.example"},
        expect=201,
    )
    return str(case["id"])


async def test_two_families_racing_for_one_adviser_time_end_with_one_call(
    client: TestClient[Any, Any], staff: Staff, settings: Settings, clock: MutableClock
) -> None:
    first = await ready_case(staff, kind="mias", parties=("parent",))
    second = await _second_mias_case(staff, first.mediator_id)
    app = client.app
    start = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, in office hours
    replica = connect(settings.database_url)  # a second instance on the same database

    async def attempt(db: Any, case_id: str) -> str:
        try:
            async with db.write() as session:
                case = await intake.get_case(session, uuid.UUID(case_id))
                (party,) = await roster.list_parties(session, case_id=case.id)
                await mias_calls.book_call(
                    session,
                    case=case,
                    party=party,
                    start=start,
                    phone="07700 900123",
                    offered={start},
                    now=clock(),
                    bus=app[BUS],
                    settings=settings,
                    workdays=app[WORKDAYS],
                )
        except Conflict:
            return "taken"
        return "booked"

    try:
        results = await asyncio.gather(attempt(app[DB], first.case_id), attempt(replica, second))
    finally:
        await replica.dispose()
    assert sorted(results) == ["booked", "taken"]
    async with app[DB].read() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(Meeting)
            .where(col(Meeting.status) == MeetingStatus.scheduled)
        )
    assert live == 1


def test_an_information_call_owes_no_notice_of_the_date() -> None:
    # The 5 working days' notice is for a mediation meeting, not a call the family books.
    from orchestrator.core.models import Case, CaseKind
    from orchestrator.scheduling.search_inputs import NOTICE_WORKING_DAYS, notice_for

    def case(kind: CaseKind) -> Case:
        return Case(reference="R", kind=kind, local_authority="Kent", referral_date=date.today())

    assert notice_for(case(CaseKind.mias)) == 0
    assert notice_for(case(CaseKind.mediation)) == NOTICE_WORKING_DAYS
