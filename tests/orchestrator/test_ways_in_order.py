"""Each person's own way into a meeting comes first; the others follow, "if you need to".

A hybrid meeting used to send every party the venue, the video link and the phone PIN in
one fixed order whatever they had chosen. ``ways_in`` now orders them by the person's
``channel``; the invite and the join page both follow it.
"""

from __future__ import annotations

import pytest

from calendars.invite_spec import JoinDetails
from orchestrator.core.models import Channel, MeetingMode
from orchestrator.messaging import ways_in

ALL = [Channel.video, Channel.phone, Channel.in_person]
HYBRID = JoinDetails(
    url="https://service.example/j/short",
    dial_in_number="+44 20 7946 0000",
    dial_in_pin="54321",
    venue="Canterbury Family Centre, 12 Castle Street",
)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (Channel.video, [Channel.video, Channel.in_person, Channel.phone]),
        (Channel.phone, [Channel.phone, Channel.in_person, Channel.video]),
        (Channel.in_person, [Channel.in_person, Channel.video, Channel.phone]),
        (None, [Channel.in_person, Channel.video, Channel.phone]),  # the mediator
    ],
)
def test_a_hybrid_meeting_puts_each_persons_own_way_first(
    channel: Channel | None, expected: list[Channel]
) -> None:
    assert ways_in.ways_for(HYBRID, MeetingMode.hybrid, channel) == expected
    assert ways_in.ordered_ways(ALL, mode=MeetingMode.hybrid, channel=channel) == expected


def test_a_way_the_meeting_does_not_have_is_never_offered() -> None:
    # A video meeting has no room to come to; a phone meeting's link is its page, not video.
    assert ways_in.ways_for(HYBRID, MeetingMode.video, Channel.in_person) == [
        Channel.video,
        Channel.phone,
    ]
    assert ways_in.ways_for(HYBRID, MeetingMode.phone, Channel.video) == [Channel.phone]
    in_person = JoinDetails(venue="Canterbury Family Centre")
    assert ways_in.ways_for(in_person, MeetingMode.in_person, Channel.phone) == [Channel.in_person]


def test_someone_who_chose_phone_in_a_video_meeting_gets_the_dial_in_first() -> None:
    assert ways_in.ways_for(HYBRID, MeetingMode.video, Channel.phone) == [
        Channel.phone,
        Channel.video,
    ]
