"""How dates and times read to people: one rule for every page, email, invite and message.

English follows the GOV.UK style guide: "Tuesday 10 March 2026", "9:30am", "10am",
"midday", "midnight", "9:30am to 10:30am", and "UK time" for the zone. The words come from
Babel (CLDR), in the zone given (the case's), so nothing here hand-builds a month or a
weekday. Every function takes a locale, British English by default, so a page or an email
in another language passes the person's own and gets that language's usual forms.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_interval,
    format_time,
    format_timedelta,
    get_datetime_format,
    get_timezone_name,
)
from babel.units import format_unit

LOCALE = "en_GB"
LONDON = "Europe/London"

Zone = str | tzinfo | None  # a zone name, a zone, or None for the moment's own zone


def _tz(zone: Zone) -> tzinfo | None:
    return ZoneInfo(zone) if isinstance(zone, str) else zone


def _local(moment: datetime, zone: Zone) -> datetime:
    tz = _tz(zone)
    return moment.astimezone(tz) if tz is not None else moment


def _english(locale: str) -> bool:
    return locale.replace("-", "_").split("_")[0].lower() == "en"


def _comma(locale: str) -> str:
    """The comma between a day and its times: Urdu writes its own (CLDR's list pattern)."""
    pattern = str(Locale.parse(locale).list_patterns["standard"]["start"])
    return pattern.removeprefix("{0}").removesuffix("{1}")


def _dated(moment: date | datetime, pattern: str, fallback: str, zone: Zone, locale: str) -> str:
    english = _english(locale)
    if isinstance(moment, datetime):
        local = _local(moment, zone)
        if english:
            return format_datetime(local, pattern, tzinfo=local.tzinfo, locale=locale)
        moment = local.date()
    return format_date(moment, pattern if english else fallback, locale=locale)


def day(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The day in full: "Tuesday 10 March 2026"."""
    return _dated(moment, "EEEE d MMMM y", "full", zone, locale)


def day_and_month(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The day without its year: "Tuesday 10 March"."""
    return _dated(moment, "EEEE d MMMM", "full", zone, locale)


def weekday(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The day of the week: "Tuesday"."""
    return _dated(moment, "EEEE", "EEEE", zone, locale)


def short_day(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The day abbreviated, for tables: "Tue 10 Mar 2026"."""
    return _dated(moment, "EEE d MMM y", "medium", zone, locale)


def date_only(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The date without its weekday: "10 March 2026"."""
    return _dated(moment, "d MMMM y", "long", zone, locale)


def month(moment: date | datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The month and year: "March 2026"."""
    return _dated(moment, "MMMM y", "MMMM y", zone, locale)


def clock(moment: datetime | time, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """The time of day: "9:30am", "10am", "midday", "midnight" (GOV.UK style)."""
    local = _local(moment, zone) if isinstance(moment, datetime) else moment
    if not _english(locale):
        return format_time(local, "short", tzinfo=getattr(local, "tzinfo", None), locale=locale)
    if local.minute == 0 and local.hour in (0, 12):
        return "midnight" if local.hour == 0 else "midday"
    pattern = "ha" if local.minute == 0 else "h:mma"
    if isinstance(local, datetime):
        return format_datetime(local, pattern, tzinfo=local.tzinfo, locale=locale)
    return format_time(local, pattern, locale=locale)


def clock_range(
    start: datetime | time, end: datetime | time, *, zone: Zone = None, locale: str = LOCALE
) -> str:
    """From one time to another on the same day: "9:30am to 10:30am"."""
    if not _english(locale) and isinstance(start, datetime) and isinstance(end, datetime):
        tz = _tz(zone) or start.tzinfo
        return format_interval(start, end, "Hm", tzinfo=tz, locale=locale)
    joiner = " to " if _english(locale) else " – "
    return f"{clock(start, zone=zone, locale=locale)}{joiner}{clock(end, zone=zone, locale=locale)}"


def zone_label(zone_name: str, *, locale: str = LOCALE) -> str:
    """How the case's zone is named: "UK time" for London, else the zone's own name."""
    if not _english(locale):
        return get_timezone_name(ZoneInfo(zone_name), "long", zone_variant="generic", locale=locale)
    return "UK time" if zone_name == LONDON else zone_name.replace("_", " ")


def _day_with_clock(day_words: str, clock_words: str, locale: str) -> str:
    """A day and a time joined as the language joins them (CLDR's date-time pattern)."""
    glue = str(get_datetime_format("long", locale=locale)).replace("'", "")
    return glue.format(clock_words, day_words)


def clock_on_day(moment: datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """A moment by time then day: "9:30am on Tuesday 10 March 2026"."""
    clock_words, day_words = (
        clock(moment, zone=zone, locale=locale),
        day(moment, zone=zone, locale=locale),
    )
    if not _english(locale):
        return _day_with_clock(day_words, clock_words, locale)
    return f"{clock_words} on {day_words}"


def clock_on(
    moment: datetime, *, meeting_start: datetime, zone: Zone = None, locale: str = LOCALE
) -> str:
    """A moment before a meeting: "9:30am on the day", or with its day when it falls earlier."""
    if _local(moment, zone).date() == _local(meeting_start, zone).date() and _english(locale):
        return f"{clock(moment, zone=zone, locale=locale)} on the day"
    return clock_on_day(moment, zone=zone, locale=locale)


def clock_before(
    moment: datetime, *, meeting_start: datetime, zone: Zone = None, locale: str = LOCALE
) -> str:
    """A moment before a meeting, as an invite says it: "9:30am on the day", "9:30am the
    day before", or with its day when it falls earlier still."""
    days = (_local(meeting_start, zone).date() - _local(moment, zone).date()).days
    if days == 1 and _english(locale):
        return f"{clock(moment, zone=zone, locale=locale)} the day before"
    return clock_on(moment, meeting_start=meeting_start, zone=zone, locale=locale)


def clock_from_today(
    moment: datetime, *, now: datetime, zone: Zone = None, locale: str = LOCALE
) -> str:
    """A moment as a page seen ``now`` says it: "9:30am today", "9:30am tomorrow", else with
    its day ("9:30am on Tuesday 10 March 2026")."""
    days = (_local(moment, zone).date() - _local(now, zone).date()).days
    if days in (0, 1) and _english(locale):
        return f"{clock(moment, zone=zone, locale=locale)} {'today' if days == 0 else 'tomorrow'}"
    return clock_on_day(moment, zone=zone, locale=locale)


def duration(length: timedelta, *, locale: str = LOCALE) -> str:
    """How long something lasts, in hours: "1 hour", "2.5 hours"."""
    hours = length.total_seconds() / 3600
    if _english(locale):
        return f"{hours:g} hour" + ("" if hours == 1 else "s")
    return format_unit(hours, "duration-hour", length="long", locale=locale)


def from_now(moment: datetime, *, now: datetime, locale: str = LOCALE) -> str:
    """How far off a moment is, to the minute: "in 25 minutes", "in 2 hours", "5 minutes
    ago", and "now" within the minute (Babel rounds the way people say it)."""
    gap = moment - now
    if abs(gap) < timedelta(minutes=1) and _english(locale):
        return "now"
    return format_timedelta(gap, granularity="minute", add_direction=True, locale=locale)


def when(start: datetime, end: datetime, *, zone: str, locale: str = LOCALE) -> str:
    """A meeting's time, as every page, email and invite says it.

    "Tuesday 10 March 2026, 9:30am to 10:30am (UK time)"; a meeting that runs past
    midnight names both days: "Tuesday 10 March 2026, 11pm to Wednesday 11 March 2026,
    1am (UK time)".
    """
    first, last = _local(start, zone), _local(end, zone)
    label = zone_label(zone, locale=locale)
    if first.date() == last.date():
        comma = _comma(locale)
        return (
            f"{day(first, locale=locale)}{comma}{clock_range(first, last, locale=locale)} ({label})"
        )
    if not _english(locale):
        starts = _day_with_clock(day(first, locale=locale), clock(first, locale=locale), locale)
        ends = _day_with_clock(day(last, locale=locale), clock(last, locale=locale), locale)
        return f"{starts} – {ends} ({label})"
    return (
        f"{day(first, locale=locale)}, {clock(first, locale=locale)} to "
        f"{day(last, locale=locale)}, {clock(last, locale=locale)} ({label})"
    )


def stamp(moment: datetime, *, zone: Zone = None, locale: str = LOCALE) -> str:
    """A moment for staff, with the zone's abbreviation: "Monday 2 March 2026, 9am GMT"."""
    local = _local(moment, zone)
    return f"{day(local, locale=locale)}, {clock(local, locale=locale)} {local.tzname()}"
