"""The phone bridge end to end: dial in, key a PIN, lobby, caucus moves, signed call-backs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from sqlmodel import col, select

from orchestrator.core.models import OutboxMessage, OutboxStatus, Room
from orchestrator.core.settings import Settings
from orchestrator.web.keys import DB, DISPATCHER
from tests.conftest import MutableClock, Staff
from tests.fakes.twilio import Call, Conference, FakeTwilio
from tests.orchestrator.meetings_support import (
    START,
    book,
    deliver_outbox,
    join_links,
    live_app,
    provider_calls,
    ready_case,
    serve,
)


async def phone_app(
    aiohttp_client: Any,
    aiohttp_server: Any,
    settings: Settings,
    clock: MutableClock,
    **more: Any,
) -> tuple[Any, Staff, FakeTwilio]:
    fake = FakeTwilio()
    api = await serve(aiohttp_server, fake.app)
    client, staff = await live_app(
        aiohttp_client,
        settings,
        clock,
        phone_bridge="twilio",
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=SecretStr(fake.auth_token),
        twilio_api_base=api,
        phone_dial_in_number=fake.phone_number,
        **more,
    )
    fake.voice_url = str(client.make_url("/hooks/twilio/voice"))
    return client, staff, fake


def conference_holding(fake: FakeTwilio, call: Call) -> Conference:
    """The conference ``call`` is in (a call in none fails the test here)."""
    conference = fake.conference_of(call)
    assert conference is not None, f"call {call.sid} is in no conference"
    return conference


async def where(staff: Staff, meeting_id: str) -> dict[str, tuple[str, str | None]]:
    state = await staff.call("GET", f"/api/v1/meetings/{meeting_id}/rooms", expect=200)
    rooms = {r["id"]: r["label"] for r in state["rooms"]}
    return {
        p["party_id"]: (p["status"], rooms.get(p["room_id"]) if p["room_id"] else None)
        for p in state["participants"]
    }


async def test_phone_meeting_pin_lobby_caucus_and_recall(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, fake = await phone_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=("parent", "la_officer"))
    meeting = await book(staff, ready.case_id, mode="phone", duration_minutes=120)
    assert meeting["provider"] == "twilio" and meeting["dial_in_number"] == fake.phone_number
    found = await join_links(staff, meeting["id"])
    pins = {key: link["phone_pin"] for key, link in found.items()}
    assert all(pin and len(pin) == 6 for pin in pins.values())
    assert len(set(pins.values())) == 3  # each person their own PIN

    # Too early: the PIN does not open the meeting yet.
    fake.now = clock()
    early = await fake.dial_in("+447700900001")
    await fake.press(early, pins[ready.parties["parent"]])
    await fake.press(early, pins[ready.parties["parent"]])
    await fake.press(early, pins[ready.parties["parent"]])
    assert early.status == "completed" and early.conference is None

    clock.set(START - timedelta(minutes=5))
    fake.now = clock()
    parent_call = await fake.dial_in("+447700900001")
    assert "PIN" in parent_call.heard[-1]
    await fake.press(parent_call, "999999")  # wrong: asked again
    assert "did not open a meeting" in parent_call.heard[-1]
    await fake.press(parent_call, pins[ready.parties["parent"]])
    async with client.app[DB].read() as session:
        found_rooms = await session.scalars(
            select(Room).where(col(Room.meeting_id) == uuid.UUID(meeting["id"]))
        )
        rooms = {r.kind: r for r in found_rooms.all()}
    assert conference_holding(fake, parent_call).name == rooms["main"].room_key
    assert set(fake.callback_statuses) == {204}
    assert (await where(staff, meeting["id"]))[ready.parties["parent"]] == (
        "in_lobby",
        "Joint room",
    )

    mediator_call = await fake.dial_in("+447700900099")
    await fake.press(mediator_call, pins["mediator"])
    assert conference_holding(fake, mediator_call).status == "in-progress"  # the mediator starts it

    clock.advance(minutes=5)
    await staff.call("POST", f"/api/v1/meetings/{meeting['id']}/start", role="mediator", expect=200)
    await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/admit",
        role="mediator",
        json={"party_id": ready.parties["parent"]},
        expect=200,
    )
    assert (await where(staff, meeting["id"]))[ready.parties["parent"]][0] == "in_session"

    clock.advance(minutes=20)
    fake.now = clock()
    state = await staff.call(
        "POST",
        f"/api/v1/meetings/{meeting['id']}/rooms",
        role="mediator",
        json={"label": "Family room", "party_ids": [ready.parties["parent"]]},
        expect=201,
    )
    caucus = next(r for r in state["rooms"] if r["kind"] == "caucus")
    await deliver_outbox(client)  # the bridge moves the live call
    async with client.app[DB].read() as session:
        caucus_room = await session.get(Room, uuid.UUID(caucus["id"]))
        assert caucus_room is not None
    assert conference_holding(fake, parent_call).name == caucus_room.room_key
    assert conference_holding(fake, mediator_call).name == rooms["main"].room_key
    assert (await where(staff, meeting["id"]))[ready.parties["parent"]] == (
        "in_caucus",
        "Family room",
    )

    clock.advance(minutes=20)
    fake.now = clock()
    await staff.call(
        "POST", f"/api/v1/meetings/{meeting['id']}/recall", role="mediator", expect=200
    )
    await deliver_outbox(client)
    assert conference_holding(fake, parent_call).name == rooms["main"].room_key
    assert (await where(staff, meeting["id"]))[ready.parties["parent"]] == (
        "in_session",
        "Joint room",
    )

    # A forged call-back is refused and changes nothing.
    status, _ = await fake.post_signed(
        str(client.make_url("/hooks/twilio/status")),
        {"StatusCallbackEvent": "participant-leave", "FriendlyName": rooms["main"].room_key},
        signature="forged",
    )
    assert status == 401
    assert (await where(staff, meeting["id"]))[ready.parties["parent"]][0] == "in_session"

    clock.advance(minutes=20)
    await staff.call("POST", f"/api/v1/meetings/{meeting['id']}/end", role="mediator", expect=200)
    report = await staff.call("GET", f"/api/v1/meetings/{meeting['id']}/attendance", expect=200)
    parent = next(p for p in report["parties"] if p["party_id"] == ready.parties["parent"])
    assert parent["channel"] == "phone" and parent["attended"]
    assert parent["status"] == "left"
    assert 55 * 60 <= parent["seconds_present"] <= 61 * 60
    kinds = [e["kind"] for e in parent["events"]]
    assert "admitted" in kinds and "moved" in kinds
    officer = next(p for p in report["parties"] if p["party_id"] == ready.parties["la_officer"])
    assert officer["status"] == "not_signed_in" and not officer["attended"]


# ---------------------------------------------------------------------------- ending rooms


@dataclass
class PhoneSession:
    """A phone meeting in session: the mediator and the parent on the joint room's
    conference, the LA officer moved to a caucus room's, each on a live call."""

    client: Any
    fake: FakeTwilio
    meeting_id: str
    calls: dict[str, Call]

    def conference(self, who: str) -> Conference:
        conference = self.fake.conference_of(self.calls[who])
        assert conference is not None
        return conference


