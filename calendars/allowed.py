"""Whether a meeting time keeps the scheduling rules, and if not, which ones it breaks.

The slot search offers only times that break none of them, and booking refuses a time that
breaks one unless the scheduler waives the rules with a reason. Both ask this module, so
the two can never disagree: working days (weekends, bank holidays, the service's closures),
the mediator's days and hours, the family's notice, each required party's own limits, and
the times a required party answered "no" to in a poll. Capacity and clashes with other
bookings are the booking's conflict check, not rules; calendar busy time is read from remote
feeds, which a booking does not wait on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from calendars import wording
from calendars.clocks import latest_notice_date
from calendars.rules import PartyRules, SchedulingRules, WorkingHours

RuleCode = Literal[
    "bank_holiday",
    "closure",
    "weekend",
    "mediator_day_off",
    "outside_hours",
    "notice",
    "party",
    "party_answer",
]

RULE_TITLES: dict[str, str] = {
    "bank_holiday": "a bank holiday",
    "closure": "a day the service is closed",
    "weekend": "a weekend",
    "mediator_day_off": "the mediator's day off",
    "outside_hours": "outside the mediator's working hours",
    "notice": "too little notice for the family",
    "party": "a party's own limits",
    "party_answer": "a time a required party said they cannot do",
}


@dataclass(frozen=True)
class RuleBreak:
    """One rule a meeting time breaks, in plain words; ``party_id`` for a party's limits."""

    rule: RuleCode
    message: str
    party_id: str | None = None

    @property
    def title(self) -> str:
        """The rule's short name ("a bank holiday"), free of anyone's name."""
        return RULE_TITLES[self.rule]


class Limited(Protocol):
    """A party as the rules see them: who, whether they must attend, their limits, and their
    poll answers by polled start (each applies to that exact start only)."""

    @property
    def party_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def rules(self) -> PartyRules: ...
    @property
    def answers(self) -> Mapping[datetime, str] | None: ...


def working_span(day: date, hours: tuple[time, time], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end of the mediator's working hours on ``day``, as aware local times."""
    return datetime.combine(day, hours[0], tzinfo=zone), datetime.combine(
        day, hours[1], tzinfo=zone
    )


def day_breaks(
    day: date, *, rules: SchedulingRules, hours: WorkingHours, today: date
) -> list[RuleBreak]:
    """The rules any meeting on local ``day`` breaks (decided on ``today``, the local date)."""
    calendar = rules.working_days
    breaks: list[RuleBreak] = []
    holiday = calendar.holiday_name(day)
    if holiday == "Service closure":
        breaks.append(RuleBreak("closure", f"the service is closed on {wording.day(day)}"))
    elif holiday is not None:
        breaks.append(
            RuleBreak("bank_holiday", f"{wording.day(day)} is a bank holiday ({holiday})")
        )
    elif not calendar.is_working_day(day):
        breaks.append(
            RuleBreak(
                "weekend", f"{wording.day(day)} is a {wording.weekday(day)}, not a working day"
            )
        )
    if not breaks and hours.hours_on(day.weekday()) is None:
        breaks.append(
            RuleBreak("mediator_day_off", f"the mediator does not work on {wording.weekday(day)}s")
        )
    notice = rules.min_notice_working_days
    latest = latest_notice_date(day, calendar, notice)
    if latest < today:
        breaks.append(
            RuleBreak(
                "notice",
                f"the family must be told the date at least {notice} working days before; "
                f"for {wording.day(day)} that was by {wording.day(latest)}",
            )
        )
    return breaks


def rule_breaks(
    start: datetime,
    end: datetime,
    *,
    rules: SchedulingRules,
    hours: WorkingHours,
    parties: Sequence[Limited] = (),
    now: datetime,
) -> list[RuleBreak]:
    """Every rule a meeting from ``start`` to ``end`` breaks; empty when it keeps them all."""
    zone = rules.zone
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    breaks = day_breaks(day, rules=rules, hours=hours, today=now.astimezone(zone).date())
    worked = hours.hours_on(day.weekday())
    if worked is not None:
        opens, closes = working_span(day, worked, zone)
        if not (opens <= start and end <= closes):
            breaks.append(
                RuleBreak(
                    "outside_hours",
                    f"{wording.clock_range(local_start, local_end)} is outside the mediator's "
                    f"working hours ({wording.clock_range(worked[0], worked[1])})",
                )
            )
    for party in parties:
        if not party.required:
            continue  # the slot search lets optional parties miss a time, and so does booking
        who = party.name or "a required party"
        limit = party.rules.broken(local_start, local_end)
        if limit is not None:
            breaks.append(RuleBreak("party", f"{who} {limit}", party_id=party.party_id))
        if (party.answers or {}).get(start) == "no":
            breaks.append(
                RuleBreak(
                    "party_answer",
                    f"{who} answered the poll that they cannot do "
                    f"{wording.clock_on_day(local_start)}",
                    party_id=party.party_id,
                )
            )
    return breaks
