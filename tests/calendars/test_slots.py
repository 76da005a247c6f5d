"""The slot solver: examples a mediator would check, and properties against a brute force."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from holidays.countries.united_kingdom import UnitedKingdom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.intervals import Interval
from calendars.rules import FRIDAY, MediatorRules, PartyRules, SchedulingRules, WorkingHours
from calendars.slots import (
    Answer,
    PartyAvailability,
    Slot,
    SlotSearch,
    candidate_starts,
    find_slots,
)

LONDON = ZoneInfo("Europe/London")
NO_NOTICE = SchedulingRules(min_notice_working_days=0)
THREE_HOURS = timedelta(hours=3)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def window(first: date, last: date) -> Interval:
    """The whole local days from ``first`` to ``last`` inclusive."""
    return Interval(
        local(first.year, first.month, first.day), local(last.year, last.month, last.day, 23, 59)
    )


def search(
    parties: list[PartyAvailability],
    *,
    first: date,
    last: date,
    now: datetime | None = None,
    target: datetime | None = None,
    duration: timedelta = THREE_HOURS,
    mediator: MediatorRules | None = None,
    rules: SchedulingRules = NO_NOTICE,
    limit: int | None = None,
) -> SlotSearch:
    return find_slots(
        window=window(first, last),
        duration=duration,
        parties=parties,
        mediator=mediator or MediatorRules(),
        rules=rules,
        target=target or local(last.year, last.month, last.day, 23, 59),
        now=now or local(first.year, first.month, first.day),
        limit=limit,
    )


def local_starts(slots: list[Slot]) -> list[datetime]:
    return [s.start.astimezone(LONDON) for s in slots]


# --- examples -------------------------------------------------------------------------------


def test_everyone_free_gives_the_first_morning_best() -> None:
    parent = PartyAvailability("parent", busy=[])
    result = search([parent], first=date(2025, 9, 1), last=date(2025, 9, 5), limit=3)
    assert local_starts(result.slots) == [
        local(2025, 9, 1, 9, 0),
        local(2025, 9, 1, 9, 15),
        local(2025, 9, 1, 9, 30),
    ]
    best = result.slots[0]
    assert best.end - best.start == THREE_HOURS
    assert best.parties == {"parent": "free"}
    assert best.within_target
    assert "all required parties free or yes" in best.explanation
    assert result.blockers == []


@pytest.mark.parametrize(
    ("friday", "monday", "utc_friday", "utc_monday"),
    [
        # Clocks go back Sun 26 Oct 2025: BST (UTC+1) before, GMT after.
        (date(2025, 10, 24), date(2025, 10, 27), time(9, 0), time(10, 0)),
        # Clocks go forward Sun 29 Mar 2026: GMT before, BST after.
        (date(2026, 3, 27), date(2026, 3, 30), time(10, 0), time(9, 0)),
    ],
)
def test_dst_weeks_keep_ten_oclock_at_ten_local(
    friday: date, monday: date, utc_friday: time, utc_monday: time
) -> None:
    # Only 10:00-13:00 local fits this party's day.
    la = PartyAvailability(
        "la", busy=[], rules=PartyRules(not_before=time(10, 0), not_after=time(13, 0))
    )
    result = search([la], first=friday, last=monday)
    assert local_starts(result.slots) == [
        datetime.combine(friday, time(10, 0), tzinfo=LONDON),
        datetime.combine(monday, time(10, 0), tzinfo=LONDON),
    ]
    assert [s.start.astimezone(UTC).time() for s in result.slots] == [utc_friday, utc_monday]
    assert all(s.end - s.start == THREE_HOURS for s in result.slots)


def test_bank_holiday_and_weekend_are_never_offered() -> None:
    # Fri 22 Aug 2025, weekend, Mon 25 Aug Late Summer Bank Holiday, Tue 26 Aug.
    result = search(
        [PartyAvailability("parent", busy=[])], first=date(2025, 8, 22), last=date(2025, 8, 26)
    )
    days = {s.start.astimezone(LONDON).date() for s in result.slots}
    assert days == {date(2025, 8, 22), date(2025, 8, 26)}


def test_blockers_reported_when_nothing_fits_before_target() -> None:
    school_busy = Interval(local(2025, 9, 1), local(2025, 9, 6))  # all of Mon 1 - Fri 5 Sep
    la_busy = Interval(local(2025, 9, 1), local(2025, 9, 4))  # Mon 1 - Wed 3 Sep
    parties = [
        PartyAvailability("parent", busy=[]),
        PartyAvailability("school", busy=[school_busy], name="Sam Senco"),
        PartyAvailability("la", busy=[la_busy], name="Lee Officer"),
    ]
    result = search(
        parties,
        first=date(2025, 9, 1),
        last=date(2025, 9, 12),
        target=local(2025, 9, 5, 23, 59),
        limit=2,
    )
    # School blocks every time before the target, and alone on Thu and Fri; LA only with it.
    assert result.blockers == ["school", "la"]
    assert result.blocked_counts["school"] > result.blocked_counts["la"] > 0
    assert "Sam Senco blocks" in result.explanation  # named, never by id
    assert "school" not in result.explanation
    assert local_starts(result.earliest_after_target) == [
        local(2025, 9, 8, 9, 0),
        local(2025, 9, 8, 9, 15),
    ]
    assert all(not s.within_target for s in result.slots)
    assert "after target" in result.earliest_after_target[0].explanation


def test_nothing_before_target_because_of_notice_says_so() -> None:
    rules = SchedulingRules(min_notice_working_days=5)
    result = search(
        [PartyAvailability("parent", busy=[])],
        first=date(2025, 9, 1),
        last=date(2025, 9, 12),
        target=local(2025, 9, 5, 17, 0),
        rules=rules,
        limit=1,
    )
    assert result.blockers == []
    assert "notice" in result.explanation
    assert local_starts(result.earliest_after_target) == [local(2025, 9, 8, 9, 0)]


def test_minimum_notice_of_five_working_days() -> None:
    parent = PartyAvailability("parent", busy=[])
    now = local(2025, 9, 1, 9, 0)  # Monday
    notice = search(
        [parent],
        first=date(2025, 9, 1),
        last=date(2025, 9, 12),
        now=now,
        rules=SchedulingRules(min_notice_working_days=5),
        limit=1,
    )
    # Told on Mon 1 Sep: Tue..Fri and Mon 8 Sep are the five working days.
    assert local_starts(notice.slots) == [local(2025, 9, 8, 9, 0)]
    agreed = search([parent], first=date(2025, 9, 1), last=date(2025, 9, 12), now=now, limit=1)
    assert local_starts(agreed.slots) == [local(2025, 9, 1, 9, 0)]


def test_poll_answers_rank_yes_then_if_need_be_then_unknown_and_drop_no() -> None:
    t_yes, t_maybe, t_no = local(2025, 9, 3, 9, 30), local(2025, 9, 1, 9, 30), local(2025, 9, 1, 9)
    parent = PartyAvailability(
        "parent", answers={t_yes: "yes", t_maybe: "if_need_be", t_no: "no"}, name="Sam Parent"
    )
    result = search([parent], first=date(2025, 9, 1), last=date(2025, 9, 5), limit=None)
    starts = local_starts(result.slots)
    assert len(starts) > 99
    assert t_no not in starts
    assert starts[:2] == [t_yes, t_maybe]  # answered times before every time nobody was asked
    assert result.slots[0].parties == {"parent": "yes"}
    assert result.slots[1].explanation.startswith("Sam Parent: if need be")
    assert result.slots[2].parties == {"parent": "unknown"}
    assert "Sam Parent: no answer yet" in result.slots[2].explanation
    assert "parent" not in result.slots[2].explanation


def test_tentative_busy_is_busy_or_if_need_be_by_rule() -> None:
    tentative = Interval(local(2025, 9, 1, 9), local(2025, 9, 1, 17), tentative=True)
    school = PartyAvailability("school", busy=[tentative])
    strict = search([school], first=date(2025, 9, 1), last=date(2025, 9, 1))
    assert strict.slots == []
    assert strict.blockers == ["school"]
    lenient = search(
        [school],
        first=date(2025, 9, 1),
        last=date(2025, 9, 1),
        rules=SchedulingRules(min_notice_working_days=0, tentative_is_busy=False),
    )
    assert lenient.slots
    assert {s.parties["school"] for s in lenient.slots} == {"if_need_be"}


def test_party_rules_not_fridays_school_day_and_term_dates() -> None:
    parent = PartyAvailability(
        "parent", busy=[], rules=PartyRules(excluded_weekdays=frozenset({FRIDAY}))
    )
    school = PartyAvailability(
        "school",
        busy=[],
        rules=PartyRules(
            school_day=True,
            term_dates=[(date(2025, 9, 3), date(2025, 10, 24))],  # term starts Wed 3 Sep
        ),
    )
    result = search([parent, school], first=date(2025, 9, 1), last=date(2025, 9, 12))
    days = {s.start.astimezone(LONDON).date() for s in result.slots}
    assert days == {date(2025, 9, d) for d in (3, 4, 8, 9, 10, 11)}
    times = {s.start.astimezone(LONDON).time() for s in result.slots}
    # 3 hours inside 08:45-15:15 on the 09:00 grid: 09:00 to 12:15.
    assert min(times) == time(9, 0)
    assert max(times) == time(12, 15)


def test_mediator_capacity_buffers_and_bookings() -> None:
    booking = Interval(local(2025, 9, 1, 9), local(2025, 9, 1, 10))
    parent = PartyAvailability("parent", busy=[])
    full = search(
        [parent],
        first=date(2025, 9, 1),
        last=date(2025, 9, 2),
        mediator=MediatorRules(max_sessions_per_day=1, bookings=[booking]),
        limit=1,
    )
    assert local_starts(full.slots) == [local(2025, 9, 2, 9, 0)]
    buffered = search(
        [parent],
        first=date(2025, 9, 1),
        last=date(2025, 9, 2),
        mediator=MediatorRules(max_sessions_per_day=2, buffer_minutes=30, bookings=[booking]),
        limit=1,
    )
    assert local_starts(buffered.slots) == [local(2025, 9, 1, 10, 30)]


def test_mediator_working_hours_bound_the_day() -> None:
    hours = WorkingHours({0: (time(10, 0), time(14, 0))})  # Mondays only, 10-2
    result = search(
        [PartyAvailability("parent", busy=[])],
        first=date(2025, 9, 1),
        last=date(2025, 9, 9),
        mediator=MediatorRules(working_hours=hours),
    )
    assert local_starts(result.slots) == [
        local(2025, 9, d, hh, mm)
        for d in (1, 8)
        for hh, mm in ((10, 0), (10, 15), (10, 30), (10, 45), (11, 0))
    ]


def test_optional_party_busy_does_not_block_but_breaks_ties() -> None:
    supporter_busy = Interval(local(2025, 9, 1, 9), local(2025, 9, 1, 12, 30))
    parties = [
        PartyAvailability("parent", busy=[]),
        PartyAvailability("supporter", required=False, busy=[supporter_busy], name="Ash"),
    ]
    result = search(parties, first=date(2025, 9, 1), last=date(2025, 9, 1))
    assert result.slots
    by_start = {s.start.astimezone(LONDON): s for s in result.slots}
    assert by_start[local(2025, 9, 1, 9)].parties["supporter"] == "busy"
    assert "optional unavailable: Ash" in by_start[local(2025, 9, 1, 9)].explanation
    # Same day, so the supporter's availability decides: 12:30 beats 09:00.
    assert local_starts(result.slots)[0] == local(2025, 9, 1, 12, 30)


def test_preferences_break_ties_within_a_day_but_not_across_days() -> None:
    parent = PartyAvailability(
        "parent",
        busy=[],
        rules=PartyRules(preferred_windows=[(time(13, 0), time(17, 0))]),
        name="Sam Parent",
    )
    result = search([parent], first=date(2025, 9, 1), last=date(2025, 9, 2))
    assert local_starts(result.slots)[:2] == [local(2025, 9, 1, 13), local(2025, 9, 1, 13, 15)]
    assert "preferred by Sam Parent" in result.slots[0].explanation
    first_tuesday = next(
        i for i, s in enumerate(result.slots) if s.start.astimezone(LONDON).day == 2
    )
    assert all(s.start.astimezone(LONDON).day == 1 for s in result.slots[:first_tuesday])


def test_within_target_outranks_earlier_only_when_answers_are_equal() -> None:
    parent = PartyAvailability("parent", busy=[])
    result = search(
        [parent], first=date(2025, 9, 1), last=date(2025, 9, 2), target=local(2025, 9, 1, 12, 0)
    )
    assert [s.within_target for s in result.slots[:1]] == [True]
    assert local_starts(result.slots)[0] == local(2025, 9, 1, 9)
    assert not result.slots[1].within_target  # 09:15 ends 12:15, after the target
    assert result.blockers == []


def test_calendar_error_is_unknown_and_explained() -> None:
    la = PartyAvailability("la", calendar_error="feed unreachable", name="Lee Officer")
    result = search([la], first=date(2025, 9, 1), last=date(2025, 9, 1), limit=1)
    assert result.slots[0].parties == {"la": "unknown"}
    assert "Lee Officer: no answer yet (calendar unavailable)" in result.slots[0].explanation


def test_candidate_starts_for_polls_are_coarser() -> None:
    span = window(date(2025, 8, 22), date(2025, 8, 26))
    now = local(2025, 8, 22)
    hourly = candidate_starts(span, THREE_HOURS, NO_NOTICE, MediatorRules(), now, step_minutes=60)
    assert [s.astimezone(LONDON) for s in hourly] == [
        local(2025, 8, d, h) for d in (22, 26) for h in (9, 10, 11, 12, 13, 14)
    ]
    fixed = candidate_starts(
        span, THREE_HOURS, NO_NOTICE, MediatorRules(), now, fixed_starts=[time(13), time(9, 30)]
    )
    assert [s.astimezone(LONDON) for s in fixed] == [
        local(2025, 8, d, h, m) for d in (22, 26) for h, m in ((9, 30), (13, 0))
    ]
    assert all(s.tzinfo is UTC for s in fixed)
    late = candidate_starts(
        span, THREE_HOURS, NO_NOTICE, MediatorRules(), now, fixed_starts=[time(14, 30)]
    )
    assert late == []  # 14:30 + 3 hours ends after the mediator's 17:00


def test_a_short_event_inside_a_long_one_keeps_the_long_one_busy() -> None:
    all_day = Interval(local(2025, 9, 1, 8), local(2025, 9, 1, 18))
    inside = Interval(local(2025, 9, 1, 9), local(2025, 9, 1, 10))
    la = PartyAvailability("la", busy=[all_day, inside])
    result = search([la], first=date(2025, 9, 1), last=date(2025, 9, 2), limit=1)
    assert local_starts(result.slots) == [local(2025, 9, 2, 9, 0)]


# --- properties against a brute force -----------------------------------------------------

ENGLAND_HOLIDAYS = UnitedKingdom(subdiv="ENG")
GRID = timedelta(minutes=15)
BASE = datetime(2025, 8, 18, tzinfo=UTC)  # a Monday; the window spans the August bank holiday
# Starts of busy blocks / bookings are drawn on a 5-minute lattice so they straddle grid points.
LATTICE = timedelta(minutes=5)


def brute_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in ENGLAND_HOLIDAYS


def brute_notice_ok(meeting_day: date, today: date, working_days: int) -> bool:
    """Walk back from the meeting one day at a time, counting working days."""
    day, counted = meeting_day, 0
    while counted < working_days:
        day -= timedelta(days=1)
        if brute_working_day(day):
            counted += 1
    return day >= today


def brute_party_rules_ok(rules: PartyRules, start: datetime, end: datetime) -> bool:
    if rules.not_before and start.time() < rules.not_before:
        return False
    if rules.not_after and end.time() > rules.not_after:
        return False
    if start.weekday() in rules.excluded_weekdays:
        return False
    return not (rules.school_day and (start.time() < time(8, 45) or end.time() > time(15, 15)))


def brute_force(
    span: Interval,
    duration: timedelta,
    parties: list[PartyAvailability],
    mediator: MediatorRules,
    rules: SchedulingRules,
    now: datetime,
) -> list[datetime]:
    """Try every quarter hour in the window and check every rule against every interval."""
    feasible = []
    t = BASE
    while t < span.end:
        start, end = t, t + duration
        t += GRID
        ls, le = start.astimezone(LONDON), end.astimezone(LONDON)
        if start < span.start or start < now or end > span.end:
            continue
        if not brute_working_day(ls.date()) or ls.date() != le.date():
            continue
        if ls.time() < time(9, 0) or le.time() > time(17, 0):
            continue
        if not brute_notice_ok(
            ls.date(), now.astimezone(LONDON).date(), rules.min_notice_working_days
        ):
            continue
        on_day = [b for b in mediator.bookings if b.start.astimezone(LONDON).date() == ls.date()]
        if len(on_day) >= mediator.max_sessions_per_day:
            continue
        pad = timedelta(minutes=mediator.buffer_minutes)
        if any(b.start - pad < end and start < b.end + pad for b in mediator.bookings):
            continue
        ok = True
        for party in parties:
            if not party.required:
                continue
            if not brute_party_rules_ok(party.rules, ls, le):
                ok = False
            for b in party.busy or []:
                counts = rules.tentative_is_busy or not b.tentative
                if counts and b.start < b.end and b.start < end and start < b.end:
                    ok = False
            if (party.answers or {}).get(start) == "no":
                ok = False
        if ok:
            feasible.append(start)
    return feasible


Scenario = tuple[
    Interval, timedelta, list[PartyAvailability], MediatorRules, SchedulingRules, datetime
]


@st.composite
def busy_blocks(draw: st.DrawFn) -> list[Interval]:
    blocks = []
    for _ in range(draw(st.integers(0, 12))):
        start = BASE + LATTICE * draw(st.integers(0, 12 * 24 * 12))
        length = LATTICE * draw(st.integers(1, 72))
        blocks.append(Interval(start, start + length, tentative=draw(st.booleans())))
        if draw(st.booleans()):  # a block nested inside the last one, as diaries often have
            inner = start + LATTICE * draw(st.integers(0, length // LATTICE - 1))
            blocks.append(Interval(inner, inner + LATTICE, tentative=draw(st.booleans())))
    return blocks


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    first_day = draw(st.integers(0, 6))
    span = Interval(
        BASE + timedelta(days=first_day, hours=draw(st.integers(0, 23))),
        BASE + timedelta(days=first_day + draw(st.integers(1, 9)), hours=draw(st.integers(0, 23))),
    )
    now = span.start - timedelta(hours=draw(st.integers(-30, 200)))
    duration = GRID * draw(st.integers(4, 16))
    parties = []
    for n in range(draw(st.integers(1, 3))):
        party_rules = PartyRules(
            not_before=draw(st.sampled_from([None, time(9, 30), time(10, 0)])),
            not_after=draw(st.sampled_from([None, time(15, 0), time(16, 30)])),
            excluded_weekdays=frozenset(draw(st.sets(st.integers(0, 4), max_size=2))),
            school_day=draw(st.booleans()),
        )
        has_calendar = draw(st.booleans())
        answers: dict[datetime, Answer] = {}
        for _ in range(draw(st.integers(0, 6))):
            at = BASE + GRID * draw(st.integers(0, 16 * 96))
            answers[at] = draw(st.sampled_from(["yes", "if_need_be", "no"]))
        parties.append(
            PartyAvailability(
                party_id=f"p{n}",
                required=draw(st.booleans()) or n == 0,
                busy=draw(busy_blocks()) if has_calendar else None,
                answers=answers,
                rules=party_rules,
            )
        )
    mediator = MediatorRules(
        max_sessions_per_day=draw(st.integers(1, 3)),
        buffer_minutes=draw(st.sampled_from([0, 15, 30])),
        bookings=[Interval(b.start, b.end) for b in draw(busy_blocks())[:4]],
    )
    rules = SchedulingRules(
        min_notice_working_days=draw(st.integers(0, 5)), tentative_is_busy=draw(st.booleans())
    )
    return span, duration, parties, mediator, rules, now


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def solve_all(scenario: Scenario) -> list[Slot]:
    span, duration, parties, mediator, rules, now = scenario
    return find_slots(
        window=span,
        duration=duration,
        parties=parties,
        mediator=mediator,
        rules=rules,
        target=span.end,
        now=now,
        limit=None,
    ).slots


@PROPERTY_SETTINGS
@given(scenarios())
def test_no_slot_overlaps_a_required_partys_busy_time(scenario: Scenario) -> None:
    _, _, parties, _, rules, _ = scenario
    for slot in solve_all(scenario):
        for party in parties:
            if not party.required:
                continue
            for b in party.busy or []:
                if rules.tentative_is_busy or not b.tentative:
                    assert not (b.start < b.end and b.overlaps(Interval(slot.start, slot.end)))
            assert slot.parties[party.party_id] not in {"busy", "no"}


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_slot_respects_the_rules(scenario: Scenario) -> None:
    span, duration, parties, mediator, rules, now = scenario
    slots = solve_all(scenario)
    for slot in slots:
        ls, le = slot.start.astimezone(LONDON), slot.end.astimezone(LONDON)
        assert slot.end - slot.start == duration
        assert span.start <= slot.start and slot.end <= span.end and slot.start >= now
        assert brute_working_day(ls.date()), "weekend or bank holiday"
        assert time(9) <= ls.time() and le.time() <= time(17) and ls.date() == le.date()
        assert brute_notice_ok(
            ls.date(), now.astimezone(LONDON).date(), rules.min_notice_working_days
        )
        on_day = [b for b in mediator.bookings if b.start.astimezone(LONDON).date() == ls.date()]
        assert len(on_day) < mediator.max_sessions_per_day
        for party in parties:
            if party.required:
                assert brute_party_rules_ok(party.rules, ls, le)
    scores = [s.score for s in slots]
    assert scores == sorted(scores, reverse=True), "best first"


@PROPERTY_SETTINGS
@given(scenarios())
def test_solver_finds_every_slot_the_brute_force_finds(scenario: Scenario) -> None:
    expected = brute_force(*scenario)
    found = sorted(s.start for s in solve_all(scenario))
    assert found == expected
    if expected:
        assert min(found) == expected[0]
