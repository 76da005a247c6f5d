"""Who is coming: each person's answers with when and by which door, and the board's count."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.models import Meeting, PartStat, Party
from orchestrator.messaging import replies
from orchestrator.scheduling import lookups, who_is_coming
from orchestrator.web.keys import BUS, CLOCK, DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.invites_support import book, make_case

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


async def answer(
    client: TestClient[Any, Any], meeting_id: str, party_id: str, partstat: PartStat, source: str
) -> None:
    """Record an answer as the RSVP page (source "link") or a calendar's reply ("email") does."""
    async with client.app[DB].write() as session:
        meeting = await session.get(Meeting, uuid.UUID(meeting_id))
        party = await session.get(Party, uuid.UUID(party_id))
        assert meeting is not None and party is not None
        found = await lookups.party_invitation(session, meeting_id=meeting.id, party_id=party.id)
        assert found is not None
        await replies.record_answer(
            session,
            invitation=found,
            party=party,
            meeting=meeting,
            partstat=partstat,
            source=source,
            now=client.app[CLOCK](),
            bus=client.app[BUS],
        )


async def test_each_answer_is_kept_with_when_and_by_which_door(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    booked = await book(staff, await make_case(staff), START)
    zoe = booked.party_ids["zoe.carter@family.example"]
    bob = booked.party_ids["bob.smith@council.example.gov.uk"]
    patel = booked.party_ids["head@school.example"]
    clock.advance(hours=1)
    await answer(client, booked.meeting_id, zoe, PartStat.accepted, "link")
    await answer(client, booked.meeting_id, bob, PartStat.declined, "email")

    async with client.app[DB].read() as session:
        found = await who_is_coming.replies_of_case(session, case_id=uuid.UUID(booked.case_id))
    by_party = {str(k): v for k, v in found.items()}
    accepted, declined = by_party[zoe].invite, by_party[bob].invite
    assert accepted is not None and declined is not None
    assert accepted.answer is PartStat.accepted
    assert accepted.door == "rsvp"
    assert accepted.answered_at == clock()
    assert declined.answer is PartStat.declined
    assert declined.door == "calendar"
    waiting = by_party[patel].invite
    assert waiting is not None and waiting.answer is PartStat.needs_action and waiting.door is None
    assert by_party[zoe].poll is None  # nobody was polled for this case


async def test_the_board_counts_acceptances_for_many_cases_at_once(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    first = await book(staff, await make_case(staff), START)
    second = await book(staff, await make_case(staff), START + timedelta(days=1))
    unbooked = await make_case(staff)
    await answer(
        client,
        first.meeting_id,
        first.party_ids["zoe.carter@family.example"],
        PartStat.accepted,
        "link",
    )
    ids = [uuid.UUID(b.case_id) for b in (first, second, unbooked)]
    async with client.app[DB].read() as session:
        counts = await who_is_coming.accepted_counts(session, case_ids=ids)
    invited = len(first.party_ids)
    assert counts[ids[0]] == who_is_coming.AcceptedCount(accepted=1, invited=invited)
    assert counts[ids[1]] == who_is_coming.AcceptedCount(accepted=0, invited=invited)
    assert ids[2] not in counts
