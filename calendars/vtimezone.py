"""Write a time zone as the VTIMEZONE block Outlook expects: yearly rules in RRULE form.

The rules are derived from zoneinfo's transitions over several years (e.g. last Sunday of
March at 01:00); a zone without clock changes gets one STANDARD block, and a zone whose
changes follow no yearly rule falls back to icalendar's dated list.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@lru_cache(maxsize=64)
def known_zone(tzid: str) -> ZoneInfo:
    """The zone named ``tzid``; ValueError for a name zoneinfo does not know."""
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
    zone = known_zone(tzid)
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
        name = datetime(year, 1, 1, tzinfo=UTC).astimezone(known_zone(tzid)).tzname()
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
