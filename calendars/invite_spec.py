"""What one invitation says: the organiser, the attendees, how to join, and the event.

Value types, each checked when it is made, so that nothing unsafe reaches the iCalendar
writer or a mail header: addresses are bare, URLs have no spaces or controls, times are
timezone-aware in a zone zoneinfo knows.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from calendars.addresses import check_email
from calendars.vtimezone import known_zone

Role = Literal["CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"]
PartStat = Literal["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"]
Status = Literal["CONFIRMED", "CANCELLED"]

_ROLES = frozenset({"CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT"})
_PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f\"<>\\^`{|}]+")


def tel_digits(number: str) -> str:
    """The digits to dial, with a leading + kept: what a tel: URI carries."""
    digits = "".join(c for c in number if c.isascii() and c.isdigit())
    return ("+" + digits) if number.strip().startswith("+") and digits else digits


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
        if self.dial_in_number is not None and not tel_digits(self.dial_in_number):
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
        known_zone(self.tzid)

    @property
    def local_start(self) -> datetime:
        """Start as the clock on the wall in ``tzid`` shows it."""
        return self.start.astimezone(known_zone(self.tzid))

    @property
    def local_end(self) -> datetime:
        """End as the clock on the wall in ``tzid`` shows it."""
        return self.end.astimezone(known_zone(self.tzid))


def uid_for_meeting(meeting_id: str, domain: str) -> str:
    """Return the one UID a meeting keeps for ever: same id and domain, same UID."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("UID domain must be a host name")
    namespace = uuid.uuid5(uuid.NAMESPACE_DNS, domain.lower())
    return f"{uuid.uuid5(namespace, f'meeting/{meeting_id}')}@{domain.lower()}"
