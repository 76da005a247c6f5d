"""Two real replicas on one PostgreSQL database: every effect happens exactly once.

The processes run on the real clock, so meetings are booked a couple of minutes ahead
with a one-minute reminder offset: invitations, rooms and reminders all go out during
the test, through a real SMTP server that counts what reaches it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest

from tests.fakes.jitsi import occupant_event, post_event_sync
from tests.scaleout.conftest import (
    EVENT_SYNC_TOKEN,
    Cluster,
    expected_message_ids,
    fetch,
    wait_drained,
)
from tests.scaleout.support import book, make_case, soon

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CASES = 6
RACERS = 8


async def wait_reminders_sent(url: str, *, within: float) -> int:
    """Wait (bounded) until every reminder row is sent or dropped; return how many are left."""
    deadline = time.monotonic() + within
    left = -1
    while time.monotonic() < deadline:
        rows = await fetch(
            url,
            "SELECT count(*) AS n FROM reminder WHERE sent_at IS NULL AND cancelled_at IS NULL",
        )
        left = int(rows[0]["n"])
        if left == 0:
            return 0
        await asyncio.sleep(0.5)
    return left


async def test_two_replicas_book_mail_remind_and_record_each_thing_once(
    cluster: Cluster,
) -> None:
    bases = [replica.url for replica in cluster.replicas]
    headers = cluster.headers()
    start = soon(80)  # the one-minute reminder falls due ~20 s from now
    async with aiohttp.ClientSession() as http:
        cases = await asyncio.gather(
            *(make_case(http, bases[n % 2], headers, n) for n in range(CASES))
        )
        booked = await asyncio.gather(
            *(
                book(http, bases[(n + 1) % 2], headers, case.case_id, start)
                for n, case in enumerate(cases)
            )
        )
        for case, (_, meeting) in zip(cases, booked, strict=True):
            case.meeting_id = meeting["id"]

        # One mediator, RACERS cases, overlapping times, bookings split over both replicas.
        first = await make_case(http, bases[0], headers, 100)
        rivals = [first] + [
            await make_case(http, bases[n % 2], headers, 100 + n, mediator_id=first.mediator_id)
            for n in range(1, RACERS)
        ]
        race = await asyncio.gather(
            *(
                book(
                    http,
                    bases[n % 2],
                    headers,
                    rival.case_id,
                    start + timedelta(minutes=n % 3),
                    expect=None,
                )
                for n, rival in enumerate(rivals)
            )
        )
        statuses = sorted(status for status, _ in race)
        assert statuses == [201] + [409] * (RACERS - 1), race

        # Rooms are made through the outbox; then Jitsi reports a join to BOTH replicas.
        assert (
            await wait_drained(cluster.database_url, within=60, settle_kinds="provider_call") == 0
        )
        rooms = await fetch(
            cluster.database_url,
            "SELECT r.meeting_id::text AS meeting_id, r.provider_room_id FROM room r "
            "WHERE r.kind = 'main'",
        )
        room_of = {row["meeting_id"]: row["provider_room_id"] for row in rooms}
        refs = {
            str(row["id"]): row["participant_ref"]
            for row in await fetch(cluster.database_url, "SELECT id, participant_ref FROM party")
        }
        headers_sync = {"Authorization": f"Bearer {EVENT_SYNC_TOKEN}"}
        joined_at = int(start.timestamp()) + 30
        for case in cases:
            assert case.meeting_id is not None
            room = room_of[case.meeting_id]
            assert room, "every booked meeting has its room"
            event = occupant_event(
                "muc-occupant-joined",
                room,
                muc_domain="conference.meet.jit.si",
                occupant_jid=f"{room}@conference.meet.jit.si/x",
                user={"id": refs[case.parties["parent"]], "name": "Sam"},
                at=joined_at,
            )
            answers = await asyncio.gather(
                *(
                    post_event_sync(http, base + "/hooks/jitsi", event, headers=headers_sync)
                    for base in bases
                )
            )
            assert answers == [200, 200]

    assert await wait_reminders_sent(cluster.database_url, within=150) == 0
    assert await wait_drained(cluster.database_url, within=60, settle_kinds="email") == 0
    await asyncio.sleep(1)  # let the last SMTP transaction reach the sink's counter

    events = await fetch(
        cluster.database_url,
        "SELECT meeting_id::text AS meeting_id, count(*) AS n FROM participant_event "
        "WHERE source = 'jitsi' GROUP BY meeting_id",
    )
    assert {row["meeting_id"]: row["n"] for row in events} == {case.meeting_id: 1 for case in cases}

    expected = await expected_message_ids(cluster.database_url)
    counts = cluster.smtp.sink.counts()
    assert set(counts) == set(expected), "every queued email arrived, nothing else did"
    assert [mid for mid, n in counts.items() if n > 1] == [], "no email arrived twice"

    reminders = await fetch(
        cluster.database_url, "SELECT count(*) AS n FROM reminder WHERE sent_at IS NOT NULL"
    )
    winners = 1
    # Each booked meeting's two parties get one one-minute reminder each, sent once.
    assert reminders[0]["n"] == 2 * (CASES + winners)
    keys = list(expected.values())
    assert sum(key.startswith("reminder:") for key in keys) == 2 * (CASES + winners)
    sent = await fetch(
        cluster.database_url,
        "SELECT status, count(*) AS n FROM outbox_message GROUP BY status",
    )
    assert {row["status"]: row["n"] for row in sent}.keys() == {"sent"}
