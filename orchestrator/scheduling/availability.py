"""Availability: everyone's busy time from their calendars, and the ranked slots for a case.

Calendars are read on demand (ICS feed or CalDAV free/busy) through one ``BusyReader`` per
app, which keeps feed bodies (``FeedCache``) and the busy intervals parsed from them, so a
repeated search neither downloads nor re-parses a feed that has not changed. A calendar that
cannot be read becomes a per-person error: that person's status is "unknown" and everyone
else is still answered. The solver itself (``calendars.slots.find_slots``) is pure.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time as monotonic
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import rules as solver_rules
from calendars.intervals import Interval
from calendars.slots import Answer, PartyAvailability, Slot, SlotSearch, find_slots
from calendars.workdays import WorkingDays
from integrations.caldav_source import CalDavSource
from integrations.errors import CalendarSourceError
from integrations.ics_feed import FeedCache, IcsFeedSource, normalise_feed_url
from orchestrator.cases import intake
from orchestrator.core.errors import Conflict
from orchestrator.core.models import (
    Case,
    Mediator,
    Meeting,
    MeetingStatus,
    Party,
    Poll,
    PollAnswer,
    PollResponse,
)
from orchestrator.core.settings import Settings

log = logging.getLogger(__name__)

# After the target, how far the search looks for the earliest times when nothing fits before it.
SEARCH_AFTER_TARGET = timedelta(days=28)
GRID_MINUTES = 15
NOTICE_WORKING_DAYS = 5

Who = Literal["party", "mediator"]


# ---------------------------------------------------------------------------- calendars


def has_calendar(config: Mapping[str, Any] | None) -> bool:
    """Say whether a stored calendar config names something we can read."""
    if not config:
        return False
    caldav = config.get("caldav")
    return bool(config.get("ics_url")) or bool(isinstance(caldav, Mapping) and caldav.get("url"))


# (kind, url, zone or user, window start, window end)
_Key = tuple[str, str, str, datetime, datetime]


@dataclass
class _Parsed:
    stored_at: float
    intervals: list[Interval] | None = None
    error: str | None = None
    body: bytes | None = None  # the feed body the intervals came from (ICS only)


class BusyReader:
    """Read busy time from ICS feeds and CalDAV, reusing what was read while it is fresh.

    Feed bodies live in ``feeds`` (revalidated with ETag/Last-Modified once stale); the busy
    intervals parsed from a body are kept beside it, keyed by source and whole-day window, and
    reused for as long as the cache still holds that same body. CalDAV answers are kept for
    ``max_age_s``. Failures are remembered for ``error_ttl_s`` so a dead feed does not slow
    every search. Messages never include a URL or credentials.
    """

    def __init__(
        self,
        *,
        max_age_s: float = 300.0,
        timeout_s: float = 10.0,
        error_ttl_s: float = 60.0,
        max_entries: int = 2000,
        max_feed_bytes: int = 5_000_000,
        clock: Callable[[], float] = monotonic.monotonic,
    ) -> None:
        self.feeds = FeedCache(max_age_s=max_age_s, max_entries=max_entries, clock=clock)
        self.max_age_s = max_age_s
        self.timeout_s = timeout_s
        self.error_ttl_s = min(error_ttl_s, max_age_s)
        self.max_entries = max_entries
        self.max_feed_bytes = max_feed_bytes
        self._clock = clock
        self._parsed: OrderedDict[_Key, _Parsed] = OrderedDict()
        # Who blocks the target, per identical search: see ``find_case_slots``.
        self.blocker_counts: OrderedDict[Hashable, SlotSearch] = OrderedDict()
        self._locks: dict[_Key, asyncio.Lock] = defaultdict(asyncio.Lock)

    def clear(self) -> None:
        """Forget every feed body, parsed interval and blocker count."""
        self.feeds = FeedCache(
            max_age_s=self.max_age_s, max_entries=self.max_entries, clock=self._clock
        )
        self._parsed.clear()
        self.blocker_counts.clear()

    def remember_blockers(self, key: Hashable, search: SlotSearch) -> None:
        """Keep a blocker count for identical searches (a few hundred at most)."""
        self.blocker_counts[key] = search
        while len(self.blocker_counts) > _BLOCKER_COUNTS_KEPT:
            self.blocker_counts.popitem(last=False)

    async def busy(
        self,
        config: Mapping[str, Any],
        window: Interval,
        *,
        http: aiohttp.ClientSession,
        default_tz: str = "Europe/London",
    ) -> list[Interval]:
        """Busy intervals of one calendar over (at least) ``window``; CalendarSourceError if not."""
        key = _key(config, window, default_tz)
        hit = self._fresh(key)
        if hit is None:
            async with self._locks[key]:
                hit = self._fresh(key)  # another request may have read it meanwhile
                if hit is None:
                    hit = await self._read(key, self._source(config, http, default_tz))
        return _outcome(hit)

    def cached(
        self, config: Mapping[str, Any], window: Interval, *, default_tz: str = "Europe/London"
    ) -> list[Interval] | None:
        """The fresh busy intervals already read for this calendar, or None (errors raise)."""
        hit = self._fresh(_key(config, window, default_tz))
        return None if hit is None else _outcome(hit)

    def _source(
        self, config: Mapping[str, Any], http: aiohttp.ClientSession, default_tz: str
    ) -> IcsFeedSource | CalDavSource:
        caldav = config.get("caldav")
        if config.get("ics_url"):
            return IcsFeedSource(
                str(config["ics_url"]),
                http,
                cache=self.feeds,
                timeout_s=self.timeout_s,
                max_bytes=self.max_feed_bytes,
                default_tz=default_tz,
            )
        assert isinstance(caldav, Mapping)
        return CalDavSource(
            str(caldav["url"]),
            str(caldav.get("username", "")),
            str(caldav.get("password", "")),
            timeout_s=self.timeout_s,
        )

    def _fresh(self, key: _Key) -> _Parsed | None:
        entry = self._parsed.get(key)
        if entry is None:
            return None
        age = self._clock() - entry.stored_at
        if entry.error is not None:
            return entry if age < self.error_ttl_s else None
        if key[0] == "ics":
            cached = self.feeds.get(key[1])
            if cached is None or not self.feeds.is_fresh(cached) or cached.body is not entry.body:
                return None
            return entry
        return entry if age < self.max_age_s else None

    async def _read(self, key: _Key, source: IcsFeedSource | CalDavSource) -> _Parsed:
        try:
            intervals = await source.busy(key[-2], key[-1])
        except CalendarSourceError as exc:
            entry = _Parsed(stored_at=self._clock(), error=str(exc))
        except Exception:  # an adapter bug must not take every other calendar down with it
            log.exception("calendar read failed unexpectedly (%s)", type(source).__name__)
            entry = _Parsed(stored_at=self._clock(), error="calendar could not be read")
        else:
            body = None
            if isinstance(source, IcsFeedSource):
                cached = self.feeds.get(source.url)
                body = cached.body if cached is not None else None
            entry = _Parsed(stored_at=self._clock(), intervals=intervals, body=body)
        self._parsed[key] = entry
        self._parsed.move_to_end(key)
        while len(self._parsed) > self.max_entries:
            old_key, _ = self._parsed.popitem(last=False)
            self._locks.pop(old_key, None)
        return entry


def _key(config: Mapping[str, Any], window: Interval, default_tz: str) -> _Key:
    """What a calendar read is cached under: the source, its zone and the whole-day window."""
    start, end = _whole_days(window)
    caldav = config.get("caldav")
    if config.get("ics_url"):
        return ("ics", normalise_feed_url(str(config["ics_url"])), default_tz, start, end)
    if isinstance(caldav, Mapping) and caldav.get("url"):
        # The password is part of what was asked, but is kept only as a digest.
        secret = hashlib.sha256(str(caldav.get("password", "")).encode()).hexdigest()
        who = f"{caldav.get('username', '')}:{secret}"
        return ("caldav", str(caldav["url"]), who, start, end)
    raise CalendarSourceError("no calendar is configured")


def _outcome(entry: _Parsed) -> list[Interval]:
    if entry.error is not None or entry.intervals is None:
        raise CalendarSourceError(entry.error or "calendar could not be read")
    return entry.intervals


def _whole_days(window: Interval) -> tuple[datetime, datetime]:
    """Widen a window to whole UTC days, so searches made through the day share one entry."""
    start = datetime.combine(window.start.astimezone(UTC).date(), time(0), tzinfo=UTC)
    end_day = window.end.astimezone(UTC)
    end = datetime.combine(end_day.date(), time(0), tzinfo=UTC)
    if end < end_day:
        end += timedelta(days=1)
    return start, end


def reader_for(settings: Settings) -> BusyReader:
    """The app's reader, sized by the settings."""
    return BusyReader(
        max_age_s=settings.calendar_cache_seconds, timeout_s=settings.calendar_timeout_seconds
    )


