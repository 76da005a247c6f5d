"""A scheduler enters a phone-only party's answers: same rules, marked with who entered them."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.models import (
    AuditEvent,
    Invitation,
    PartStat,
    PollAnswer,
    PollResponse,
    TimelineEntry,
)
from orchestrator.web.keys import DB
from tests.orchestrator.test_staff_pages_scheduling import ready_case


async def phone_only_party(client: TestClient[Any, Any]) -> tuple[Any, str, str]:
    """The scheduling case plus Dee, who has a phone and no email; a poll sent."""
    browser, case_path = await ready_case(client)
    added = await browser.post(
        f"{case_path}/parties",
        {"role": "parent", "name": "Dee Walker", "phone": "07700 900123", "channel": "phone"},
    )
    assert added.status == 303, await added.text()
    asked = await browser.post(f"{case_path}/availability", {"duration_minutes": "180"})
    assert asked.status == 303
    _, page = await browser.get(case_path)
    row = re.search(r'id="party-([0-9a-f-]{36})">\s*<th[^>]*>Dee Walker', page)
    assert row, "Dee is not on the case page"
    path = f"{case_path}/parties/{row.group(1)}/answers"
    assert f'href="{path}">Enter answers from a call' in page
    return browser, case_path, path


def slots(page: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'name="(slot-[0-9TZ]+)"', page)))


async def test_a_scheduler_enters_a_phone_only_partys_poll_answers(
    client: TestClient[Any, Any],
) -> None:
    browser, case_path, path = await phone_only_party(client)
    status, form = await browser.get(path)
    assert status == 200 and "Answers from a call with Dee Walker" in form
    times = slots(form)
    assert len(times) >= 2
    empty = await browser.post(path, {"note": ""})
    assert empty.status == 400
    assert f'href="#{times[0]}-yes"' in await empty.text()

    saved = await browser.post(path, {times[0]: "yes", times[1]: "no", "note": "Mornings"})
    assert saved.status == 303, await saved.text()

    async with client.app[DB].read() as session:
        answers = (await session.scalars(select(PollAnswer))).all()
        response = (await session.scalars(select(PollResponse))).all()
        entry = (
            await session.scalars(
                select(TimelineEntry).where(col(TimelineEntry.kind) == "poll.answered")
            )
        ).one()
        audit = (
            await session.scalars(
                select(AuditEvent).where(col(AuditEvent.action) == "poll.answer_for_party")
            )
        ).all()
    assert {a.entered_by for a in answers} == {"Sam (scheduler)"}
    [dees] = [r for r in response if r.entered_by]
    assert dees.answered_at is not None and dees.note == "Mornings"
    assert entry.summary.endswith("(entered by Sam (scheduler) after a phone call)")
    assert entry.actor and entry.actor.startswith("scheduler:")
    assert len(audit) == 1 and audit[0].case_id is not None and audit[0].actor_id is not None
    _, page = await browser.get(case_path)
    assert "Entered by Sam (scheduler) after a phone call" in page  # the poll matrix
    assert "(entered by Sam (scheduler) after a phone call)" in page  # who is coming


async def test_a_scheduler_records_none_of_these_work_and_an_rsvp_by_phone(
    client: TestClient[Any, Any],
) -> None:
    browser, case_path, path = await phone_only_party(client)
    saved = await browser.post(path, {"call_me": "yes"})
    assert saved.status == 303
    _, page = await browser.get(case_path)
    assert "None of these work – call them" in page

    start = "2026-03-11T10:00:00+00:00"
    booked = await browser.post(
        f"{case_path}/book", {"start": start, "duration": "180", "mode": "video"}
    )
    assert booked.status == 303, await booked.text()
    _, form = await browser.get(path)
    assert 'name="rsvp"' in form
    assert (await browser.post(f"{path}/rsvp", {"rsvp": ""})).status == 400
    answered = await browser.post(f"{path}/rsvp", {"rsvp": "accepted"})
    assert answered.status == 303, await answered.text()
    async with client.app[DB].read() as session:
        party_id = path.split("/")[-2]
        invitation = (await session.scalars(select(Invitation))).all()
        replied = (
            await session.scalars(
                select(TimelineEntry).where(col(TimelineEntry.kind) == "party.replied")
            )
        ).one()
        audit = (
            await session.scalars(
                select(AuditEvent).where(col(AuditEvent.action) == "invite.answer_for_party")
            )
        ).all()
    dees = [i for i in invitation if str(i.party_id) == party_id]
    assert dees and dees[0].partstat is PartStat.accepted
    assert "on the phone (entered by Sam (scheduler) after a phone call)" in replied.summary
    assert (replied.details or {}).get("source") == "phone"
    assert len(audit) == 1
    _, page = await browser.get(case_path)
    assert "on the phone, entered by staff" in page
