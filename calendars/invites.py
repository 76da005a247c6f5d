"""Build the iCalendar objects of an invitation: REQUEST, CANCEL and a mediator's feed.

The rules come from INTEROP.md (RFC 5546 as Outlook, Gmail and Apple apply it): one UID per
meeting, SEQUENCE raised by the caller on every change, a VTIMEZONE in RRULE form for every
TZID, join details in LOCATION, DESCRIPTION, URL and RFC 7986 CONFERENCE, and every piece of
user text escaped by ``icalendar`` so that it can never become a property of its own.
What the invitation says is in ``invite_spec``, its words in ``invite_text``, its zones in
``vtimezone``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from icalendar import Calendar, Event, vCalAddress, vText

from calendars.addresses import clean_name
from calendars.invite_spec import Attendee, EventSpec, JoinDetails, Organizer, Status
from calendars.invite_text import (
    clean_text,
    description,
    html_description,
    location_text,
    tel_uri,
    when_text,
)
from calendars.vtimezone import vtimezone

PRODID = "-//Mediation Orchestrator//Invites 1.0//EN"

# --------------------------------------------------------------------------- VEVENT and VCALENDAR


def _organizer(organizer: Organizer) -> vCalAddress:
    address = vCalAddress(f"mailto:{organizer.email}")
    name = clean_name(organizer.name)
    if name:
        address.params["CN"] = name
    return address


def _attendee(attendee: Attendee) -> vCalAddress:
    address = vCalAddress(f"mailto:{attendee.email}")
    name = clean_name(attendee.name)
    if name:
        address.params["CN"] = name
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = attendee.role
    address.params["PARTSTAT"] = attendee.partstat
    if attendee.rsvp:
        address.params["RSVP"] = "TRUE"
    return address


def _event(spec: EventSpec, *, status: Status, with_join: bool, with_people: bool) -> Event:
    event = Event()
    _add_shared(event, spec, status=status, with_people=with_people)
    _add_own(event, spec, with_join=with_join)
    return event


def _add_shared(event: Event, spec: EventSpec, *, status: Status, with_people: bool) -> None:
    """What every recipient's copy of the meeting says alike."""
    event.add("uid", spec.uid)
    event.add("sequence", spec.sequence)
    event.add("dtstamp", spec.dtstamp.astimezone(UTC))
    event.add("dtstart", spec.local_start)
    event.add("dtend", spec.local_end)
    event.add("summary", vText(clean_text(spec.summary)))
    event.add("status", status)
    event.add("transp", "OPAQUE")
    if with_people:
        event.add("organizer", _organizer(spec.organizer))
        for attendee in spec.attendees:
            event.add("attendee", _attendee(attendee))


def _add_own(event: Event, spec: EventSpec, *, with_join: bool) -> None:
    """What this recipient's copy says of its own: how they join (their link, their PIN)."""
    if not with_join:
        event.add("description", vText(clean_text(spec.description or when_text(spec))))
        return
    event.add("description", vText(description(spec)))
    location = location_text(spec.join)
    if location:
        event.add("location", vText(clean_text(location)))
    join = spec.join
    if join.url:
        event.add("url", join.url)
        event.add(
            "conference",
            join.url,
            parameters={"VALUE": "URI", "FEATURE": "VIDEO", "LABEL": "Join by video"},
        )
    if join.dial_in_number:
        label = f"Phone {join.dial_in_number}"
        if join.dial_in_pin:
            label += f" PIN {join.dial_in_pin}"
        event.add(
            "conference",
            tel_uri(join.dial_in_number),
            parameters={"VALUE": "URI", "FEATURE": "PHONE", "LABEL": clean_name(label)},
        )
    event.add("x-alt-desc", vText(html_description(spec)), parameters={"FMTTYPE": "text/html"})


