"""Build the iCalendar objects of an invitation: REQUEST, CANCEL and a mediator's feed.

The rules come from INTEROP.md (RFC 5546 as Outlook, Gmail and Apple apply it): one UID per
meeting, SEQUENCE raised by the caller on every change, a VTIMEZONE in RRULE form for every
TZID, join details in LOCATION, DESCRIPTION, URL and RFC 7986 CONFERENCE, and every piece of
user text escaped by ``icalendar`` so that it can never become a property of its own.
"""

from __future__ import annotations

import calendar
import html
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vRecur,
    vText,
)

from calendars import wording

PRODID = "-//Mediation Orchestrator//Invites 1.0//EN"

Role = Literal["CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"]
PartStat = Literal["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"]
Status = Literal["CONFIRMED", "CANCELLED"]

_ROLES = frozenset({"CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"})
_PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f\"<>\\^`{|}]+")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def check_email(address: str) -> str:
    """Return ``address`` if it is a bare addr-spec safe for a URI or header, else raise."""
    if not isinstance(address, str) or not _EMAIL.fullmatch(address):
        raise ValueError("not a plain e-mail address")
    return address


# Joiners that some scripts need inside a word: kept, unlike other format characters.
_JOINERS = frozenset("\u200c\u200d")


def clean_name(name: str) -> str:
    """Make a display name single-line, for parameters and mail headers.

    A name as typed (quotes, backslashes, carets, runs of spaces) is kept: icalendar quotes
    and RFC 6868-escapes parameter values and ``formataddr`` quotes display names. Only line
    breaks, control and format characters become a space, and the ends are trimmed.
    """
    kept: list[str] = []
    for c in name:
        if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") or c in _JOINERS:
            kept.append(c)
        elif not kept or kept[-1] != "\x00":
            kept.append("\x00")  # a run of breaks becomes one space
    return "".join(kept).replace("\x00", " ").strip()


