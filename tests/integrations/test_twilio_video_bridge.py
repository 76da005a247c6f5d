"""The phone bridge's line into a video room, against the fakes of both ends: phone
callers keyed their PIN into the bridge's conference, the bridge calls the video room (by
SIP, or its dial-in number and keys), and then the phone and video people share one room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from integrations.base import JoinIdentity, PhoneEntry, RoomSpec
from integrations.bbb import BbbConfig, BigBlueButtonProvider
from integrations.teams import TeamsConfig, TeamsProvider
from integrations.twilio_bridge import BRIDGE_LABEL, TwilioBridge
from integrations.zoom import ZoomConfig, ZoomProvider
from tests.fakes.bbb import API_PATH, BbbFake
from tests.fakes.graph import FakeGraph
from tests.fakes.twilio import FakeTwilio
from tests.fakes.zoom import FakeZoom
from tests.integrations.test_twilio_bridge import PhoneRoutes, Seat, make_bridge

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
NOW = START - timedelta(minutes=5)
SPEC = RoomSpec(
    room_key="joint-7f3a", title="Mediation meeting", start=START, end=START + timedelta(hours=2)
)
MEDIATOR = JoinIdentity(participant_ref="m-1", display_name="Mediator Sam", moderator=True)
CONFERENCE = "joint-7f3a"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def network() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
async def phone(aiohttp_server, network, session) -> tuple[TwilioBridge, PhoneRoutes]:
    twilio_server = await aiohttp_server(network.app)
    bridge = make_bridge(network, twilio_server, session)
    routes = PhoneRoutes(bridge, {"222222": Seat(CONFERENCE, "p-parent", moderator=False)})
    app_server = await aiohttp_server(routes.app)
    network.voice_url = str(app_server.make_url("/voice"))
    return bridge, routes


async def parent_dials_in(network: FakeTwilio):
    call = await network.dial_in("+447700900002")
    await network.press(call, "222222")
    return call


def status_url(network: FakeTwilio) -> str:
    return network.voice_url.replace("/voice", "/conf-events")


async def test_a_bigbluebutton_room_takes_the_bridge_line_by_sip(
    aiohttp_server, session, network, phone
) -> None:
    bridge, routes = phone
    bbb_fake = BbbFake("bbb-secret")
    server: TestServer = await aiohttp_server(bbb_fake.app())
    bbb = BigBlueButtonProvider(
        BbbConfig(
            base_url=str(server.make_url(API_PATH)),
            shared_secret="bbb-secret",
            sip_domain="bbb.example.test",
        ),
        session,
    )
    room = await bbb.create_room(replace(SPEC, pin="54321"))
    network.far_ends["sip:54321@bbb.example.test"] = lambda digits: bbb_fake.phone_line(
        "sip:54321@bbb.example.test", digits
    )
    async with session.get(bbb.join_url(room, MEDIATOR, now=NOW), allow_redirects=False) as r:
        assert r.status == 302, await r.text()
    parent = await parent_dials_in(network)
    assert network.conference_of(parent).status == "init"  # nobody to talk to yet

    entry = bbb.phone_entry(room)
    assert entry == PhoneEntry("sip:54321@bbb.example.test")
    line = network.calls[
        await bridge.bridge_to_room(CONFERENCE, entry, status_callback_url=status_url(network))
    ]

    conference = network.conference_of(parent)
    assert conference is not None and conference.status == "in-progress"
    assert line.to == "sip:54321@bbb.example.test" and line.conference == CONFERENCE
    labels = {p.label for p in conference.participants.values()}
    assert labels == {"p-parent", BRIDGE_LABEL}
    meeting = bbb_fake.meetings[room.room_id]
    # The mediator on video and the phone line in the same BigBlueButton meeting.
    assert [(u.role, u.dial_in) for u in meeting.attendees] == [
        ("MODERATOR", False),
        ("VIEWER", True),
    ]
    assert ("joined", CONFERENCE, "p-parent") in routes.seen()


async def test_a_zoom_meeting_holds_the_bridge_line_until_its_host_starts_it(
    aiohttp_server, session, network, phone
) -> None:
    bridge, _ = phone
    zoom_fake = FakeZoom()
    server = await aiohttp_server(zoom_fake.app)
    zoom = ZoomProvider(
        ZoomConfig(
            account_id=zoom_fake.account_id,
            client_id=zoom_fake.client_id,
            client_secret=zoom_fake.client_secret,
            webhook_secret_token=zoom_fake.webhook_secret_token,
            oauth_url=str(server.make_url("/oauth/token")),
            api_base=str(server.make_url("/v2")),
        ),
        session,
    )
    room = await zoom.create_room(SPEC)
    entry = zoom.phone_entry(room)
    assert entry is not None and not entry.is_sip
    network.far_ends[entry.address] = lambda digits: zoom_fake.phone_line(entry.address, digits)
    await parent_dials_in(network)

    line = network.calls[
        await bridge.bridge_to_room(CONFERENCE, entry, status_callback_url=status_url(network))
    ]

    assert line.conference == CONFERENCE
    (seat,) = zoom_fake.seats[room.room_id]
    assert seat.phone and seat.state == "waiting_for_host"
    zoom_fake.open(await zoom.personal_url(room, MEDIATOR, now=NOW))
    assert seat.state == "waiting_room"  # the host admits the phone line like anyone else


async def test_a_teams_meeting_puts_the_bridge_line_in_its_lobby(
    aiohttp_server, session, network, phone
) -> None:
    bridge, _ = phone
    graph = FakeGraph()
    server = await aiohttp_server(graph.app)
    teams = TeamsProvider(
        TeamsConfig(
            tenant_id=graph.tenant_id,
            client_id=graph.client_id,
            client_secret=graph.client_secret,
            organizer_user_id=graph.organizer_user_id,
            login_base=str(server.make_url("")).rstrip("/"),
            graph_base=str(server.make_url("/v1.0")),
        ),
        session,
    )
    room = await teams.create_room(SPEC)
    entry = teams.phone_entry(room)
    assert entry is not None
    network.far_ends[entry.address] = lambda digits: graph.phone_line(entry.address, digits)

    await bridge.bridge_to_room(CONFERENCE, entry, status_callback_url=status_url(network))

    assert [(s.name, s.state) for s in graph.seats[room.room_id]] == [("Phone", "lobby")]


async def test_a_line_nobody_answers_joins_no_conference(network, phone) -> None:
    bridge, _ = phone
    sid = await bridge.bridge_to_room(
        CONFERENCE, PhoneEntry("+442079460999", "ww1#"), status_callback_url=status_url(network)
    )
    assert network.calls[sid].status == "no-answer"
    assert CONFERENCE not in network.conferences
