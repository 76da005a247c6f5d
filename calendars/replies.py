"""Read an iTIP REPLY (accept, decline, tentative) as Outlook, Gmail and Apple send it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from icalendar import Calendar, Component

from calendars.errors import CalendarParseError, CalendarTooLarge

MAX_REPLY_BYTES = 512 * 1024
PARTSTATS = frozenset({"ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "NEEDS-ACTION"})


@dataclass(frozen=True, slots=True)
class ItipReply:
    """One attendee's answer to one meeting, as the caller needs it to update an invitation."""

    uid: str
    attendee_email: str
    partstat: str
    sequence: int
    dtstamp: datetime | None
    comment: str | None = None


def parse_reply(data: bytes | str, *, max_bytes: int = MAX_REPLY_BYTES) -> ItipReply:
    """Parse a METHOD:REPLY calendar. Raises CalendarParseError or CalendarTooLarge."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise CalendarTooLarge(f"reply is {len(raw)} bytes, more than {max_bytes}")
    try:
        calendar = Calendar.from_ical(raw)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CalendarParseError("reply is not readable iCalendar") from exc
    if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
        raise CalendarParseError("reply is not a VCALENDAR")
    method = str(calendar.get("METHOD", "")).strip().upper()
    if method != "REPLY":
        raise CalendarParseError(f"expected METHOD:REPLY, got {method or 'no METHOD'}")
    events = [c for c in calendar.walk("VEVENT")]
    if not events:
        raise CalendarParseError("reply has no VEVENT")
    return _reply_from_event(events[0])


def _reply_from_event(event: Component) -> ItipReply:
    uid = str(event.get("UID", "")).strip()
    if not uid:
        raise CalendarParseError("reply has no UID")
    attendees = event.get("ATTENDEE")
    if attendees is None:
        raise CalendarParseError("reply has no ATTENDEE")
    if isinstance(attendees, list):
        if len(attendees) != 1:
            raise CalendarParseError(f"reply has {len(attendees)} ATTENDEEs, expected one")
        attendees = attendees[0]
    email = _address(str(attendees))
    if not email:
        raise CalendarParseError("reply ATTENDEE has no address")
    partstat = str(attendees.params.get("PARTSTAT", "NEEDS-ACTION")).strip().upper()
    if partstat not in PARTSTATS:
        raise CalendarParseError(f"unknown PARTSTAT {partstat!r}")
    comment = event.get("COMMENT") or attendees.params.get("X-RESPONSE-COMMENT")
    if isinstance(comment, list):
        comment = comment[0] if comment else None
    comment_text = str(comment).strip() if comment is not None else ""
    return ItipReply(
        uid=uid,
        attendee_email=email,
        partstat=partstat,
        sequence=_sequence(event),
        dtstamp=_dtstamp(event),
        comment=comment_text or None,
    )


def _address(value: str) -> str:
    """Strip a ``mailto:`` in any case and lower-case the address."""
    value = value.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    return value.strip().lower()


def _sequence(event: Component) -> int:
    raw = event.get("SEQUENCE")
    if raw is None:
        return 0
    try:
        sequence = int(str(raw).strip())
    except ValueError as exc:
        raise CalendarParseError("reply SEQUENCE is not a number") from exc
    if sequence < 0:
        raise CalendarParseError("reply SEQUENCE is negative")
    return sequence


def _dtstamp(event: Component) -> datetime | None:
    prop = event.get("DTSTAMP")
    if prop is None:
        return None
    try:
        value = prop.dt
    except AttributeError as exc:
        raise CalendarParseError("reply DTSTAMP is not a date-time") from exc
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise CalendarParseError("reply DTSTAMP is not a date-time")