def _clean_text(text: str) -> str:
    """Normalise every line break to LF, which icalendar escapes as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class Organizer:
    """The sender of the invitation; replies go to ``email``."""

    name: str
    email: str

    def __post_init__(self) -> None:
        check_email(self.email)


@dataclass(frozen=True, slots=True)
class Attendee:
    """One person invited, with the iTIP role their part in the mediation gives them."""

    name: str
    email: str
    role: Role = "REQ-PARTICIPANT"
    partstat: PartStat = "NEEDS-ACTION"
    rsvp: bool = True

    def __post_init__(self) -> None:
        check_email(self.email)
        if self.role not in _ROLES:
            raise ValueError(f"unknown attendee role {self.role!r}")
        if self.partstat not in _PARTSTATS:
            raise ValueError(f"unknown participation status {self.partstat!r}")


@dataclass(frozen=True, slots=True)
class JoinDetails:
    """How this recipient joins: video link, dial-in number and PIN, and/or a venue."""

    url: str | None = None
    dial_in_number: str | None = None
    dial_in_pin: str | None = None
    venue: str | None = None
    venue_notes: str | None = None

    def __post_init__(self) -> None:
        if self.url is not None and not _URL.fullmatch(self.url):
            raise ValueError("join URL must be an http(s) URL without spaces or controls")
        if self.dial_in_number is not None and not _tel_digits(self.dial_in_number):
            raise ValueError("dial-in number has no digits")


@dataclass(frozen=True, slots=True)
class EventSpec:
    """Everything one invitation says about the meeting, for one recipient."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    tzid: str
    summary: str
    description: str
    organizer: Organizer
    attendees: list[Attendee]
    join: JoinDetails = field(default_factory=JoinDetails)
    status: Status = "CONFIRMED"
    dtstamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        for moment in (self.start, self.end, self.dtstamp):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("event times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("event ends before it starts")
        if self.sequence < 0:
            raise ValueError("SEQUENCE starts at 0")
        if not self.uid or any(unicodedata.category(c) == "Cc" for c in self.uid):
            raise ValueError("UID must be a non-empty single line")
        if self.status not in ("CONFIRMED", "CANCELLED"):
            raise ValueError(f"unknown event status {self.status!r}")
        _zone(self.tzid)

    @property
    def local_start(self) -> datetime:
        """Start as the clock on the wall in ``tzid`` shows it."""
        return self.start.astimezone(_zone(self.tzid))

    @property
    def local_end(self) -> datetime:
        """End as the clock on the wall in ``tzid`` shows it."""
        return self.end.astimezone(_zone(self.tzid))


def uid_for_meeting(meeting_id: str, domain: str) -> str:
    """Return the one UID a meeting keeps for ever: same id and domain, same UID."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("UID domain must be a host name")
    namespace = uuid.uuid5(uuid.NAMESPACE_DNS, domain.lower())
    return f"{uuid.uuid5(namespace, f'meeting/{meeting_id}')}@{domain.lower()}"


# ------------------------------------------------------------------ text shared by body and ICS


def when_text(spec: EventSpec, *, locale: str = wording.LOCALE) -> str:
    """Say when the meeting is in its own zone: 'Sunday 29 March 2026, 10am to midday (UK time)'."""
    return wording.when(spec.start, spec.end, zone=spec.tzid, locale=locale)


def join_lines(join: JoinDetails) -> list[str]:
    """List the ways to join, one plain-text line each, as the body and DESCRIPTION show them."""
    lines: list[str] = []
    if join.url:
        lines.append(f"Join by video: {join.url}")
    if join.dial_in_number:
        phone = f"Join by phone: {join.dial_in_number}"
        lines.append(f"{phone}, PIN {join.dial_in_pin}" if join.dial_in_pin else phone)
    if join.venue:
        lines.append(f"Venue: {join.venue}")
    if join.venue_notes:
        lines.append(f"Venue notes: {join.venue_notes}")
    return lines


def location_text(join: JoinDetails) -> str:
    """Put the venue, video link and dial-in on the one line clients show as the location."""
    parts: list[str] = []
    if join.venue:
        parts.append(join.venue)
    if join.url:
        parts.append(join.url)
    if join.dial_in_number:
        pin = f" PIN {join.dial_in_pin}" if join.dial_in_pin else ""
        parts.append(f"Phone {join.dial_in_number}{pin}")
    return " | ".join(parts)


def _description(spec: EventSpec) -> str:
    paragraphs = [when_text(spec)]
    if spec.description:
        paragraphs.append(spec.description)
    lines = join_lines(spec.join)
    if lines:
        paragraphs.append("\n".join(lines))
    return _clean_text("\n\n".join(paragraphs))


def _html_description(spec: EventSpec) -> str:
    parts = [f"<p>{html.escape(when_text(spec))}</p>"]
    if spec.description:
        body = "<br>".join(html.escape(line) for line in _clean_text(spec.description).split("\n"))
        parts.append(f"<p>{body}</p>")
    join = spec.join
    if join.url:
        url = html.escape(join.url, quote=True)
        parts.append(f'<p>Join by video: <a href="{url}">{url}</a></p>')
    if join.dial_in_number:
        number = html.escape(join.dial_in_number)
        tel = html.escape(_tel_uri(join.dial_in_number), quote=True)
        pin = f", PIN {html.escape(join.dial_in_pin)}" if join.dial_in_pin else ""
        parts.append(f'<p>Join by phone: <a href="{tel}">{number}</a>{pin}</p>')
    if join.venue:
        parts.append(f"<p>Venue: {html.escape(join.venue)}</p>")
    if join.venue_notes:
        parts.append(f"<p>Venue notes: {html.escape(join.venue_notes)}</p>")
    return _clean_text("<html><body>" + "".join(parts) + "</body></html>")


def _tel_digits(number: str) -> str:
    digits = "".join(c for c in number if c.isascii() and c.isdigit())
    return ("+" + digits) if number.strip().startswith("+") and digits else digits


def _tel_uri(number: str) -> str:
    return f"tel:{_tel_digits(number)}"


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
    event.add("summary", vText(_clean_text(spec.summary)))
    event.add("status", status)
    event.add("transp", "OPAQUE")
    if with_people:
        event.add("organizer", _organizer(spec.organizer))
        for attendee in spec.attendees:
            event.add("attendee", _attendee(attendee))


def _add_own(event: Event, spec: EventSpec, *, with_join: bool) -> None:
    """What this recipient's copy says of its own: how they join (their link, their PIN)."""
    if not with_join:
        event.add("description", vText(_clean_text(spec.description or when_text(spec))))
        return
    event.add("description", vText(_description(spec)))
    location = location_text(spec.join)
    if location:
        event.add("location", vText(_clean_text(location)))
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
            _tel_uri(join.dial_in_number),
            parameters={"VALUE": "URI", "FEATURE": "PHONE", "LABEL": clean_name(label)},
        )
    event.add("x-alt-desc", vText(_html_description(spec)), parameters={"FMTTYPE": "text/html"})


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


# --------------------------------------------------------------------------- VTIMEZONE


@lru_cache(maxsize=64)
def _zone(tzid: str) -> ZoneInfo:
    try:
        return ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tzid!r}") from exc


@dataclass(frozen=True, slots=True)
class _Transition:
    local: datetime  # wall-clock time just before the change, in the old offset
    offset_from: timedelta
    offset_to: timedelta
    name: str