async def phone_session(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[PhoneSession, Staff]:
    client, staff, fake = await phone_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=("parent", "la_officer"))
    meeting = await book(staff, ready.case_id, mode="phone", duration_minutes=120)
    links = await join_links(staff, meeting["id"])
    clock.set(START - timedelta(minutes=5))
    fake.now = clock()
    calls: dict[str, Call] = {}
    for who, key in (("mediator", "mediator"), *((r, ready.parties[r]) for r in ready.parties)):
        calls[who] = await fake.dial_in("+447700900001")
        await fake.press(calls[who], links[key]["phone_pin"])
    clock.advance(minutes=5)
    fake.now = clock()
    base = f"/api/v1/meetings/{meeting['id']}"
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    for party_id in ready.parties.values():
        admit = {"party_id": party_id}
        await staff.call("POST", base + "/admit", role="mediator", json=admit, expect=200)
    caucus = {"label": "LA room", "party_ids": [ready.parties["la_officer"]]}
    await staff.call("POST", base + "/rooms", role="mediator", json=caucus, expect=201)
    await deliver_outbox(client)  # the officer's call moves to the caucus conference
    session = PhoneSession(client, fake, meeting["id"], calls)
    assert session.conference("la_officer").name != session.conference("parent").name
    return session, staff


async def conference_endings(client: Any) -> list[OutboxMessage]:
    return [c for c in await provider_calls(client) if c.topic == "end_conference"]


async def live_conferences(client: Any, meeting_id: str) -> dict[str, str | None]:
    """Each room's live conference as the service knows it, by room kind."""
    async with client.app[DB].read() as session:
        found = await session.scalars(
            select(Room).where(col(Room.meeting_id) == uuid.UUID(meeting_id))
        )
        return {room.kind: room.conference_sid for room in found.all()}


