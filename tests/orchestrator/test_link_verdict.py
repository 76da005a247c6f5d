"""One rule for whether a link still works, asked by both doors that take a join link.

``links.verdict`` is a pure function of the link's row, its party, its meeting and the
clock. The join page (``links.resolve``, the ORM read) and the video button (the click
path's Core read and cache, ``JoinFacts.target``) must give a person the same answer.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlmodel import col

from orchestrator.cases import links
from orchestrator.cases.links import LinkState, MeetingState, PartyState, Verdict
from orchestrator.core.errors import LinkInvalid
from orchestrator.core.models import Link, LinkScope, MeetingStatus
from orchestrator.meeting import link_cache
from orchestrator.web.keys import DB, SETTINGS
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import (
    START,
    booked_with_links,
    deliver_outbox,
    get,
    iso,
    join_links,
    path_of,
)

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CASE, OTHER_CASE = uuid.uuid4(), uuid.uuid4()
PARTY, MEETING = uuid.uuid4(), uuid.uuid4()

LINK = LinkState(
    case_id=CASE,
    revoked=False,
    expires_at=NOW + timedelta(days=1),
    party_id=PARTY,
    meeting_id=MEETING,
    meeting_sequence=2,
)
PARTY_HERE = PartyState(case_id=CASE, removed=False)
MEETING_HERE = MeetingState(case_id=CASE, status=MeetingStatus.scheduled, sequence=2)


@pytest.mark.parametrize(
    ("link", "party", "meeting", "expected"),
    [
        (LINK, PARTY_HERE, MEETING_HERE, Verdict.live),
        (replace(LINK, revoked=True), PARTY_HERE, MEETING_HERE, Verdict.revoked),
        (replace(LINK, expires_at=NOW), PARTY_HERE, MEETING_HERE, Verdict.expired),
        (LINK, replace(PARTY_HERE, removed=True), MEETING_HERE, Verdict.party_removed),
        (LINK, None, MEETING_HERE, Verdict.party_removed),
        (LINK, replace(PARTY_HERE, case_id=OTHER_CASE), MEETING_HERE, Verdict.party_removed),
        (LINK, PARTY_HERE, None, Verdict.unknown),
        (LINK, PARTY_HERE, replace(MEETING_HERE, case_id=OTHER_CASE), Verdict.unknown),
        (
            LINK,
            PARTY_HERE,
            replace(MEETING_HERE, status=MeetingStatus.cancelled),
            Verdict.cancelled,
        ),
        (LINK, PARTY_HERE, replace(MEETING_HERE, sequence=3), Verdict.superseded),
        # A link issued without a sequence outlives a move; a closed meeting's link is live
        # (the join door then says the meeting has ended).
        (
            replace(LINK, meeting_sequence=None),
            PARTY_HERE,
            replace(MEETING_HERE, sequence=3),
            Verdict.live,
        ),
        (LINK, PARTY_HERE, replace(MEETING_HERE, status=MeetingStatus.closed), Verdict.live),
        # The mediator's link and a link to no meeting need no party / no meeting.
        (replace(LINK, party_id=None), None, MEETING_HERE, Verdict.live),
        (replace(LINK, meeting_id=None, meeting_sequence=None), PARTY_HERE, None, Verdict.live),
        # The first reason wins: revoked before expired before removed before cancelled.
        (
            replace(LINK, revoked=True, expires_at=NOW),
            replace(PARTY_HERE, removed=True),
            replace(MEETING_HERE, status=MeetingStatus.cancelled),
            Verdict.revoked,
        ),
        (
            replace(LINK, expires_at=NOW),
            replace(PARTY_HERE, removed=True),
            MEETING_HERE,
            Verdict.expired,
        ),
        (
            LINK,
            replace(PARTY_HERE, removed=True),
            replace(MEETING_HERE, status=MeetingStatus.cancelled),
            Verdict.party_removed,
        ),
        (
            LINK,
            PARTY_HERE,
            replace(MEETING_HERE, status=MeetingStatus.cancelled, sequence=3),
            Verdict.cancelled,
        ),
    ],
)
def test_verdict_table(
    link: LinkState,
    party: PartyState | None,
    meeting: MeetingState | None,
    expected: Verdict,
) -> None:
    assert links.verdict(link, party=party, meeting=meeting, now=NOW) is expected


@pytest.mark.parametrize(
    ("found", "message"),
    [
        (Verdict.revoked, "this link has been withdrawn"),
        (Verdict.expired, "this link has expired"),
        (Verdict.party_removed, "this link has been withdrawn"),
        (Verdict.unknown, "this link is not valid"),
        (Verdict.cancelled, "this meeting has been cancelled"),
        (Verdict.superseded, "this meeting has been moved; please use the newest email"),
    ],
)
def test_a_dead_link_says_why(found: Verdict, message: str) -> None:
    with pytest.raises(LinkInvalid) as raised:
        links.ensure_live(found)
    assert raised.value.message == message
    assert raised.value.details == {"reason": found.value}


def test_a_live_link_passes() -> None:
    links.ensure_live(Verdict.live)


# ---------------------------------------------------------------------------- both doors


async def both_doors(client: TestClient[Any, Any], link: dict[str, Any]) -> list[tuple[int, str]]:
    """What the join page and the video button answer for one link: status and message."""
    path = path_of(link["url"])
    answers = []
    for door in (path, path + "/video"):
        status, text, location = await get(client, door)
        assert location is None, door
        answers.append((status, text))
    return answers


def assert_same_refusal(answers: list[tuple[int, str]], message: str) -> None:
    (page_status, page_text), (video_status, video_text) = answers
    assert page_status == video_status and 400 <= page_status < 500
    assert message in page_text and message in video_text


async def test_both_doors_refuse_a_dead_link_alike(
    client: TestClient[Any, Any], staff: Staff, clock: MutableClock
) -> None:
    ready, meeting, found = await booked_with_links(client, staff)
    clock.set(START)
    parent, officer = found[ready.parties["parent"]], found[ready.parties["la_officer"]]
    # Live: both doors open (the page, and the 303 into the room).
    assert (await get(client, path_of(parent["url"])))[0] == 200
    assert (await get(client, path_of(parent["url"]) + "/video"))[0] == 303

    # Moved: the old links are dead at both doors
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={
            "start": iso(START + timedelta(hours=4)),
            "duration_minutes": 120,
            "waive_rules": True,
            "waiver_reason": "Family agreed to the later time",
        },
        expect=200,
    )
    # (both doors say where the meeting went; only the new links open it)
    moved = await both_doors(client, parent)
    assert_same_refusal(moved, "Your meeting has moved")
    assert all("Tuesday 10 March 2026, 2pm to 4pm (UK time)" in text for _, text in moved)
    await deliver_outbox(client)
    fresh = await join_links(staff, meeting["id"])
    parent, officer = fresh[ready.parties["parent"]], fresh[ready.parties["la_officer"]]

    # Revoked by staff.
    async with client.app[DB].write() as session:
        link_id = links.decode(
            path_of(officer["url"]).removeprefix("/j/"),
            secret=client.app[SETTINGS].secret_key.get_secret_value(),
            scope=LinkScope.join_room,
            now=clock(),
        )
        await links.revoke(session, link_id=link_id, now=clock())
    assert_same_refusal(await both_doors(client, officer), "This link has been withdrawn.")

    # The party is removed.
    await staff.call(
        "DELETE", f"/api/v1/cases/{ready.case_id}/parties/{ready.parties['parent']}", expect=204
    )
    assert_same_refusal(await both_doors(client, parent), "This link has been withdrawn.")

    # Cancelled: the mediator's link dies at both doors too, and says why, alike.
    await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "x"}, expect=200
    )
    mediator = fresh["mediator"]
    assert_same_refusal(await both_doors(client, mediator), "This meeting has been cancelled")
    # A withdrawn link, or a removed party's, learns nothing of the cancellation.
    for withdrawn in (officer, parent):
        answers = await both_doors(client, withdrawn)
        assert_same_refusal(answers, "This link has been withdrawn.")
        assert not any("cancelled" in text for _, text in answers)
    # Even a withdrawn link put back is refused for the meeting's own reason, alike.
    async with client.app[DB].write() as session:
        await session.execute(
            sa.update(Link)
            .where(col(Link.meeting_id) == uuid.UUID(meeting["id"]))
            .values(revoked_at=None)
        )
    link_cache.bump()
    assert_same_refusal(await both_doors(client, officer), "This meeting has been cancelled")