@dataclass(frozen=True, slots=True)
class _Rule:
    daylight: bool
    offset_from: timedelta
    offset_to: timedelta
    name: str
    rrule: str
    at: time


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _transitions_in(zone: ZoneInfo, year: int) -> list[_Transition]:
    """Find each change of UTC offset in ``year``, to the second."""
    found: list[_Transition] = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        after_day = day + timedelta(days=1)
        before, after = _offset(zone, day), _offset(zone, after_day)
        if before != after:
            low, high = day, after_day
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            name = high.astimezone(zone).tzname() or ""
            local = (high + before).replace(tzinfo=None, microsecond=0)
            found.append(_Transition(local, before, after, name))
        day = after_day
    return found


def _day_rule(transitions: list[_Transition]) -> str | None:
    """Express the days of one yearly transition as BYMONTH/BYDAY(/BYMONTHDAY), if one rule fits."""
    first = transitions[0].local
    weekday = _WEEKDAYS[first.weekday()]
    if any(
        (t.local.month, t.local.weekday(), t.local.time())
        != (first.month, first.weekday(), first.time())
        for t in transitions
    ):
        return None
    days = [(t.local.year, t.local.day) for t in transitions]
    base = f"FREQ=YEARLY;BYMONTH={first.month}"
    if all(day + 7 > calendar.monthrange(year, first.month)[1] for year, day in days):
        return f"{base};BYDAY=-1{weekday}"
    ordinals = {(day - 1) // 7 + 1 for _, day in days}
    if len(ordinals) == 1:
        return f"{base};BYDAY={ordinals.pop()}{weekday}"
    for first_day in range(1, 26):
        if all(first_day <= day <= first_day + 6 for _, day in days):
            monthdays = ",".join(str(d) for d in range(first_day, first_day + 7))
            return f"{base};BYDAY={weekday};BYMONTHDAY={monthdays}"
    return None


@lru_cache(maxsize=256)
def _rules(tzid: str, year: int) -> tuple[_Rule, ...] | timedelta | None:
    """Derive yearly rules from zoneinfo around ``year``: rules, a fixed offset, or None."""
    zone = _zone(tzid)
    years = range(year - 2, year + 6)
    per_year = [_transitions_in(zone, y) for y in years]
    if not any(per_year):
        return _offset(zone, datetime(year, 1, 1, tzinfo=UTC))
    counts = {len(found) for found in per_year}
    if len(counts) != 1:
        return None
    rules: list[_Rule] = []
    for index in range(counts.pop()):
        same = [found[index] for found in per_year]
        head = same[0]
        if any(
            (t.offset_from, t.offset_to, t.name) != (head.offset_from, head.offset_to, head.name)
            for t in same
        ):
            return None
        day_rule = _day_rule(same)
        if day_rule is None:
            return None
        rules.append(
            _Rule(
                daylight=head.offset_to > head.offset_from,
                offset_from=head.offset_from,
                offset_to=head.offset_to,
                name=head.name,
                rrule=day_rule,
                at=head.local.time(),
            )
        )
    return tuple(rules)


@lru_cache(maxsize=64)
def _vtimezone_text(tzid: str, year: int | None) -> str:
    """The VTIMEZONE block of ``tzid`` around ``year``, written once per zone and year."""
    return _folded(vtimezone(tzid, year=year).content_lines())


def vtimezone(tzid: str, *, year: int | None = None) -> Timezone:
    """Build the VTIMEZONE for ``tzid`` in RRULE form, with rules valid around ``year``.

    Yearly rules (e.g. last Sunday of March at 01:00) are derived from the zoneinfo
    transitions of several years; a zone without clock changes gets one STANDARD block;
    a zone whose changes follow no yearly rule falls back to icalendar's dated list.
    """
    year = year or datetime.now(UTC).year
    derived = _rules(tzid, year)
    if derived is None:
        return Timezone.from_tzid(
            tzid, first_date=date(year - 1, 1, 1), last_date=date(year + 5, 12, 31)
        )
    timezone = Timezone()
    timezone.add("tzid", tzid)
    if isinstance(derived, timedelta):
        standard = TimezoneStandard()
        standard.add("dtstart", datetime(1970, 1, 1))
        standard.add("tzoffsetfrom", derived)
        standard.add("tzoffsetto", derived)
        name = datetime(year, 1, 1, tzinfo=UTC).astimezone(_zone(tzid)).tzname()
        if name:
            standard.add("tzname", name)
        timezone.add_component(standard)
        return timezone
    for rule in derived:
        part = TimezoneDaylight() if rule.daylight else TimezoneStandard()
        onset = rrulestr(rule.rrule, dtstart=datetime.combine(date(1970, 1, 1), rule.at))[0]
        part.add("dtstart", onset)
        part.add("tzoffsetfrom", rule.offset_from)
        part.add("tzoffsetto", rule.offset_to)
        if rule.name:
            part.add("tzname", rule.name)
        part.add("rrule", vRecur.from_ical(rule.rrule))
        timezone.add_component(part)
    return timezone
