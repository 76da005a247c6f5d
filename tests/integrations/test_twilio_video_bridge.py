"""The phone bridge's line into a video room, against the fakes of both ends: phone
callers keyed their PIN into the bridge's conference, the bridge calls the video room (by
SIP, or its dial-in number and keys), and then the phone and video people share one room."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from integrations.base import JoinIdentity, PhoneEntry, RoomSpec
from integrations.bbb import BbbConfig, BigBlueButtonProvider
from integrations.teams import TeamsProvider
from integrations.twilio_bridge import BRIDGE_LABEL, TwilioBridge
from integrations.zoom import ZoomProvider
from tests.fakes.bbb import API_PATH, BbbFake
from tests.fakes.graph import FakeGraph
from tests.fakes.twilio import Call, FakeTwilio
from tests.fakes.zoom import FakeZoom
from tests.integrations import test_teams, test_twilio_bridge, test_zoom
from tests.integrations.test_twilio_bridge import PhoneRoutes, Seat, make_bridge

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
NOW = START - timedelta(minutes=5)
SPEC = RoomSpec(
    room_key="joint-7f3a", title="Mediation meeting", start=START, end=START + timedelta(hours=2)
)
MEDIATOR = JoinIdentity(participant_ref="m-1", display_name="Mediator Sam", moderator=True)
CONFERENCE = "joint-7f3a"
session = test_twilio_bridge.session  # the same client-session fixture


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


async def ring(
    network: FakeTwilio, bridge: TwilioBridge, entry: PhoneEntry | None, far_end: Any
) -> Call:
    """Let ``far_end`` (a video fake) answer at ``entry`` and place the bridge's line there."""
    assert entry is not None
    network.far_ends[entry.address] = lambda digits: far_end.phone_line(entry.address, digits)
    sid = await bridge.bridge_to_room(CONFERENCE, entry, status_callback_url=status_url(network))
    return network.calls[sid]


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
    zoom = ZoomProvider(test_zoom.make_config(server, zoom_fake), session)
    room = await zoom.create_room(SPEC)
    await parent_dials_in(network)

    line = await ring(network, bridge, zoom.phone_entry(room), zoom_fake)

    assert line.conference == CONFERENCE and not line.to.startswith("sip:")
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
    teams = TeamsProvider(test_teams.make_config(server, graph), session)
    room = await teams.create_room(SPEC)

    await ring(network, bridge, teams.phone_entry(room), graph)

    assert [(s.name, s.state) for s in graph.seats[room.room_id]] == [("Phone", "lobby")]


async def test_a_line_nobody_answers_joins_no_conference(network, phone) -> None:
    bridge, _ = phone
    sid = await bridge.bridge_to_room(
        CONFERENCE, PhoneEntry("+442079460999", "ww1#"), status_callback_url=status_url(network)
    )
    assert network.calls[sid].status == "no-answer"
    assert CONFERENCE not in network.conferences
