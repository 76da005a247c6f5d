"""How the case timeline reads to staff: plain sentences, people by name, times in the case's zone.

Each entry stores two things: a summary that is already plain but names nobody ("A party
(local authority) declined the invitation by email", "Meeting moved to Friday 4 December,
10am, by video"), and the facts it was made from (``party_id``, and ``details`` such as the
meeting's start). The summary is what the API gives and what outlives retention, so it
carries no name that anonymisation would have to find. The staff page renders each entry
at read time: the party's current name goes in beside their role, and rows written before
this wording (role codes, UTC stamps, ISO dates) are put into words the same way. An
anonymised case's parties are named by role and number, so its timeline names nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.core.models import Case, MeetingMode, Party, PartyRole, role_words
from orchestrator.core.records import list_timeline

MODE_WORDS = {
    MeetingMode.video: "by video",
    MeetingMode.phone: "by phone",
    MeetingMode.hybrid: "hybrid (in the room and by video)",
    MeetingMode.in_person: "in person",
}

# "A party (la_officer)" as written before, or "A party (local authority)" as written now.
_PARTY = re.compile(r"\b([Aa]) party \(([A-Za-z_ ]+)\)")
# "2026-12-04 10:00 UTC (in_person)": how a meeting's time used to be written.
_OLD_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}) UTC(?: \(([a-z_]+)\))?")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def a_party(role: PartyRole, *, first: bool = True) -> str:
    """Someone of the case named by role only, as the stored summary says them: "A party
    (local authority)", or "a party (…)" when not ``first`` in the sentence."""
    return f"{'A' if first else 'a'} party ({role_words(role)})"


def meeting_time(start: datetime, *, zone: str, said_at: datetime) -> str:
    """A meeting's start as the timeline says it: "Friday 4 December, 10am".

    The year is named only when it is not the year the entry was written in.
    """
    tz = ZoneInfo(zone)
    same_year = start.astimezone(tz).year == said_at.astimezone(tz).year
    day = wording.day_and_month if same_year else wording.day
    return f"{day(start, zone=zone)}, {wording.clock(start, zone=zone)}"


def meeting_words(start: datetime, mode: MeetingMode, *, zone: str, said_at: datetime) -> str:
    """A meeting's start and how people take part: "Friday 4 December, 10am, by video"."""
    return f"{meeting_time(start, zone=zone, said_at=said_at)}, {MODE_WORDS[mode]}"


def meeting_facts(start: datetime, mode: MeetingMode) -> dict[str, Any]:
    """What a booking or a move stores beside its summary, so the page can say it again."""
    return {"start": start.isoformat(), "mode": mode.value}


def date_words(day: date) -> str:
    """A deadline as the timeline says it: "Thursday 5 March 2026"."""
    return wording.day(day)


def field_words(names: list[str]) -> str:
    """Changed fields as words: "easy read, name" (not "easy_read, name")."""
    return ", ".join(sorted(name.replace("_", " ") for name in names))


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TimelineLine:
    """One entry as staff read it."""

    at: datetime
    summary: str
    kind: str


async def staff_timeline(session: AsyncSession, *, case: Case, limit: int) -> list[TimelineLine]:
    """The newest ``limit`` entries of the case's timeline, newest first, in plain words.

    People removed from the case since are still named: the entry is about them.
    """
    everyone = await session.scalars(select(Party).where(col(Party.case_id) == case.id))
    by_id = {p.id: p for p in everyone.all()}
    entries = await list_timeline(session, case_id=case.id, newest_first=True, limit=limit)
    anonymised = case.anonymised_at is not None
    return [
        TimelineLine(
            at=entry.at,
            kind=entry.kind,
            summary=plain(
                entry.summary,
                kind=entry.kind,
                details=entry.details,
                party=by_id.get(entry.party_id) if entry.party_id else None,
                zone=case.timezone,
                at=entry.at,
                anonymised=anonymised,
            ),
        )
        for entry in entries
    ]


def plain(
    summary: str,
    *,
    kind: str,
    details: dict[str, Any] | None,
    party: Party | None,
    zone: str,
    at: datetime,
    anonymised: bool,
) -> str:
    """One entry's sentence for staff: from its stored facts where it has them, else its
    summary with role codes, UTC stamps and ISO dates put into words; the party by name."""
    text = _from_facts(kind, details, zone=zone, at=at) or summary
    text = _OLD_STAMP.sub(lambda m: _old_stamp_words(m, zone=zone, at=at), text)
    text = _ISO_DATE.sub(_iso_date_words, text)
    return _PARTY.sub(lambda m: _person(m, party, anonymised=anonymised), text, count=1)


def _from_facts(kind: str, details: dict[str, Any] | None, *, zone: str, at: datetime) -> str:
    """Bookings and moves said again from the start they stored, in the case's zone."""
    if kind not in ("meeting.booked", "meeting.rescheduled") or not details:
        return ""
    if "start" not in details or details.get("mode") not in set(MeetingMode):
        return ""
    start = datetime.fromisoformat(details["start"])
    said = meeting_words(start, MeetingMode(details["mode"]), zone=zone, said_at=at)
    return f"Meeting {'booked for' if kind == 'meeting.booked' else 'moved to'} {said}"


def _iso_date_words(found: re.Match[str]) -> str:
    try:
        return date_words(date(*map(int, found.groups())))
    except ValueError:  # digits that only look like a date
        return found.group(0)


def _old_stamp_words(found: re.Match[str], *, zone: str, at: datetime) -> str:
    day, hour, minute, mode = found.groups()
    try:
        start = datetime.fromisoformat(f"{day}T{hour}:{minute}:00+00:00")
    except ValueError:
        return found.group(0)
    if mode in set(MeetingMode):
        return meeting_words(start, MeetingMode(mode), zone=zone, said_at=at)
    return meeting_time(start, zone=zone, said_at=at)


def _person(found: re.Match[str], party: Party | None, *, anonymised: bool) -> str:
    """The party by name and role ("Kim Officer (local authority)"), or by role alone."""
    article, said = found.groups()
    role = party.role if party is not None else _role_from(said.strip().replace(" ", "_").lower())
    words = role_words(role) if role is not None else said
    if party is None:
        return f"{article} party ({words})"
    if anonymised:
        return party.name
    return f"{party.name} ({words})"


def _role_from(code: str) -> PartyRole | None:
    if code in set(PartyRole):
        return PartyRole(code)
    by_words = {role_words(r).lower().replace(" ", "_"): r for r in PartyRole}
    return by_words.get(code)
