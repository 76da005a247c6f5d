"""Phone in every meeting: a party who joins by phone gets a number and their own PIN in
a video meeting too, their invite says so first, and the phone bridge's line puts them in
the video room with everyone else (BigBlueButton by SIP, against both fakes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from pydantic import SecretStr
from yarl import URL

from orchestrator.core.models import Channel
from orchestrator.core.settings import Settings
from tests.conftest import MutableClock
from tests.fakes.bbb import API_PATH, BbbFake
from tests.fakes.twilio import FakeTwilio
from tests.orchestrator import invites_support
from tests.orchestrator.invites_support import mail_to, read_folder, text_of, with_method
from tests.orchestrator.meetings_support import (
    START,
    deliver_outbox,
    events,
    get,
    join_links,
    path_of,
    serve,
)
from tests.orchestrator.test_hooks_twilio import phone_app

SIP_DOMAIN = "bbb.example.test"
PAT = {
    "role": "parent",
    "name": "Pat Phone",
    "email": "pat@family.example",
    "phone": "07700 900123",
    "channel": "phone",
}
LEE = {"role": "la_officer", "name": "Lee Officer", "email": "lee@kent.example"}


async def bbb_and_bridge(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> tuple[Any, Any, BbbFake, FakeTwilio]:
    bbb = BbbFake("bbb-shared-secret")
    bbb_url = await serve(aiohttp_server, bbb.app())
    client, staff, twilio = await phone_app(
        aiohttp_client,
        aiohttp_server,
        settings,
        clock,
        video_provider="bbb",
        bbb_base_url=bbb_url + API_PATH,
        bbb_shared_secret=SecretStr("bbb-shared-secret"),
        bbb_sip_domain=SIP_DOMAIN,
    )
    return client, staff, bbb, twilio


async def test_a_phone_party_in_a_video_meeting_is_in_the_video_room_by_phone(
    aiohttp_client: Any, aiohttp_server: Any, settings: Settings, clock: MutableClock
) -> None:
    client, staff, bbb, twilio = await bbb_and_bridge(
        aiohttp_client, aiohttp_server, settings, clock
    )
    booked = await invites_support.make_case(staff, people=[PAT, LEE])
    await invites_support.book(staff, booked, START)
    await deliver_outbox(client)
    links = await join_links(staff, booked.meeting_id)
    pat_id = booked.party_ids[PAT["email"]]
    pin = links[pat_id]["phone_pin"]
    assert pin and len(pin) == 6

    # Their invite: "Join by phone" with the number and their own PIN, before the video.
    invite = text_of(
        mail_to(with_method(read_folder(settings.mail_dir), "REQUEST"), PAT["email"])[0]
    )
    by_phone = f"Join by phone: call {twilio.phone_number} and enter your PIN {pin}."
    assert by_phone in invite
    assert invite.index(by_phone) < invite.index("Join by video")

    # The mediator opens the video room as its moderator.
    clock.set(START - timedelta(minutes=5))
    twilio.now = clock()
    _, _, host = await get(client, path_of(links["mediator"]["url"]) + "/video")
    assert host is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(URL(host, encoded=True), allow_redirects=False) as response:
            assert response.status == 302
    meeting = next(iter(bbb.meetings.values()))
    sip = f"sip:{meeting.voice_bridge}@{SIP_DOMAIN}"
    twilio.far_ends[sip] = lambda digits: bbb.phone_line(sip, digits)

    # Pat dials the bridge and keys their PIN: the bridge's line joins them to the room.
    call = await twilio.dial_in("+447700900123")
    await twilio.press(call, pin)
    conference = twilio.conference_of(call)
    assert conference is not None and conference.status == "init"
    await deliver_outbox(client)

    line = next(c for c in twilio.calls.values() if c.to == sip)
    assert line.conference == conference.name and conference.status == "in-progress"
    assert [(u.role, u.dial_in) for u in meeting.attendees] == [
        ("MODERATOR", False),
        ("VIEWER", True),
    ]
    phone_joins = [e for e in await events(client, booked.meeting_id) if e.channel is Channel.phone]
    assert {str(e.party_id) for e in phone_joins} == {pat_id}
