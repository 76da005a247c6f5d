"""Invites that Outlook, Gmail and Apple accept: checked by three parsers, RFC 5546 rules
from INTEROP.md, zoneinfo across clock changes, and a real Radicale CalDAV server."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4
from zoneinfo import ZoneInfo

import ics
import pytest
import recurring_ical_events
import vobject
from dateutil.tz import tzical
from icalendar import Calendar, Component, Event, Timezone, vDDDTypes, vInt, vUri, vUTCOffset

from calendars.invite_spec import Attendee, EventSpec, JoinDetails, Organizer, uid_for_meeting
from calendars.invite_text import when_text
from calendars.invites import build_cancel, build_feed, build_request
from calendars.vtimezone import vtimezone
from tests.fakes.radicale import RadicaleServer, radicale_server  # noqa: F401

LONDON = ZoneInfo("Europe/London")
HOSTILE_NAME = "Bob\r\nATTENDEE:mailto:evil@x"
HOSTILE_BACKSLASH = "A;B,C\\"
INJECTED_TEXT = "Notes\r\nATTENDEE:mailto:evil@x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil"

V = TypeVar("V")


def make_spec(**changes: Any) -> EventSpec:
    spec = EventSpec(
        uid=uid_for_meeting("meeting-42", "mediate.example"),
        sequence=0,
        start=datetime(2026, 3, 29, 10, 0, tzinfo=LONDON),
        end=datetime(2026, 3, 29, 12, 0, tzinfo=LONDON),
        tzid="Europe/London",
        summary="SEND mediation meeting",
        description="Please have your EHC plan to hand.",
        organizer=Organizer("Mediation Service", "mediation@mediate.example"),
        attendees=[
            Attendee("Mia Mediator", "mia@mediate.example", "CHAIR"),
            Attendee("Lee LA Officer", "lee@council.example.gov.uk", "REQ-PARTICIPANT"),
            Attendee("Sam Supporter", "sam@sendiass.example", "OPT-PARTICIPANT"),
        ],
        join=JoinDetails(
            url="https://meet.example/j/abc123?k=1",
            dial_in_number="+44 20 7946 0000",
            dial_in_pin="482913",
            venue="Room 4, Town Hall; High Street",
            venue_notes="Step-free entrance at the side.",
        ),
        dtstamp=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    )
    return replace(spec, **changes)


# --------------------------------------------------------------------------- the checker

REQUIRED = {
    "REQUEST": ("ORGANIZER", "ATTENDEE", "DTSTAMP", "DTSTART", "SUMMARY", "UID", "SEQUENCE"),
    "CANCEL": ("UID", "DTSTAMP", "ORGANIZER", "SEQUENCE", "STATUS"),
}


def value_of(component: Component, name: str, kind: type[V]) -> V:
    """Property ``name`` of ``component``, which the parser must have read as a ``kind``."""
    value = component[name]
    assert isinstance(value, kind), f"{name} was read as {type(value).__name__}"
    return value


def values_of(component: Component, name: str, kind: type[V]) -> list[V]:
    """Every value of the repeatable property ``name``, each read as a ``kind``."""
    value: object = component[name]
    checked: list[V] = []
    for each in value if isinstance(value, list) else [value]:
        assert isinstance(each, kind), f"{name} was read as {type(each).__name__}"
        checked.append(each)
    return checked


def check_wire_format(data: bytes) -> None:
    """CRLF endings, no physical line over 75 octets, no split UTF-8 or escape at a fold."""
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    lines = data[:-2].split(b"\r\n")
    for index, line in enumerate(lines):
        assert len(line) <= 75, f"line {index} has {len(line)} octets"
        line.decode("utf-8")  # raises if a fold split a multi-byte sequence
        continues = index + 1 < len(lines) and lines[index + 1][:1] in (b" ", b"\t")
        if continues:
            trailing = len(line) - len(line.rstrip(b"\\"))
            assert trailing % 2 == 0, f"line {index} folds between a backslash and its character"


def check_itip(data: bytes, method: str, spec: EventSpec) -> Event:
    """Apply INTEROP.md's per-method rules and cross-check with vobject and ics."""
    check_wire_format(data)
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == method
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    for name in REQUIRED[method]:
        assert name in event, f"{method} lacks {name}"
    if method == "REQUEST":
        assert "DTEND" in event or "DURATION" in event
        assert str(event.get("STATUS", "CONFIRMED")) != "CANCELLED"
    if method == "CANCEL":
        assert str(event["STATUS"]) == "CANCELLED"
        assert not event.walk("VALARM")
    assert str(event["UID"]) == spec.uid
    assert int(value_of(event, "SEQUENCE", vInt)) == spec.sequence
    dtstamp = value_of(event, "DTSTAMP", vDDDTypes).dt
    assert dtstamp == spec.dtstamp.astimezone(UTC)
    assert isinstance(dtstamp, datetime) and dtstamp.tzinfo is not None

    # A VTIMEZONE for every TZID used, in RRULE form (Outlook mis-shifts RDATE lists).
    defined = {str(tz["TZID"]): tz for tz in calendar.walk("VTIMEZONE")}
    used = {str(event[name].params["TZID"]) for name in ("DTSTART", "DTEND") if name in event}
    assert used == {spec.tzid}
    for tzid in used:
        assert tzid in defined
        assert b"RDATE" not in defined[tzid].to_ical()

    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{spec.organizer.email}"
    assert organizer.params["CN"]
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == [f"mailto:{a.email}" for a in spec.attendees]
    for prop, attendee in zip(attendees, spec.attendees, strict=True):
        assert prop.params["CUTYPE"] == "INDIVIDUAL"
        assert prop.params["ROLE"] == attendee.role
        assert prop.params["PARTSTAT"] == "NEEDS-ACTION"
        assert prop.params["RSVP"] == "TRUE"
        assert prop.params["CN"]

    text = data.decode("utf-8")
    parsed_v = vobject.readOne(text)
    assert parsed_v.method.value == method
    assert parsed_v.vevent.uid.value == spec.uid
    assert parsed_v.vevent.dtstart.value == spec.start
    assert [a.value for a in parsed_v.vevent.attendee_list] == [
        f"mailto:{a.email}" for a in spec.attendees
    ]
    parsed_ics = ics.Calendar(text)
    (ics_event,) = parsed_ics.events
    assert ics_event.uid == spec.uid
    assert ics_event.begin.datetime == spec.start
    assert sorted(a.email for a in ics_event.attendees) == sorted(a.email for a in spec.attendees)
    return event