@dataclass(frozen=True)
class CalendarError:
    """A calendar that could not be read: whose, and why (never its URL)."""

    who: Who
    message: str
    party_id: uuid.UUID | None = None
    mediator_id: uuid.UUID | None = None


@dataclass(frozen=True)
class BusyTimes:
    """What the calendars said: busy per party with a calendar, the mediator's, and failures."""

    parties: dict[uuid.UUID, list[Interval]] = field(default_factory=dict)
    mediator: list[Interval] = field(default_factory=list)
    errors: list[CalendarError] = field(default_factory=list)

    def error_for(self, party_id: uuid.UUID) -> str | None:
        return next((e.message for e in self.errors if e.party_id == party_id), None)


# Whose calendar: a party's or the mediator's, their id, and the zone its floating times are in.
CalendarOwner = tuple[Who, uuid.UUID, str]


def readable_calendars(
    parties: Sequence[Party], mediator: Mediator | None, *, default_tz: str
) -> dict[CalendarOwner, Mapping[str, Any]]:
    """The calendars we can read among these parties and the mediator, keyed by whose."""
    found: dict[CalendarOwner, Mapping[str, Any]] = {
        ("party", p.id, default_tz): p.calendar or {} for p in parties if has_calendar(p.calendar)
    }
    if mediator is not None and has_calendar(mediator.calendar):
        found["mediator", mediator.id, default_tz] = mediator.calendar or {}
    return found


