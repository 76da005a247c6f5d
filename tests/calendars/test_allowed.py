"""The scheduling rules in plain words, and the proof the slot search obeys the same ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendars.allowed import rule_breaks
from calendars.intervals import Interval
from calendars.rules import MediatorRules, PartyRules, SchedulingRules, WorkingHours
from calendars.slots import candidate_starts
from calendars.workdays import WorkingDays

LONDON = ZoneInfo("Europe/London")
RULES = SchedulingRules(working_days=WorkingDays(extra_closures=[date(2026, 4, 9)]))
HOURS = WorkingHours({d: (time(9, 30), time(16, 0)) for d in range(4)})  # Monday to Thursday
NOW = datetime(2026, 3, 30, 8, 0, tzinfo=LONDON)  # Monday before Easter
DURATION = timedelta(hours=2)


@dataclass(frozen=True)
class Person:
    party_id: str
    name: str
    required: bool
    rules: PartyRules
    answers: Mapping[datetime, str] | None = None


def test_every_time_the_grid_offers_keeps_the_rules_and_no_other_does() -> None:
    window = Interval(NOW, NOW + timedelta(days=21))
    offered = set(
        candidate_starts(window, DURATION, RULES, MediatorRules(working_hours=HOURS), NOW)
    )
    checked = 0
    day = NOW.date()
    while day <= window.end.date():
        moment = datetime.combine(day, time(6, 0), tzinfo=LONDON)
        while moment.time() < time(21, 0) and moment + DURATION <= window.end:
            start = moment.astimezone(LONDON)
            keeps = not rule_breaks(start, start + DURATION, rules=RULES, hours=HOURS, now=NOW)
            assert keeps == (start in offered), start
            checked += 1
            moment += timedelta(minutes=15)
        day += timedelta(days=1)
    assert checked > 1000 and offered


def test_each_broken_rule_is_said_in_plain_words() -> None:
    def words(start: datetime, **kwargs: object) -> list[str]:
        found = rule_breaks(start, start + DURATION, rules=RULES, hours=HOURS, now=NOW, **kwargs)  # type: ignore[arg-type]
        return [b.message for b in found]

    assert words(datetime(2026, 5, 4, 10, tzinfo=LONDON)) == [
        "Monday 4 May 2026 is a bank holiday (May Day)"
    ]
    assert words(datetime(2026, 4, 9, 10, tzinfo=LONDON)) == [
        "the service is closed on Thursday 9 April 2026"
    ]
    assert words(datetime(2026, 4, 12, 10, tzinfo=LONDON)) == [
        "Sunday 12 April 2026 is a Sunday, not a working day"
    ]
    assert words(datetime(2026, 4, 17, 10, tzinfo=LONDON)) == [
        "the mediator does not work on Fridays"
    ]
    assert words(datetime(2026, 4, 14, 15, tzinfo=LONDON)) == [
        "3pm to 5pm is outside the mediator's working hours (9:30am to 4pm)"
    ]
    assert words(datetime(2026, 4, 1, 10, tzinfo=LONDON)) == [
        "the family must be told the date at least 5 working days before; "
        "for Wednesday 1 April 2026 that was by Wednesday 25 March 2026"
    ]
    school = Person("s1", "Pat Teacher", True, PartyRules(excluded_weekdays=frozenset({1})))
    helper = Person("h1", "Ash Helper", False, PartyRules(not_before=time(13, 0)))
    tuesday = datetime(2026, 4, 14, 10, tzinfo=LONDON)
    assert words(tuesday, parties=[school, helper]) == ["Pat Teacher cannot meet on Tuesdays"]
    # A poll "no" from a required party rules out that very start, as the slot search does.
    parent = Person("p1", "Zoë Carter", True, PartyRules(), answers={tuesday: "no"})
    assert words(tuesday, parties=[parent]) == [
        "Zoë Carter answered the poll that they cannot do 10am on Tuesday 14 April 2026"
    ]
    assert words(tuesday + timedelta(hours=1), parties=[parent]) == []
    unsure = Person("p2", "Sam Carter", True, PartyRules(), answers={tuesday: "if_need_be"})
    optional = Person("h2", "Ash Helper", False, PartyRules(), answers={tuesday: "no"})
    assert words(tuesday, parties=[unsure, optional]) == []