# --------------------------------------------------------------------------- REQUEST / update / CANCEL


def test_request_follows_itip_rules_in_three_parsers() -> None:
    spec = make_spec()
    event = check_itip(build_request(spec), "REQUEST", spec)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "SEND mediation meeting"


def test_update_keeps_the_uid_and_raises_sequence() -> None:
    first = make_spec()
    moved = make_spec(
        sequence=1,
        start=datetime(2026, 4, 2, 14, 0, tzinfo=LONDON),
        end=datetime(2026, 4, 2, 16, 30, tzinfo=LONDON),
        dtstamp=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
    )
    old = check_itip(build_request(first), "REQUEST", first)
    new = check_itip(build_request(moved), "REQUEST", moved)
    assert new["UID"] == old["UID"]
    assert int(value_of(new, "SEQUENCE", vInt)) == int(value_of(old, "SEQUENCE", vInt)) + 1
    assert value_of(new, "DTSTART", vDDDTypes).dt == datetime(2026, 4, 2, 14, 0, tzinfo=LONDON)


def test_cancel_is_method_cancel_with_status_cancelled_and_no_alarm() -> None:
    spec = make_spec(sequence=2, dtstamp=datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    event = check_itip(build_cancel(spec), "CANCEL", spec)
    assert "URL" not in event and "CONFERENCE" not in event


def test_removing_one_person_cancels_for_that_person_only() -> None:
    everyone = make_spec(sequence=1)
    removed = everyone.attendees[2]
    cancel = make_spec(sequence=1, attendees=[removed])
    event = check_itip(build_cancel(cancel), "CANCEL", cancel)
    assert str(event["ATTENDEE"]) == f"mailto:{removed.email}"
    others = make_spec(sequence=1, attendees=everyone.attendees[:2])
    check_itip(build_request(others), "REQUEST", others)


def test_request_refuses_a_cancelled_status_because_clients_would_keep_the_event() -> None:
    with pytest.raises(ValueError, match="build_cancel"):
        build_request(make_spec(status="CANCELLED"))


def test_join_details_reach_location_description_url_conference_and_html() -> None:
    spec = make_spec()
    event = Calendar.from_ical(build_request(spec)).walk("VEVENT")[0]
    url = "https://meet.example/j/abc123?k=1"
    location = str(event["LOCATION"])
    assert url in location and "+44 20 7946 0000" in location and "482913" in location
    assert "Room 4, Town Hall; High Street" in location
    description = str(event["DESCRIPTION"])
    assert f"Join by video: {url}" in description
    assert "Join by phone: +44 20 7946 0000, PIN 482913" in description
    assert "Step-free entrance at the side." in description
    assert str(event["URL"]) == url
    conferences = {c.params["FEATURE"]: c for c in values_of(event, "CONFERENCE", vUri)}
    assert str(conferences["VIDEO"]) == url
    assert conferences["VIDEO"].params["VALUE"] == "URI"
    assert conferences["VIDEO"].params["LABEL"]
    assert str(conferences["PHONE"]) == "tel:+442079460000"
    assert "482913" in conferences["PHONE"].params["LABEL"]
    alt = event["X-ALT-DESC"]
    assert alt.params["FMTTYPE"] == "text/html"
    assert f'href="{url}"' in str(alt).replace("\\,", ",")


def test_phone_only_invite_has_no_video_link() -> None:
    spec = make_spec(join=JoinDetails(dial_in_number="0800 123 4567", dial_in_pin="1234"))
    event = check_itip(build_request(spec), "REQUEST", spec)
    assert "URL" not in event
    conference = event["CONFERENCE"]
    assert str(conference) == "tel:08001234567" and conference.params["FEATURE"] == "PHONE"


# --------------------------------------------------------------------------- escaping and folding


@pytest.mark.parametrize("name", [HOSTILE_NAME, HOSTILE_BACKSLASH, 'Jo "JJ" O\'Neil;x:y'])
def test_a_hostile_name_stays_inside_its_parameter(name: str) -> None:
    spec = make_spec(
        organizer=Organizer(name, "mediation@mediate.example"),
        attendees=[Attendee(name, "bob@example.com"), Attendee("Amy", "amy@example.com")],
    )
    data = build_request(spec)
    check_itip(data, "REQUEST", spec)
    assert b"mailto:evil@x" not in data.replace(b"\r\n ", b"").split(b"CN=")[0]
    for raw_line in data.replace(b"\r\n ", b"").split(b"\r\n"):
        assert not raw_line.startswith(b"ATTENDEE:"), "a name became a property"
    # Quotes, backslashes and carets come through as typed (RFC 6868); breaks become a space.
    event = Calendar.from_ical(data).walk("VEVENT")[0]
    names = [a.params["CN"] for a in event.get("attendee")]
    assert names[0] == " ".join(name.split())


@pytest.mark.parametrize(
    "text", [INJECTED_TEXT, HOSTILE_BACKSLASH, "a\\nb is not a newline, c\\,d;e", "x\\" * 60]
)
def test_hostile_text_round_trips_exactly_and_injects_nothing(text: str) -> None:
    spec = make_spec(summary=text, description=text, join=JoinDetails(venue=text))
    data = build_request(spec)
    event = check_itip(data, "REQUEST", spec)
    expected = text.replace("\r\n", "\n")
    assert str(event["SUMMARY"]) == expected
    assert vobject.readOne(data.decode()).vevent.summary.value == expected
    (ics_event,) = ics.Calendar(data.decode()).events
    assert ics_event.uid == spec.uid
    if "\\" not in text:  # ics 0.7 unescapes "\\n" in the wrong order; the others agree
        assert ics_event.name == expected
    assert expected in str(event["DESCRIPTION"])
    assert len(Calendar.from_ical(data).walk("VEVENT")) == 1


@pytest.mark.parametrize("offset", range(8))
def test_folding_never_splits_a_utf8_sequence_or_an_escape(offset: int) -> None:
    summary = "x" * offset + "Zoë Ōkubo – 日本語のテキスト 😀🎉 \\ \\\\ a,b;c éàü " * 6
    spec = make_spec(summary=summary, description=summary * 3)
    data = build_request(spec)
    check_wire_format(data)
    assert str(Calendar.from_ical(data).walk("VEVENT")[0]["SUMMARY"]) == summary
    assert vobject.readOne(data.decode()).vevent.summary.value == summary


def test_invalid_addresses_and_urls_are_refused_before_they_reach_a_value() -> None:
    with pytest.raises(ValueError):
        Attendee("Eve", "eve@example.com\r\nATTENDEE:mailto:evil@x")
    with pytest.raises(ValueError):
        Organizer("Eve", "not an address")
    with pytest.raises(ValueError):
        JoinDetails(url="https://meet.example/a\r\nATTENDEE:mailto:evil@x")
    with pytest.raises(ValueError):
        JoinDetails(url="javascript:alert(1)")


# --------------------------------------------------------------------------- time zones


def test_london_vtimezone_is_the_rrule_block_outlook_expects() -> None:
    text = vtimezone("Europe/London", year=2026).to_ical().decode().replace("\r\n", "\n")
    daylight = text.split("BEGIN:DAYLIGHT\n")[1].split("END:DAYLIGHT")[0]
    standard = text.split("BEGIN:STANDARD\n")[1].split("END:STANDARD")[0]
    assert "DTSTART:19700329T010000" in daylight
    assert "TZOFFSETFROM:+0000" in daylight and "TZOFFSETTO:+0100" in daylight
    assert re.search(r"RRULE:FREQ=YEARLY;(BYDAY=-1SU;BYMONTH=3|BYMONTH=3;BYDAY=-1SU)", daylight)
    assert "DTSTART:19701025T020000" in standard
    assert "TZOFFSETFROM:+0100" in standard and "TZOFFSETTO:+0000" in standard
    assert re.search(r"RRULE:FREQ=YEARLY;(BYDAY=-1SU;BYMONTH=10|BYMONTH=10;BYDAY=-1SU)", standard)
    assert "RDATE" not in text


def _zoneinfo_transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    moments = []
    instant = datetime(year, 1, 1, tzinfo=UTC)
    while instant.year == year:
        following = instant + timedelta(hours=1)
        if instant.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            moments.append(following)
        instant = following
    return moments


@pytest.mark.parametrize(
    "tzid",
    [
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Jerusalem",
        "America/Santiago",
        "Asia/Kolkata",
        "UTC",
    ],
)
def test_vtimezone_agrees_with_zoneinfo_across_clock_changes(tzid: str) -> None:
    zone = ZoneInfo(tzid)
    component = vtimezone(tzid, year=2026)
    text = component.to_ical().decode()
    assert "RDATE" not in text
    by_dateutil = tzical(io.StringIO(text)).get(tzid)
    parsed = Timezone.from_ical(text)
    assert isinstance(parsed, Timezone)
    by_icalendar = parsed.to_tz(lookup_tzid=False)
    instants = [datetime(2026, month, 15, 12, tzinfo=UTC) for month in range(1, 13)]
    for year in (2026, 2027):
        for change in _zoneinfo_transitions(zone, year):
            instants += [change + timedelta(minutes=15 * k) for k in range(-16, 17)]
    if tzid != "UTC" and tzid != "Asia/Kolkata":
        assert len(instants) > 12, "expected clock changes in 2026 and 2027"
    for instant in instants:
        expected = instant.astimezone(zone)
        for expander in (by_dateutil, by_icalendar):
            got = instant.astimezone(expander)
            assert got.replace(tzinfo=None) == expected.replace(tzinfo=None), (tzid, instant)
            assert got.utcoffset() == expected.utcoffset(), (tzid, instant)


def test_a_zone_without_clock_changes_gets_one_standard_block() -> None:
    component = vtimezone("Asia/Tokyo", year=2026)
    assert len(component.standard) == 1 and not component.daylight
    assert value_of(component.standard[0], "TZOFFSETTO", vUTCOffset).td == timedelta(hours=9)


@pytest.mark.parametrize(
    "day", [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]
)
def test_body_time_equals_ics_time_on_clock_change_sundays(day: date) -> None:
    start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
    spec = make_spec(start=start, end=start + timedelta(hours=2))
    data = build_request(spec)
    check_itip(data, "REQUEST", spec)
    body = when_text(spec)
    assert f"{day.day} {start:%B %Y}, 10am to midday (UK time)" in body
    assert body in str(Calendar.from_ical(data).walk("VEVENT")[0]["DESCRIPTION"])
    # Every parser sees the same instant the body names: 10:00 London time that day.
    dtstart = vobject.readOne(data.decode()).vevent.dtstart.value
    assert dtstart.astimezone(UTC) == start.astimezone(UTC)
    assert dtstart.astimezone(LONDON).strftime("%H:%M") == "10:00"
    (ics_event,) = ics.Calendar(data.decode()).events
    assert ics_event.begin.to("utc").datetime == start.astimezone(UTC)


# --------------------------------------------------------------------------- feed and UID


def test_feed_is_a_subscribable_calendar_without_attendees_or_cancelled_meetings() -> None:
    live = make_spec()
    other = make_spec(
        uid=uid_for_meeting("meeting-43", "mediate.example"),
        start=datetime(2026, 11, 3, 9, 30, tzinfo=LONDON),
        end=datetime(2026, 11, 3, 12, 0, tzinfo=LONDON),
    )
    cancelled = make_spec(uid=uid_for_meeting("meeting-44", "mediate.example"), status="CANCELLED")
    data = build_feed([live, other, cancelled], "Mia's mediations")
    check_wire_format(data)
    calendar = Calendar.from_ical(data)
    assert str(calendar.get("METHOD", "PUBLISH")) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]) == "Mia's mediations"
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {"Europe/London"}
    assert b"ATTENDEE" not in data and b"mailto:" not in data
    found = recurring_ical_events.of(calendar).between(date(2026, 1, 1), date(2027, 1, 1))
    assert sorted((str(e["UID"]), e["DTSTART"].dt) for e in found) == sorted(
        [(live.uid, live.start), (other.uid, other.start)]
    )
    assert len(vobject.readOne(data.decode()).vevent_list) == 2