async def case_calendars(
    session: AsyncSession, *, case: Case
) -> dict[CalendarOwner, Mapping[str, Any]]:
    """The calendars we can read of the case's current parties and its mediator."""
    parties = await intake.list_parties(session, case_id=case.id)
    mediator = await session.get(Mediator, case.mediator_id) if case.mediator_id else None
    return readable_calendars(parties, mediator, default_tz=case.timezone)


@dataclass(frozen=True)
class CalendarReading:
    """What some calendars said over a window (busy time, or why they could not be read).

    Reading a feed can take seconds, so a request that writes reads the calendars first,
    outside its transaction, then hands this in; ``busy`` refuses it if the calendars it
    needs are not the ones that were read (someone changed them meanwhile).
    """

    window: Interval
    outcomes: dict[CalendarOwner, tuple[Mapping[str, Any], list[Interval] | str]] = field(
        default_factory=dict
    )

    async def busy(
        self,
        *,
        parties: Sequence[Party],
        mediator: Mediator | None,
        window: Interval,
        default_tz: str,
    ) -> BusyTimes:
        """Busy per party with a calendar and the mediator's; Conflict if one was not read."""
        wanted = readable_calendars(parties, mediator, default_tz=default_tz)
        stale = window.start < self.window.start or window.end > self.window.end
        if stale or any(self.outcomes.get(k, (None,))[0] != v for k, v in wanted.items()):
            raise Conflict(
                "the case's calendars or times changed while they were being read; try again"
            )
        busy = BusyTimes()
        for owner in wanted:
            who, owner_id, _ = owner
            outcome = self.outcomes[owner][1]
            if isinstance(outcome, str):
                busy.errors.append(
                    CalendarError(who="party", message=outcome, party_id=owner_id)
                    if who == "party"
                    else CalendarError(who="mediator", message=outcome, mediator_id=owner_id)
                )
            elif who == "party":
                busy.parties[owner_id] = outcome
            else:
                busy.mediator.extend(outcome)
        return busy


