"""Video call-backs: verified with each provider's scheme, recorded once, forgeries refused."""

from __future__ import annotations

import functools
import json
import time
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from yarl import URL

from orchestrator.core.models import Party
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB
from tests.conftest import MutableClock
from tests.fakes.bbb import API_PATH, BbbFake, post_webhook
from tests.fakes.jitsi import occupant_event, post_event_sync
from tests.fakes.zoom import FakeZoom
from tests.orchestrator.meetings_support import (
    START,
    book,
    deliver_outbox,
    events,
    get,
    join_links,
    let_in,
    live_app,
    path_of,
    ready_case,
    serve,
)

EVENT_SYNC_TOKEN = "event-sync-shared-token"


async def participant_ref(client: TestClient[web.Request, web.Application], party_id: str) -> str:
    import uuid

    async with client.app[DB].read() as session:
        party = await session.get(Party, uuid.UUID(party_id))
        assert party is not None
        return party.participant_ref


async def attendance(staff: Any, meeting_id: str) -> dict[str, Any]:
    body = await staff.call("GET", f"/api/v1/meetings/{meeting_id}/attendance", expect=200)
    return body  # type: ignore[no-any-return]


async def test_jitsi_event_sync_is_recorded_once_and_forgeries_refused(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff = await live_app(
        aiohttp_client, settings, clock, jitsi_event_sync_token=SecretStr(EVENT_SYNC_TOKEN)
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    room = (await staff.call("GET", f"/api/v1/meetings/{meeting['id']}", expect=200))["id"]
    assert room
    async with client.app[DB].read() as session:
        from orchestrator.meeting.rooms import main_room

        main = await main_room(session, __import__("uuid").UUID(meeting["id"]))
    ref = await participant_ref(client, ready.parties["parent"])
    joined_at = int((START + timedelta(minutes=2)).timestamp())
    joined = occupant_event(
        "muc-occupant-joined",
        str(main.provider_room_id),
        muc_domain="conference.meet.jit.si",
        occupant_jid=f"{main.provider_room_id}@conference.meet.jit.si/abc",
        user={"id": ref, "name": "Sam (parent)"},
        at=joined_at,
    )
    left = occupant_event(
        "muc-occupant-left",
        str(main.provider_room_id),
        muc_domain="conference.meet.jit.si",
        occupant_jid=f"{main.provider_room_id}@conference.meet.jit.si/abc",
        user={"id": ref, "name": "Sam (parent)"},
        at=joined_at + 3600,
    )
    prefix = str(client.make_url("/hooks/jitsi"))
    async with aiohttp.ClientSession() as http:
        good = {"Authorization": f"Bearer {EVENT_SYNC_TOKEN}"}
        assert await post_event_sync(http, prefix, joined, headers=good) == 200
        assert await post_event_sync(http, prefix, joined, headers=good) == 200  # a retry
        assert await post_event_sync(http, prefix, left, headers=good) == 200
        forged = {"Authorization": "Bearer guessed"}
        assert await post_event_sync(http, prefix, left, headers=forged) == 401
        assert await post_event_sync(http, prefix, left, headers={}) == 401
    clock.set(START + timedelta(hours=4))
    report = await attendance(staff, meeting["id"])
    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    assert parent["seconds_present"] == 3600  # the duplicate join did not count twice
    assert parent["status"] == "left"
    assert [e["kind"] for e in parent["events"]] == ["joined", "left"]
    assert len(await events(client, meeting["id"])) == 2


async def test_zoom_rooms_through_the_outbox_and_signed_webhooks(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    zoom = FakeZoom()
    zoom_url = await serve(aiohttp_server, zoom.app)
    client, staff = await live_app(
        aiohttp_client,
        settings,
        clock,
        zoom_account_id=zoom.account_id,
        zoom_client_id=zoom.client_id,
        zoom_client_secret=SecretStr(zoom.client_secret),
        zoom_webhook_secret_token=SecretStr(zoom.webhook_secret_token),
        zoom_oauth_url=zoom_url + "/oauth/token",
        zoom_api_base=zoom_url + "/v2",
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id, provider="zoom")
    await deliver_outbox(client)
    assert len(zoom.created) == 1
    assert "Sam" not in json.dumps(zoom.created) and "KIDS" not in json.dumps(zoom.created)
    shown = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}", expect=200)
    assert shown["room_ready"] and shown["provider"] == "zoom"
    zoom_id = next(iter(zoom.meetings))
    clock.set(START)
    links = await join_links(staff, meeting["id"])
    zoom.fail_status = 503  # Zoom down at the click: the page says to try again shortly
    status, page, _ = await get(client, path_of(links["mediator"]["url"]) + "/video")
    assert status == 503 and "try again" in page.lower()
    zoom.fail_status = None
    await let_in(client, staff, meeting["id"], links, ready.parties["parent"])
    clock.advance(seconds=30)
    status, _, parent_url = await get(
        client, path_of(links[ready.parties["parent"]]["url"]) + "/video"
    )
    assert status == 303 and parent_url is not None
    # The parent's own registrant link: before the host is there, they wait for the host.
    parent_seat = zoom.open(parent_url)
    assert parent_seat.state == "waiting_for_host" and parent_seat.registrant is not None
    assert parent_seat.registrant.first_name != "" and "@" in parent_seat.registrant.email
    assert "family.example" not in parent_seat.registrant.email  # an opaque address
    status, _, host_url = await get(client, path_of(links["mediator"]["url"]) + "/video")
    assert status == 303 and host_url is not None
    assert zoom.open(host_url).host and zoom_id in zoom.started_by_host
    assert parent_seat.state == "waiting_room"  # the mediator admits them now

    hook = str(client.make_url("/hooks/zoom/events"))
    now_s = int(START.timestamp())
    event = zoom.participant_event(
        "meeting.participant_joined",
        zoom_id,
        participant_uuid="p-1",
        at="2026-03-10T10:01:00Z",
        event_ts_ms=now_s * 1000,
        registrant=parent_seat.registrant,
    )
    async with aiohttp.ClientSession() as http:
        first = await zoom.deliver_webhook(http, hook, event, timestamp=now_s)
        again = await zoom.deliver_webhook(http, hook, event, timestamp=now_s)
        stale = await zoom.deliver_webhook(http, hook, event, timestamp=now_s - 3600)
        headers, body = zoom.signed_webhook(event, timestamp=now_s)
        headers["x-zm-signature"] = "v0=" + "0" * 64
        async with http.post(hook, data=body, headers=headers) as forged:
            forged_status = forged.status
        challenge = await zoom.deliver_webhook(
            http,
            hook,
            zoom.url_validation_event("plain-1", event_ts_ms=now_s * 1000),
            timestamp=now_s,
        )
    assert (first.status, again.status) == (200, 200)
    assert stale.status == 401 and forged_status == 401
    assert challenge.body["plainToken"] == "plain-1" and len(challenge.body["encryptedToken"]) == 64
    report = await attendance(staff, meeting["id"])
    # The registrant link names the parent: the join is theirs, once.
    assert report["unidentified_events"] == 0
    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    # Waited in our lobby, admitted there, their click went in, and Zoom saw them join.
    assert [e["kind"] for e in parent["events"]] == ["waiting", "admitted", "link_opened", "joined"]


async def test_bbb_room_join_lobby_and_checksummed_webhooks(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    bbb = BbbFake("bbb-shared-secret")
    bbb_url = await serve(aiohttp_server, bbb.app())
    client, staff = await live_app(
        aiohttp_client,
        settings,
        clock,
        video_provider="bbb",
        bbb_base_url=bbb_url + API_PATH,
        bbb_shared_secret=SecretStr("bbb-shared-secret"),
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    assert len(bbb.meetings) == 1
    bbb_meeting = next(iter(bbb.meetings.values()))
    assert "Sam" not in bbb_meeting.name and bbb_meeting.guest_policy == "ASK_MODERATOR"
    clock.set(START)
    found = await join_links(staff, meeting["id"])
    link = found[ready.parties["parent"]]
    await let_in(client, staff, meeting["id"], found, ready.parties["parent"])
    status, _, location = await get(client, path_of(link["url"]) + "/video")
    assert status == 303 and location is not None and location.startswith(bbb_url)
    exact = URL(location, encoded=True)  # as a browser sends it, not re-quoted
    async with aiohttp.ClientSession() as http, http.get(exact, allow_redirects=False) as r:
        assert r.status == 302
    ref = await participant_ref(client, ready.parties["parent"])
    # Let in through our lobby, the parent is not held again on BBB's guest list.
    assert bbb_meeting.waiting == [] and [u.user_id for u in bbb_meeting.attendees] == [ref]
    # The mediator comes in as moderator by their own link.
    mediator_link = (await join_links(staff, meeting["id"]))["mediator"]
    _, _, host = await get(client, path_of(mediator_link["url"]) + "/video")
    assert host is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(URL(host, encoded=True), allow_redirects=False) as r:
            assert r.status == 302
    assert sorted(u.role for u in bbb_meeting.attendees) == ["MODERATOR", "VIEWER"]

    callback = str(client.make_url("/hooks/bbb/events"))
    ts_ms = int(time.time() * 1000)
    clock.set(START.fromtimestamp(ts_ms / 1000, START.tzinfo))
    bbb.admit(bbb_meeting.meeting_id, ref)
    joined = bbb.mapped_event("user-joined", bbb_meeting.meeting_id, ref, ts_ms=ts_ms)
    async with aiohttp.ClientSession() as http:
        signed = functools.partial(
            post_webhook, http, callback, secret=bbb.secret, domain=bbb.domain
        )
        ok = await signed([joined], timestamp_ms=ts_ms)
        dup = await signed([joined], timestamp_ms=ts_ms)
        tampered = await signed([joined], timestamp_ms=ts_ms, body_override="event=[]")
        wrong = await post_webhook(
            http, callback, [joined], timestamp_ms=ts_ms, secret="guess", domain=bbb.domain
        )
        stale = await signed([joined], timestamp_ms=ts_ms - 2 * 3600 * 1000)
        # Correctly signed, but stamped a year ahead (or ten minutes): a replay kept for later.
        year_ahead = bbb.mapped_event("user-left", bbb_meeting.meeting_id, ref, ts_ms=ts_ms)
        ahead = [
            await signed([year_ahead], timestamp_ms=ts_ms + skew_ms)
            for skew_ms in (365 * 24 * 3600 * 1000, 10 * 60 * 1000)
        ]
        just_ahead = await signed([joined], timestamp_ms=ts_ms + 30 * 1000)
    assert (ok, dup, just_ahead) == (200, 200, 200)  # a clock a little fast is fine
    assert (tampered, wrong, stale) == (401, 401, 401)
    assert ahead == [401, 401]
    recorded = [e for e in await events(client, meeting["id"]) if e.source == "bbb"]
    assert [(str(e.party_id), e.status.value) for e in recorded] == [
        (ready.parties["parent"], "in_session")
    ]


async def test_a_provider_clock_far_off_cannot_stretch_attendance(
    aiohttp_client: Any, settings: Settings, clock: MutableClock, caplog: Any
) -> None:
    client, staff = await live_app(
        aiohttp_client, settings, clock, jitsi_event_sync_token=SecretStr(EVENT_SYNC_TOKEN)
    )
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id)
    await deliver_outbox(client)
    async with client.app[DB].read() as session:
        from orchestrator.meeting.rooms import main_room

        main = await main_room(session, __import__("uuid").UUID(meeting["id"]))
    ref = await participant_ref(client, ready.parties["parent"])

    def event(kind: str, at: int) -> dict[str, Any]:
        return occupant_event(
            kind,
            str(main.provider_room_id),
            muc_domain="conference.meet.jit.si",
            occupant_jid=f"{main.provider_room_id}@conference.meet.jit.si/abc",
            user={"id": ref, "name": "Sam (parent)"},
            at=at,
        )

    # The provider's clock says a year and more ago for the join; the leave is right.
    wrong = int((START - timedelta(days=400)).timestamp())
    right = int((START + timedelta(hours=1)).timestamp())
    prefix = str(client.make_url("/hooks/jitsi"))
    with caplog.at_level("WARNING", logger="orchestrator.meeting.attendance_signals"):
        async with aiohttp.ClientSession() as http:
            good = {"Authorization": f"Bearer {EVENT_SYNC_TOKEN}"}
            assert (
                await post_event_sync(
                    http, prefix, event("muc-occupant-joined", wrong), headers=good
                )
                == 200
            )
            assert (
                await post_event_sync(http, prefix, event("muc-occupant-left", right), headers=good)
                == 200
            )
    clock.set(START + timedelta(hours=4))

    report = await attendance(staff, meeting["id"])

    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    opens = START - timedelta(minutes=settings.join_opens_minutes)
    assert parent["seconds_present"] == (START + timedelta(hours=1) - opens).total_seconds()
    assert parent["joined_at"].replace("Z", "+00:00") == opens.isoformat()
    assert "clock skew" in caplog.text and meeting["id"] in caplog.text
    assert "Sam" not in caplog.text and ref not in caplog.text