def test_uid_for_meeting_never_changes_and_differs_between_meetings() -> None:
    uid = uid_for_meeting("meeting-42", "mediate.example")
    assert uid == uid_for_meeting("meeting-42", "mediate.example")
    assert uid.endswith("@mediate.example")
    assert uid != uid_for_meeting("meeting-43", "mediate.example")
    assert uid != uid_for_meeting("meeting-42", "other.example")
    with pytest.raises(ValueError):
        uid_for_meeting("meeting-42", "bad domain\r\n")


# --------------------------------------------------------------------------- a real CalDAV server


def _as_stored_by_a_client(data: bytes) -> str:
    """Drop METHOD, as a client does when it files an iTIP message into a calendar."""
    calendar = Calendar.from_ical(data)
    del calendar["METHOD"]
    stored: bytes = calendar.to_ical()  # icalendar leaves to_ical unannotated
    return stored.decode("utf-8")


async def test_radicale_accepts_request_update_and_cancel(
    radicale_server: RadicaleServer,  # noqa: F811
) -> None:
    calendar_url = await radicale_server.make_calendar(f"invites-{uuid4().hex[:8]}")
    first = make_spec(summary="Zoë's SEND mediation; room 4, level 2")
    update = make_spec(
        sequence=1, start=first.start + timedelta(days=1), end=first.end + timedelta(days=1)
    )
    cancel = make_spec(sequence=2)
    for data in (build_request(first), build_request(update), build_cancel(cancel)):
        await radicale_server.put_event(calendar_url, first.uid, _as_stored_by_a_client(data))