@dataclass(frozen=True)
class LiveCalendars:
    """Calendars read when the search asks: only for work outside a write transaction."""

    reader: BusyReader
    http: aiohttp.ClientSession

    async def busy(
        self,
        *,
        parties: Sequence[Party],
        mediator: Mediator | None,
        window: Interval,
        default_tz: str,
    ) -> BusyTimes:
        wanted = readable_calendars(parties, mediator, default_tz=default_tz)
        reading = await read_calendars(self.reader, wanted, window=window, http=self.http)
        return await reading.busy(
            parties=parties, mediator=mediator, window=window, default_tz=default_tz
        )


# Where a search gets busy time from: calendars read beforehand, or read as it goes.
Calendars = CalendarReading | LiveCalendars


async def read_calendars(
    reader: BusyReader,
    calendars: Mapping[CalendarOwner, Mapping[str, Any]],
    *,
    window: Interval,
    http: aiohttp.ClientSession,
) -> CalendarReading:
    """Read every calendar at once; one that fails is reported and the others still count."""

    async def read(owner: CalendarOwner, config: Mapping[str, Any]) -> list[Interval] | str:
        try:
            return await reader.busy(config, window, http=http, default_tz=owner[2])
        except CalendarSourceError as exc:
            return str(exc)

    def cached(owner: CalendarOwner, config: Mapping[str, Any]) -> list[Interval] | str | None:
        try:
            return reader.cached(config, window, default_tz=owner[2])
        except CalendarSourceError as exc:
            return str(exc)

    owners = list(calendars)
    # What is cached is answered at once; only the rest is read, all at the same time.
    results = [cached(owner, calendars[owner]) for owner in owners]
    missing = [n for n, result in enumerate(results) if result is None]
    if missing:
        fetched = await asyncio.gather(*(read(owners[n], calendars[owners[n]]) for n in missing))
        for n, result in zip(missing, fetched, strict=True):
            results[n] = result
    return CalendarReading(
        window=window,
        outcomes={
            owner: (dict(calendars[owner]), outcome)
            for owner, outcome in zip(owners, results, strict=True)
            if outcome is not None
        },
    )


async def gather_busy(
    reader: BusyReader,
    *,
    parties: Sequence[Party],
    mediator: Mediator | None,
    window: Interval,
    http: aiohttp.ClientSession,
    default_tz: str,
) -> BusyTimes:
    """Read every calendar at once; one that fails is reported and the others still count."""
    return await LiveCalendars(reader, http).busy(
        parties=parties, mediator=mediator, window=window, default_tz=default_tz
    )


# ---------------------------------------------------------------------------- rules


def _clock_time(value: Any) -> time | None:
    if not value:
        return None
    hours, minutes = str(value).split(":")[:2]
    return time(int(hours), int(minutes))


def working_hours(raw: Mapping[str, Any] | None) -> solver_rules.WorkingHours:
    """A mediator's stored hours (ISO weekday 1-7 -> [start, end]) as the solver's rules."""
    if not raw:
        return solver_rules.WorkingHours()
    by_weekday: dict[int, tuple[time, time]] = {}
    for day, span in raw.items():
        start, end = _clock_time(span[0]), _clock_time(span[1])
        if start is not None and end is not None and 1 <= int(day) <= 7:
            by_weekday[int(day) - 1] = (start, end)
    return solver_rules.WorkingHours(by_weekday)


