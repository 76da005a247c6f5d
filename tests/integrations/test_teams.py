"""Teams adapter against the loopback fake of Microsoft Graph onlineMeetings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from integrations.base import JoinIdentity, RoomSpec
from integrations.errors import ProviderAuthError, ProviderUnavailable
from integrations.teams import TeamsConfig, TeamsProvider
from tests.fakes.graph import Attendee, FakeGraph

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
SPEC = RoomSpec(
    room_key="rk-1", title="Mediation meeting", start=START, end=START + timedelta(hours=3)
)
PARENT = JoinIdentity(participant_ref="p-1", display_name="Jane Parent")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def fake() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
async def server(aiohttp_server: AiohttpServer, fake: FakeGraph) -> TestServer:
    return await aiohttp_server(fake.app)


def make_config(server: TestServer, fake: FakeGraph, **overrides: object) -> TeamsConfig:
    settings: dict[str, object] = {
        "tenant_id": fake.tenant_id,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "organizer_user_id": fake.organizer_user_id,
        "login_base": str(server.make_url("")).rstrip("/"),
        "graph_base": str(server.make_url("/v1.0")),
        **overrides,
    }
    return TeamsConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def teams(session, server, fake) -> TeamsProvider:
    return TeamsProvider(make_config(server, fake), session)


async def test_meeting_is_created_with_organiser_only_lobby_bypass(teams, fake) -> None:
    room = await teams.create_room(SPEC)

    sent = fake.created[0]
    assert sent["subject"] == "Mediation meeting"
    assert sent["startDateTime"] == "2025-03-03T10:00:00Z"
    assert sent["endDateTime"] == "2025-03-03T13:00:00Z"
    assert sent["lobbyBypassSettings"] == {"scope": "organizer", "isDialInBypassEnabled": False}

    created = fake.meetings[room.room_id]
    assert teams.join_url(room, PARENT, now=START) == created["joinWebUrl"]
    assert room.dial_in_number == "+44 20 3443 8850"
    assert room.dial_in_pin == created["audioConferencing"]["conferenceId"]


@pytest.mark.parametrize("spelling", ["conferenceId", "ConferenceId"])
async def test_dial_in_pin_is_read_in_either_spelling(aiohttp_server, session, spelling) -> None:
    fake = FakeGraph(conference_id_key=spelling)
    server = await aiohttp_server(fake.app)
    room = await TeamsProvider(make_config(server, fake), session).create_room(SPEC)
    assert room.dial_in_pin == fake.meetings[room.room_id]["audioConferencing"][spelling]
    assert room.dial_in_pin is not None


async def test_attendance_reports_become_join_and_leave_signals(teams, fake) -> None:
    room = await teams.create_room(SPEC)
    fake.add_attendance_report(
        room.room_id,
        start="2025-03-03T10:00:05.1234567Z",
        end="2025-03-03T12:45:00.0000000Z",
        attendees=[
            Attendee(
                email="jane.parent@example.org",
                display_name="Jane Parent",
                role="Attendee",
                intervals=[
                    ("2025-03-03T10:01:00.0000000Z", "2025-03-03T11:00:00.0000000Z"),
                    ("2025-03-03T11:05:00.0000000Z", "2025-03-03T12:45:00.0000000Z"),
                ],
            ),
            Attendee(
                email="officer@la.example.gov.uk",
                display_name="LA Officer",
                role="Presenter",
                intervals=[("2025-03-03T10:03:00.0000000Z", "2025-03-03T12:40:00.0000000Z")],
            ),
        ],
    )

    signals = await teams.attendance(room, refs_by_email={"Jane.Parent@example.org": "p-1"})

    assert fake.report_requests == [{"$expand": "attendanceRecords"}]
    kinds = [(s.kind, s.participant_ref, s.at.strftime("%H:%M")) for s in signals]
    assert kinds == [
        ("room_started", None, "10:00"),
        ("room_ended", None, "12:45"),
        ("joined", "p-1", "10:01"),
        ("left", "p-1", "11:00"),
        ("joined", "p-1", "11:05"),
        ("left", "p-1", "12:45"),
        ("joined", None, "10:03"),
        ("left", None, "12:40"),
    ]
    assert all(s.room_id == room.room_id for s in signals)
    assert len({s.dedup_key for s in signals}) == len(signals)
    for personal in ("Jane", "LA Officer", "example.org", "la.example"):
        assert personal not in repr(signals)


async def test_attendance_is_stable_when_read_again(teams, fake) -> None:
    room = await teams.create_room(SPEC)
    fake.add_attendance_report(
        room.room_id,
        start="2025-03-03T10:00:00Z",
        end="2025-03-03T11:00:00Z",
        attendees=[Attendee("a@example.org", "A", "Attendee", [("2025-03-03T10:01:00Z", "")])],
    )
    first = await teams.attendance(room)
    again = await teams.attendance(room)
    assert [s.dedup_key for s in first] == [s.dedup_key for s in again]
    assert [s.kind for s in first] == ["room_started", "room_ended", "joined"]


async def test_token_is_fetched_once_and_reused(teams, fake) -> None:
    room = await teams.create_room(SPEC)
    await teams.attendance(room)
    assert fake.token_requests == 1


async def test_bad_client_secret_is_an_auth_error(session, server, fake) -> None:
    teams = TeamsProvider(make_config(server, fake, client_secret="wrong"), session)
    with pytest.raises(ProviderAuthError):
        await teams.create_room(SPEC)


async def test_missing_access_policy_for_the_organiser_is_an_auth_error(
    session, server, fake
) -> None:
    teams = TeamsProvider(make_config(server, fake, organizer_user_id="someone-else"), session)
    with pytest.raises(ProviderAuthError):
        await teams.create_room(SPEC)


async def test_graph_outage_and_timeout_are_retryable(session, server, fake) -> None:
    teams = TeamsProvider(make_config(server, fake, timeout_s=0.2), session)
    fake.fail_status = 503
    with pytest.raises(ProviderUnavailable):
        await teams.create_room(SPEC)
    fake.fail_status = None
    fake.hang = True
    with pytest.raises(ProviderUnavailable):
        await teams.create_room(SPEC)
    assert fake.created == []


# --------------------------------------------------------------------------- the mediator runs it

MEDIATOR_UPN = "sam.mediator@example.org"
HOSTED = replace(SPEC, host_account=MEDIATOR_UPN)


async def test_the_mediator_is_co_organiser_and_everyone_else_waits_in_the_lobby(
    teams, fake
) -> None:
    room = await teams.create_room(HOSTED)
    url = teams.join_url(room, PARENT, now=START)

    sent = fake.created[0]
    assert sent["participants"]["attendees"] == [{"upn": MEDIATOR_UPN, "role": "coorganizer"}]
    assert sent["lobbyBypassSettings"]["scope"] == "invited"
    parent = fake.join(url, name="Jane Parent")  # an anonymous guest, as parties are
    council = fake.join(url, name="LA Officer", upn="officer@la.example.gov.uk")
    assert (parent.state, council.state) == ("lobby", "lobby")
    with pytest.raises(PermissionError):  # nobody there yet who may admit them
        fake.admit(room.room_id, "Jane Parent")

    mediator = fake.join(url, name="Sam", upn=MEDIATOR_UPN)
    assert (mediator.state, mediator.role) == ("in_meeting", "coorganizer")
    fake.admit(room.room_id, "Jane Parent")
    assert parent.state == "in_meeting" and council.state == "lobby"


async def test_without_the_mediator_s_account_only_the_organiser_bypasses(teams, fake) -> None:
    room = await teams.create_room(SPEC)

    assert "participants" not in fake.created[0]
    seat = fake.join(teams.join_url(room, PARENT, now=START), name="Sam", upn=MEDIATOR_UPN)
    assert seat.state == "lobby"


async def test_attendance_names_the_co_organiser_and_the_party(teams, fake) -> None:
    room = await teams.create_room(HOSTED)
    fake.add_attendance_report(
        room.room_id,
        start="2025-03-03T10:00:00Z",
        end="2025-03-03T11:00:00Z",
        attendees=[
            Attendee(
                MEDIATOR_UPN, "Sam", "Organizer", [("2025-03-03T10:00:00Z", "2025-03-03T11:00:00Z")]
            ),
            Attendee(
                "jane@example.org",
                "Jane",
                "Attendee",
                [("2025-03-03T10:02:00Z", "2025-03-03T11:00:00Z")],
            ),
        ],
    )

    signals = await teams.attendance(
        room, refs_by_email={MEDIATOR_UPN: "m-1", "jane@example.org": "p-1"}
    )

    joined = {(s.participant_ref, s.at.strftime("%H:%M")) for s in signals if s.kind == "joined"}
    assert joined == {("m-1", "10:00"), ("p-1", "10:02")}