async def test_ending_the_session_ends_every_live_conference_once(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    phone, staff = await phone_session(aiohttp_client, aiohttp_server, settings, clock)
    joint, caucus = phone.conference("parent"), phone.conference("la_officer")
    assert await live_conferences(phone.client, phone.meeting_id) == {
        "main": joint.sid,
        "caucus": caucus.sid,
    }

    clock.advance(hours=1)
    base = f"/api/v1/meetings/{phone.meeting_id}"
    await staff.call("POST", base + "/end", role="mediator", expect=200)
    endings = await conference_endings(phone.client)
    assert sorted(c.payload["conference_sid"] for c in endings) == sorted([joint.sid, caucus.sid])
    dispatcher = phone.client.app[DISPATCHER]
    for ending in endings:  # delivered at least once: here, twice each, then once more
        await dispatcher.attempt(ending)
        await dispatcher.attempt(ending)
    await deliver_outbox(phone.client)

    assert sorted(phone.fake.conference_updates) == sorted(
        [(joint.sid, {"Status": "completed"}), (caucus.sid, {"Status": "completed"})]
    )
    assert {call.status for call in phone.calls.values()} == {"completed"}  # nobody left on
    assert joint.status == caucus.status == "completed"
    assert await live_conferences(phone.client, phone.meeting_id) == {"main": None, "caucus": None}
    assert {c.status for c in await conference_endings(phone.client)} == {OutboxStatus.sent}


async def test_a_closed_caucus_conference_ends_by_itself_and_is_not_ended_again(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    phone, staff = await phone_session(aiohttp_client, aiohttp_server, settings, clock)
    joint, caucus = phone.conference("parent"), phone.conference("la_officer")
    base = f"/api/v1/meetings/{phone.meeting_id}"
    await staff.call("POST", base + "/recall", role="mediator", expect=200)
    await deliver_outbox(phone.client)  # the officer back in the joint room
    assert phone.conference("la_officer") is joint
    assert caucus.status == "completed"  # emptied: Twilio ended it
    assert phone.fake.conference_updates == []

    await staff.call("POST", base + "/end", role="mediator", expect=200)
    await deliver_outbox(phone.client)
    assert phone.fake.conference_updates == [(joint.sid, {"Status": "completed"})]


async def test_ending_is_retried_while_twilio_is_unavailable(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    phone, staff = await phone_session(aiohttp_client, aiohttp_server, settings, clock)
    await staff.call(
        "POST", f"/api/v1/meetings/{phone.meeting_id}/end", role="mediator", expect=200
    )
    phone.fake.fail_status = 503
    await deliver_outbox(phone.client)
    endings = await conference_endings(phone.client)
    assert len(endings) == 2
    assert all(c.status is OutboxStatus.pending and c.attempts == 1 for c in endings)
    assert phone.calls["parent"].status == "in-progress"  # still on the line, for now

    phone.fake.fail_status = None
    clock.advance(hours=1)
    await deliver_outbox(phone.client)
    assert {c.status for c in await conference_endings(phone.client)} == {OutboxStatus.sent}
    assert len(phone.fake.conference_updates) == 2
    assert {call.status for call in phone.calls.values()} == {"completed"}


async def test_without_a_phone_bridge_ending_a_session_queues_no_conference_endings(
    client: Any, staff: Staff, clock: MutableClock
) -> None:
    ready = await ready_case(staff)
    meeting = await book(staff, ready.case_id, mode="hybrid")
    await deliver_outbox(client)
    base = f"/api/v1/meetings/{meeting['id']}"
    clock.set(START)
    await staff.call("POST", base + "/start", role="mediator", expect=200)
    status = await client.post("/hooks/twilio/status", data={"ConferenceSid": "CF1"})
    assert status.status == 404  # nobody can tell us of a conference
    await staff.call("POST", base + "/end", role="mediator", expect=200)
    assert [c.topic for c in await provider_calls(client)] == ["create_room", "end_room"]


async def test_a_withdrawn_partys_pin_no_longer_opens_the_meeting_and_nobody_elses_changes(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    from orchestrator.core.models import Invitation, StaffRole
    from tests.orchestrator.web_support import Browser, make_user

    client, staff, fake = await phone_app(aiohttp_client, aiohttp_server, settings, clock)
    ready = await ready_case(staff, parties=("parent", "la_officer"))
    meeting = await book(staff, ready.case_id, mode="phone", duration_minutes=120)
    pins = {
        key: link["phone_pin"] for key, link in (await join_links(staff, meeting["id"])).items()
    }
    parent, officer = ready.parties["parent"], ready.parties["la_officer"]
    await make_user(client, "revoker@staff.example", StaffRole.scheduler)
    browser = Browser(client)
    await browser.sign_in("revoker@staff.example")
    revoked = await browser.post(f"/staff/cases/{ready.case_id}/parties/{parent}/revoke-links")
    assert revoked.status == 303

    clock.set(START - timedelta(minutes=5))
    fake.now = clock()
    old = await fake.dial_in("+447700900001")
    await fake.press(old, pins[parent])
    assert "did not open a meeting" in old.heard[-1] and old.conference is None
    officer_call = await fake.dial_in("+447700900002")
    await fake.press(officer_call, pins[officer])
    assert fake.conference_of(officer_call) is not None
    async with client.app[DB].read() as session:
        invitation = await session.scalar(
            select(Invitation).where(col(Invitation.party_id) == uuid.UUID(parent))
        )
        assert invitation is not None and invitation.phone_pin not in (None, pins[parent])
        new_pin = invitation.phone_pin
    new = await fake.dial_in("+447700900001")
    await fake.press(new, new_pin)  # the PIN their next invitation carries
    assert fake.conference_of(new) is not None
    seen = await where(staff, meeting["id"])
    assert seen[officer][0] == "in_lobby" and seen[parent][0] == "in_lobby"  # each their own