def party_rules(raw: Mapping[str, Any] | None) -> solver_rules.PartyRules:
    """A party's stored limits as the solver's rules; weekdays are ISO (1 = Monday)."""
    if not raw:
        return solver_rules.PartyRules()
    term_dates = raw.get("term_dates")
    return solver_rules.PartyRules(
        not_before=_clock_time(raw.get("not_before")),
        not_after=_clock_time(raw.get("not_after")),
        excluded_weekdays=frozenset(
            int(d) - 1 for d in raw.get("excluded_weekdays") or [] if 1 <= int(d) <= 7
        ),
        school_day=bool(raw.get("school_day_only")),
        term_dates=(
            [(date.fromisoformat(str(a)), date.fromisoformat(str(b))) for a, b in term_dates]
            if term_dates is not None
            else None
        ),
    )


def scheduling_rules(
    timezone: str, calendar: WorkingDays, *, notice_working_days: int | None = None
) -> solver_rules.SchedulingRules:
    """The case's zone, the 15-minute grid, the family's notice and the working-day calendar."""
    return solver_rules.SchedulingRules(
        tz=timezone,
        grid_minutes=GRID_MINUTES,
        min_notice_working_days=(
            NOTICE_WORKING_DAYS if notice_working_days is None else notice_working_days
        ),
        working_days=calendar,
        # A tentative entry in someone's calendar is "if need be", not a hard no.
        tentative_is_busy=False,
    )


def mediator_rules(
    mediator: Mediator | None,
    *,
    bookings: Sequence[Interval] = (),
    busy: Sequence[Interval] = (),
) -> solver_rules.MediatorRules:
    """The mediator's hours, capacity, buffers, existing sessions and calendar busy time."""
    if mediator is None:
        return solver_rules.MediatorRules(bookings=bookings, busy=busy)
    return solver_rules.MediatorRules(
        working_hours=working_hours(mediator.working_hours),
        max_sessions_per_day=mediator.max_sessions_per_day,
        buffer_minutes=mediator.buffer_minutes,
        bookings=bookings,
        busy=busy,
    )


def _live_meetings_of(
    mediator_id: Any, window: Interval, exclude_case_id: uuid.UUID | None
) -> list[Any]:
    """Conditions for the mediator's live meetings around ``window`` (a day either side)."""
    conditions = [
        col(Meeting.mediator_id) == mediator_id,
        col(Meeting.status) != MeetingStatus.cancelled,
        col(Meeting.end_at) > window.start - timedelta(days=1),
        col(Meeting.start_at) < window.end + timedelta(days=1),
    ]
    if exclude_case_id is not None:
        conditions.append(col(Meeting.case_id) != exclude_case_id)
    return conditions


async def mediator_bookings(
    session: AsyncSession,
    *,
    mediator_id: uuid.UUID | None,
    window: Interval,
    exclude_case_id: uuid.UUID | None = None,
) -> list[Interval]:
    """The mediator's live meetings around ``window`` (a day either side, for daily capacity)."""
    if mediator_id is None:
        return []
    query = select(Meeting.start_at, Meeting.end_at).where(
        *_live_meetings_of(mediator_id, window, exclude_case_id)
    )
    rows = (await session.execute(query)).all()
    return sorted(Interval(start, end) for start, end in rows)


