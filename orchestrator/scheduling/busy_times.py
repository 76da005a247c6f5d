"""Whose calendars a case has, and what they all said over a window.

Every calendar is read at once; one that cannot be read becomes a per-person error (that
person's status is "unknown") and everyone else is still answered. A write transaction
reads the calendars first, outside it, and hands the ``CalendarReading`` in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.intervals import Interval
from integrations.errors import CalendarSourceError
from orchestrator.cases import roster
from orchestrator.core.errors import Conflict
from orchestrator.core.models import Case, Mediator, Party
from orchestrator.scheduling.busy_reader import BusyReader, has_calendar

Who = Literal["party", "mediator"]


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
    parties = await roster.list_parties(session, case_id=case.id)
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
