"""A mediator's private calendar feed: their live sessions, a URL staff can rotate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient
from icalendar import Calendar

from tests.conftest import Staff
from tests.orchestrator.invites_support import book, make_case

START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


async def test_the_feed_lists_live_sessions_and_rotates(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await book(staff, await make_case(staff, reference="KIDS-2026-042"), START)
    second = await make_case(staff, reference="KIDS-2026-043")
    feed = await staff.call("GET", f"/api/v1/mediators/{booked.mediator_id}/feed", expect=200)
    url = feed["url"]
    assert url.startswith("http://testserver.local/feeds/mediators/") and url.endswith(".ics")
    again = await staff.call("GET", f"/api/v1/mediators/{booked.mediator_id}/feed", expect=200)
    assert again["url"] == url  # stable until rotated
    path = urlsplit(url).path
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/calendar"
    calendar = Calendar.from_ical(await response.read())
    assert "METHOD" not in calendar
    events = calendar.walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["SEND mediation meeting – KIDS-2026-042"]
    assert events[0].decoded("DTSTART").astimezone(UTC) == START
    assert "/j/" in str(events[0]["URL"])
    assert "zoe" not in (await response.text()).lower()  # no party names or addresses
    # A cancelled meeting leaves the feed.
    await staff.call(
        "POST", f"/api/v1/meetings/{booked.meeting_id}/cancel", json={"reason": "x"}, expect=200
    )
    calendar = Calendar.from_ical(await (await client.get(path)).read())
    assert calendar.walk("VEVENT") == []
    # Rotating kills the old URL at once.
    rotated = await staff.call(
        "POST", f"/api/v1/mediators/{booked.mediator_id}/feed/rotate", expect=200
    )
    assert rotated["url"] != url
    assert (await client.get(path)).status == 404
    assert (await client.get(urlsplit(rotated["url"]).path)).status == 200
    assert second.case_id  # another case of the same mediator, not booked: not in the feed


async def test_only_staff_and_the_mediator_themself_get_the_url(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    booked = await make_case(staff)
    await staff.call("GET", f"/api/v1/mediators/{booked.mediator_id}/feed", role=None, expect=401)
    # A mediator user who is not this mediator sees nothing.
    await staff.call(
        "GET", f"/api/v1/mediators/{booked.mediator_id}/feed", role="mediator", expect=404
    )
    assert (await client.get("/feeds/mediators/not-a-token.ics")).status == 404