async def mediator_and_bookings(
    session: AsyncSession,
    *,
    mediator_id: uuid.UUID | None,
    window: Interval,
    exclude_case_id: uuid.UUID | None = None,
) -> tuple[Mediator | None, list[Interval]]:
    """The mediator and their live meetings around ``window``, in one query."""
    if mediator_id is None:
        return None, []
    query = (
        select(Mediator, Meeting.start_at, Meeting.end_at)
        .outerjoin(Meeting, and_(*_live_meetings_of(col(Mediator.id), window, exclude_case_id)))
        .where(col(Mediator.id) == mediator_id)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        return None, []
    bookings = sorted(Interval(start, end) for _, start, end in rows if start is not None)
    return rows[0][0], bookings


async def target_end(
    session: AsyncSession, *, case: Case, settings: Settings, calendar: WorkingDays
) -> datetime:
    """The end of the case's target day, in its own zone, as a UTC instant."""
    service = None if case.target_days else await intake.default_service(session)
    days = intake.effective_target_days(case, service, settings.target_days)
    # The target day does not depend on any certificate.
    target = intake.deadlines_for(
        case, target_days=days, calendar=calendar, certificate_issued_on=None
    ).target
    zone = ZoneInfo(case.timezone)
    return datetime.combine(target + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


async def parties_and_answers(
    session: AsyncSession, *, case_id: uuid.UUID
) -> tuple[list[Party], dict[uuid.UUID, dict[datetime, Answer]]]:
    """The case's current parties and each one's newest answer per polled start, in one query."""
    query = (
        select(Party, PollAnswer)
        .outerjoin(PollAnswer, col(PollAnswer.party_id) == col(Party.id))
        .where(col(Party.case_id) == case_id, col(Party.removed_at).is_(None))
        .order_by(col(Party.created_at), col(Party.id), col(PollAnswer.updated_at))
    )
    parties: dict[uuid.UUID, Party] = {}
    answers: dict[uuid.UUID, dict[datetime, Answer]] = defaultdict(dict)
    for party, answer in (await session.execute(query)).all():
        parties.setdefault(party.id, party)
        if answer is not None:
            answers[party.id][answer.candidate_start] = answer.answer.value
    return list(parties.values()), answers


# ---------------------------------------------------------------------------- slots


def party_availability(
    party: Party,
    *,
    busy: Sequence[Interval] | None = None,
    answers: Mapping[datetime, Answer] | None = None,
    calendar_error: str | None = None,
) -> PartyAvailability:
    """One party as the solver and the booking rules see them, named as staff know them."""
    return PartyAvailability(
        party_id=str(party.id),
        required=party.required,
        busy=busy,
        answers=answers,
        rules=party_rules(party.rules),
        calendar_error=calendar_error,
        name=party.name,
    )


@dataclass(frozen=True)
class SearchInputs:
    """What the solver needs for one case over one window, and the calendars that failed."""

    parties: list[Party]
    people: list[PartyAvailability]
    mediator: solver_rules.MediatorRules
    rules: solver_rules.SchedulingRules
    calendar_errors: list[CalendarError]


async def search_inputs(
    session: AsyncSession,
    *,
    case: Case,
    window: Interval,
    calendar: WorkingDays,
    calendars: Calendars,
    notice_working_days: int | None = None,
) -> SearchInputs:
    """Everyone's rules, answers and calendar busy time, the mediator's too, over ``window``.

    The slot search and the poll's candidates both start from this, so a poll never offers
    a time the slot search would not.
    """
    parties, answers = await parties_and_answers(session, case_id=case.id)
    mediator, bookings = await mediator_and_bookings(
        session, mediator_id=case.mediator_id, window=window, exclude_case_id=case.id
    )
    busy = await calendars.busy(
        parties=parties, mediator=mediator, window=window, default_tz=case.timezone
    )
    people = [
        party_availability(
            party,
            busy=busy.parties.get(party.id),
            answers=answers.get(party.id),
            calendar_error=busy.error_for(party.id),
        )
        for party in parties
    ]
    return SearchInputs(
        parties=parties,
        people=people,
        mediator=mediator_rules(mediator, bookings=bookings, busy=busy.mediator),
        rules=scheduling_rules(case.timezone, calendar, notice_working_days=notice_working_days),
        calendar_errors=busy.errors,
    )


@dataclass(frozen=True)
class Blocker:
    party_id: uuid.UUID
    role: str
    blocked: int


@dataclass(frozen=True)
class CaseSlots:
    """The ranked times for a case, who blocks the target, and calendars that failed."""

    slots: list[Slot]
    within_target: bool
    target_end: datetime
    blockers: list[Blocker]
    earliest_after_target: list[Slot]
    explanation: str
    calendar_errors: list[CalendarError]


def slots_window(target: datetime, *, now: datetime) -> Interval:
    """Where ``find_case_slots`` looks: from now to four weeks past the target."""
    return Interval(now, max(target, now) + SEARCH_AFTER_TARGET)


async def find_case_slots(
    session: AsyncSession,
    *,
    case: Case,
    duration: timedelta,
    now: datetime,
    settings: Settings,
    calendar: WorkingDays,
    reader: BusyReader,
    http: aiohttp.ClientSession,
    limit: int = 10,
    notice_working_days: int | None = None,
    read: CalendarReading | None = None,
) -> CaseSlots:
    """Rank the times everyone required can make, best first, inside the target if possible.

    When nothing fits before the target, say who blocks most and offer the earliest times
    after it (up to four weeks on). Calendars are read as the search goes unless ``read``
    holds them (see ``slots_window``), as a write transaction needs.
    """
    target = await target_end(session, case=case, settings=settings, calendar=calendar)
    window = slots_window(target, now=now)
    start, search_end = window.start, window.end
    inputs = await search_inputs(
        session,
        case=case,
        window=window,
        calendar=calendar,
        calendars=read or LiveCalendars(reader, http),
        notice_working_days=notice_working_days,
    )
    parties, availability, rules = inputs.parties, inputs.people, inputs.rules
    mediator_view = inputs.mediator
    # A time overlapping a required party's firm busy time can never be offered, so the
    # mediator's grid may skip it at once; only the blockers (who rules out how many times)
    # need the full count, and that is asked for only when nothing fits before the target.
    firm = [
        interval
        for party in availability
        if party.required and party.busy is not None
        for interval in party.busy
        if rules.tentative_is_busy or not interval.tentative
    ]
    pruned_view = replace(mediator_view, busy=[*mediator_view.busy, *firm])

    required = [party for party in availability if party.required]

    def search(window: Interval, *, count_blockers: bool = False) -> SlotSearch:
        return find_slots(
            window=window,
            duration=duration,
            # Only required parties block a time; the others change nothing in the count.
            parties=required if count_blockers else availability,
            mediator=mediator_view if count_blockers else pruned_view,
            rules=rules,
            target=target,
            now=now,
            limit=limit,
        )

    # Counting blockers walks every time with every required party, so a count is kept for
    # as long as nothing it depends on changes (the same minute, the same inputs). Only
    # searches where nothing fitted before the target are counted, so a kept count also
    # says there is no need to look before the target again.
    before_target = Interval(start, max(start, target))
    key = _blocker_key(required, mediator_view, rules, duration, target, now)
    counted = reader.blocker_counts.get(key)
    result = counted or search(before_target)
    if not any(s.within_target for s in result.slots):
        # Nothing fits before the target: say who blocks, and offer the four weeks after it.
        if counted is None:
            counted = search(before_target, count_blockers=True)
            reader.remember_blockers(key, counted)
        after = search(Interval(max(start, target), search_end))
        result = replace(
            counted, slots=after.slots, earliest_after_target=after.earliest_after_target
        )
    roles = {str(p.id): p.role.value for p in parties}
    blockers = [
        Blocker(
            party_id=uuid.UUID(pid), role=roles.get(pid, ""), blocked=result.blocked_counts[pid]
        )
        for pid in result.blockers
    ]
    return CaseSlots(
        slots=result.slots,
        within_target=any(s.within_target for s in result.slots),
        target_end=target,
        blockers=blockers,
        earliest_after_target=result.earliest_after_target,
        explanation=result.explanation,
        calendar_errors=inputs.calendar_errors,
    )


_BLOCKER_COUNTS_KEPT = 256


def _blocker_key(
    parties: Sequence[PartyAvailability],
    mediator: solver_rules.MediatorRules,
    rules: solver_rules.SchedulingRules,
    duration: timedelta,
    target: datetime,
    now: datetime,
) -> Hashable:
    """Everything a blocker count depends on, with ``now`` to the next whole minute.

    Offered starts fall on whole minutes, so two searches made within the same minute (and
    the same local day, for the notice rule) walk exactly the same times.
    """
    minute = now.replace(second=0, microsecond=0)
    if minute < now:
        minute += timedelta(minutes=1)
    return (
        minute,
        now.astimezone(rules.zone).date(),
        duration,
        target,
        rules.tz,
        rules.grid_minutes,
        rules.min_notice_working_days,
        rules.tentative_is_busy,
        repr(mediator.working_hours),
        mediator.max_sessions_per_day,
        mediator.buffer_minutes,
        tuple(mediator.bookings),
        tuple(mediator.busy),
        tuple(
            (
                p.party_id,
                p.name,
                None if p.busy is None else tuple(p.busy),
                None if p.answers is None else frozenset(p.answers.items()),
                repr(p.rules),
            )
            for p in parties
        ),
    )


# ---------------------------------------------------------------------------- who has answered


CellStatus = Literal["yes", "if_need_be", "no", "free", "busy", "unknown"]


@dataclass(frozen=True)
class PartyAvailabilityRow:
    """One party's line of the matrix: how we learn their availability and what it says."""

    party: Party
    source: Literal["calendar", "poll", "none"]
    polled: bool
    answered_at: datetime | None
    note: str | None
    cells: dict[datetime, CellStatus]
    calendar_error: str | None = None


@dataclass(frozen=True)
class AvailabilityMatrix:
    """Parties x the current poll's candidate times: answers, calendar status and notes."""

    poll: Poll | None
    candidates: list[datetime]
    rows: list[PartyAvailabilityRow]
    calendar_errors: list[CalendarError]

    @property
    def waiting_for(self) -> list[Party]:
        return [r.party for r in self.rows if r.polled and r.answered_at is None]


async def availability_matrix(
    session: AsyncSession,
    *,
    case: Case,
    reader: BusyReader,
    http: aiohttp.ClientSession,
) -> AvailabilityMatrix:
    """Who has answered the newest poll, what they said, and what calendars say for those times."""
    poll = await session.scalar(
        select(Poll).where(col(Poll.case_id) == case.id).order_by(col(Poll.created_at).desc())
    )
    parties = await intake.list_parties(session, case_id=case.id)
    candidates = [datetime.fromisoformat(c) for c in poll.candidates] if poll else []
    responses: dict[uuid.UUID, PollResponse] = {}
    answers: dict[uuid.UUID, dict[datetime, Answer]] = {}
    busy = BusyTimes()
    if poll is not None:
        rows = await session.scalars(
            select(PollResponse).where(col(PollResponse.poll_id) == poll.id)
        )
        responses = {r.party_id: r for r in rows.all()}
        answered = await session.scalars(
            select(PollAnswer).where(col(PollAnswer.poll_id) == poll.id)
        )
        for answer in answered.all():
            answers.setdefault(answer.party_id, {})[answer.candidate_start] = answer.answer.value
        if candidates:
            duration = timedelta(minutes=poll.duration_minutes)
            busy = await gather_busy(
                reader,
                parties=parties,
                mediator=None,
                window=Interval(min(candidates), max(candidates) + duration),
                http=http,
                default_tz=case.timezone,
            )
    out: list[PartyAvailabilityRow] = []
    for party in parties:
        response = responses.get(party.id)
        cells: dict[datetime, CellStatus] = {}
        calendar_busy = busy.parties.get(party.id)
        error = busy.error_for(party.id)
        for start in candidates:
            given = answers.get(party.id, {}).get(start)
            if given is not None:
                cells[start] = given
            elif calendar_busy is not None and poll is not None:
                cells[start] = _calendar_status(
                    calendar_busy, Interval(start, start + timedelta(minutes=poll.duration_minutes))
                )
            else:
                cells[start] = "unknown"
        source: Literal["calendar", "poll", "none"] = (
            "calendar" if has_calendar(party.calendar) else "poll" if response else "none"
        )
        out.append(
            PartyAvailabilityRow(
                party=party,
                source=source,
                polled=response is not None,
                answered_at=response.answered_at if response else None,
                note=response.note if response else None,
                cells=cells,
                calendar_error=error,
            )
        )
    return AvailabilityMatrix(
        poll=poll, candidates=candidates, rows=out, calendar_errors=busy.errors
    )


def _calendar_status(busy: Sequence[Interval], slot: Interval) -> CellStatus:
    overlapping = [b for b in busy if b.overlaps(slot)]
    if not overlapping:
        return "free"
    return "if_need_be" if all(b.tentative for b in overlapping) else "busy"