def _calendar(
    method: str | None, events: Iterable[Event], tzids: Iterable[str]
) -> tuple[Calendar, str]:
    """The calendar with its own properties and events, and its VTIMEZONE blocks written.

    The zones are the same in every invite of a service, so they are written once per
    zone and year and reused (a third of an invite's lines).
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    events = list(events)
    years = [e.DTSTART.year for e in events if isinstance(e.DTSTART, datetime)]
    year = min(years) if years else None
    zones = "".join(_vtimezone_text(tzid, year) for tzid in sorted(set(tzids)))
    for event in events:
        cal.add_component(event)
    return cal, zones


def fold_line(line: str, limit: int = 75) -> str:
    """Fold one content line at ``limit`` octets, never inside a UTF-8 sequence or an escape.

    icalendar 7.3 can fold between the two backslashes of an escaped backslash; this folder
    moves the lead character of an unfinished backslash or caret escape to the next line.
    """
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    pieces: list[bytes] = []
    start, room = 0, limit
    while len(data) - start > room:
        cut = start + room
        while data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back up to its lead
            cut -= 1
        lead = data[cut - 1]
        if lead in b"\\^":
            run_start = cut - 1
            while run_start > 0 and data[run_start - 1] == lead:
                run_start -= 1
            if (cut - run_start) % 2 and cut - 1 > start:
                cut -= 1
        pieces.append(data[start:cut])
        start, room = cut, limit - 1  # continuation lines start with one space
    pieces.append(data[start:])
    return b"\r\n ".join(pieces).decode("utf-8")


def _folded(lines: Iterable[object]) -> str:
    """Content lines with CRLF endings, folded by ``fold_line``."""
    return "".join(fold_line(str(line)) + "\r\n" for line in lines if line)


def _serialise(calendar: Calendar, zones: str = "") -> bytes:
    """Write the calendar, with ``zones`` (VTIMEZONE blocks) before its events."""
    own = [calendar.content_line(name, value) for name, value in calendar.property_items(False)]
    events = "".join(_folded(event.content_lines()) for event in calendar.subcomponents)
    return (_folded(own[:-1]) + zones + events + _folded(own[-1:])).encode("utf-8")


def build_request(spec: EventSpec) -> bytes:
    """Build the METHOD:REQUEST calendar for a new or changed meeting (same UID, SEQUENCE+1)."""
    if spec.status != "CONFIRMED":
        raise ValueError("a REQUEST must be CONFIRMED; use build_cancel to remove a meeting")
    if not spec.attendees:
        raise ValueError("a REQUEST needs at least one attendee")
    return _itip("REQUEST", spec, status="CONFIRMED", with_join=True)


def build_cancel(spec: EventSpec) -> bytes:
    """Build the METHOD:CANCEL calendar that removes the meeting for ``spec.attendees``.

    The caller raises ``spec.sequence`` above the last REQUEST sent.
    """
    if not spec.attendees:
        raise ValueError("a CANCEL names the attendees it removes the meeting for")
    return _itip("CANCEL", spec, status="CANCELLED", with_join=False)


# A meeting's invitations go out one per recipient, and each says the same but for how that
# recipient joins: the shared part is written once and reused for the next recipients.
_SHARED_TEXT: dict[str, str] = {}
_SHARED_TEXT_MAX = 64


def _itip(method: str, spec: EventSpec, *, status: Status, with_join: bool) -> bytes:
    """One recipient's iTIP calendar: the meeting's shared lines, then their own, then END."""
    own = Event()
    _add_own(own, spec, with_join=with_join)
    lines = [own.content_line(name, value) for name, value in own.property_items(False)]
    text = _shared_text(method, spec, status) + _folded(lines[1:-1])
    return (text + "END:VEVENT\r\nEND:VCALENDAR\r\n").encode("utf-8")


def _shared_text(method: str, spec: EventSpec, status: Status) -> str:
    """The calendar up to the recipient's own lines: its head, zones and the shared VEVENT."""
    key = repr((method, status, replace(spec, join=JoinDetails())))
    text = _SHARED_TEXT.get(key)
    if text is None:
        shared = Event()
        _add_shared(shared, spec, status=status, with_people=True)
        cal, zones = _calendar(method, [shared], [spec.tzid])
        whole = _serialise(cal, zones).decode("utf-8")
        text = whole.removesuffix("END:VEVENT\r\nEND:VCALENDAR\r\n")
        if len(_SHARED_TEXT) >= _SHARED_TEXT_MAX:
            _SHARED_TEXT.clear()
        _SHARED_TEXT[key] = text
    return text


def build_feed(events: list[EventSpec], name: str) -> bytes:
    """Build a subscribable calendar (no METHOD) of the meetings still on, without attendees."""
    live = [spec for spec in events if spec.status == "CONFIRMED"]
    cal, zones = _calendar(
        None,
        [_event(spec, status="CONFIRMED", with_join=True, with_people=False) for spec in live],
        [spec.tzid for spec in live],
    )
    cal.add("x-wr-calname", vText(clean_name(name)))
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vText("PT1H"))
    return _serialise(cal, zones)


@lru_cache(maxsize=64)
def _vtimezone_text(tzid: str, year: int | None) -> str:
    """The VTIMEZONE block of ``tzid`` around ``year``, written once per zone and year."""
    return _folded(vtimezone(tzid, year=year).content_lines())