async def test_radicale_accepts_invites_in_other_zones(
    radicale_server: RadicaleServer,  # noqa: F811
) -> None:
    calendar_url = await radicale_server.make_calendar(f"zones-{uuid4().hex[:8]}")
    for tzid in ("America/New_York", "Asia/Jerusalem", "Australia/Sydney", "Asia/Tokyo"):
        zone = ZoneInfo(tzid)
        spec = make_spec(
            uid=uid_for_meeting(tzid, "mediate.example"),
            tzid=tzid,
            start=datetime(2026, 10, 30, 9, tzinfo=zone),
            end=datetime(2026, 10, 30, 11, tzinfo=zone),
        )
        data = build_request(spec)
        check_itip(data, "REQUEST", spec)
        await radicale_server.put_event(calendar_url, spec.uid, _as_stored_by_a_client(data))


def test_each_recipient_of_a_meeting_gets_only_their_own_join_details() -> None:
    """The part every copy shares is written once per meeting; the join details never leak
    from one recipient's copy into the next, and a changed meeting is written afresh."""
    first = make_spec(join=JoinDetails(url="https://meet.example/j/first", dial_in_pin="111111"))
    second = replace(
        first,
        join=JoinDetails(
            url="https://meet.example/j/second",
            dial_in_number="+44 20 7946 0000",
            dial_in_pin="222222",
        ),
    )
    one, two = build_request(first), build_request(second)
    assert b"/j/first" in one and b"/j/second" not in one and b"222222" not in one
    assert b"/j/second" in two and b"/j/first" not in two and b"111111" not in two
    events = [Calendar.from_ical(ics).walk("VEVENT")[0] for ics in (one, two)]
    shared = ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "ATTENDEE")
    assert all(str(events[0][p]) == str(events[1][p]) for p in shared)
    moved = build_request(replace(second, summary="Mediation (moved)", sequence=1))
    event = Calendar.from_ical(moved).walk("VEVENT")[0]
    assert (
        str(event["SUMMARY"]) == "Mediation (moved)" and int(value_of(event, "SEQUENCE", vInt)) == 1
    )
    assert b"/j/second" in moved
