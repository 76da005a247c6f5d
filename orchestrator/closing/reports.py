"""How the figures the service is judged by are counted, by month, local authority or mediator.

- **Meetings held within the target / within 30 days**: for each mediation or
  disagreement-resolution case, its first meeting that took place, counted in the month
  of the meeting. Days run from the family's go-ahead (the referral date) to the
  meeting's day in the case's zone; within target means on or before the case's target
  day. Within 30 days applies to mediation cases (the statutory duty) and counts from
  when the LA was told, once it was.
- **Waiting past the target**: open mediation or disagreement-resolution cases with no
  meeting held whose target day has passed, counted on their target day (the figure the
  share within target cannot show: a case never booked is in neither of its counts).
- **Days from referral to meeting**: from the go-ahead; the median, the spread (the
  fewest and most days, and the quartiles either side of the median, counted inclusively
  as a spreadsheet's QUARTILE.INC does) and a distribution in bands.
- **Attendance**: of the people expected at each held meeting, how many attended (as
  confirmed with the outcome, else from the participant events), by role and in all.
- **Agreement rate**: agreements and partial agreements over the mediations that took
  place (every recorded outcome except "a party did not attend").
- **Certificates on time**: issued on or before their due day (3 working days after the
  event), counted in the month of issue.

MIAS information calls are not mediation meetings: only their certificates count.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from calendars import wording
from orchestrator.cases import service_record
from orchestrator.closing.feedback_figures import feedback_figures
from orchestrator.closing.outcomes import attendance_for_meeting
from orchestrator.closing.report_figures import (
    Band,
    GroupBy,
    GroupFigures,
    ReportSummary,
    RoleAttendance,
)
from orchestrator.closing.report_periods import Period, period_dates
from orchestrator.core.models import (
    OPEN_CASE_STATUSES,
    Case,
    CaseKind,
    Certificate,
    Mediator,
    Meeting,
    MeetingStatus,
    Outcome,
    OutcomeResult,
    PartyRole,
)

STATUTORY_DAYS = 30
# Bands of days from referral to meeting: (lowest, highest or None for open-ended).
DAY_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 7),
    (8, 14),
    (15, 21),
    (22, 30),
    (31, 33),
    (34, 45),
    (46, None),
)
NO_MEDIATOR = "unassigned"


def band_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


# ---------------------------------------------------------------------------- counting


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def quartiles(days: list[int]) -> tuple[float, float] | None:
    """The lower and upper quartile, inclusive (one meeting: its own days for both)."""
    if not days:
        return None
    if len(days) == 1:
        return float(days[0]), float(days[0])
    lower, _, upper = statistics.quantiles(days, n=4, method="inclusive")
    return round(lower, 1), round(upper, 1)


@dataclass
class _Tally:
    label: str
    days: list[int] = field(default_factory=list)
    within_target: int = 0
    statutory: int = 0
    within_30: int = 0
    expected: Counter[PartyRole] = field(default_factory=Counter)
    attended: Counter[PartyRole] = field(default_factory=Counter)
    results: Counter[OutcomeResult] = field(default_factory=Counter)
    certificates: int = 0
    on_time: int = 0
    waiting: int = 0

    def figures(self, key: str) -> GroupFigures:
        bands = [
            Band(
                label=band_label(low, high),
                count=sum(1 for d in self.days if d >= low and (high is None or d <= high)),
            )
            for low, high in DAY_BANDS
        ]
        held = len(self.days)
        took_place = sum(n for r, n in self.results.items() if r is not OutcomeResult.not_attended)
        agreed = (
            self.results[OutcomeResult.agreement] + self.results[OutcomeResult.partial_agreement]
        )
        expected, attended = sum(self.expected.values()), sum(self.attended.values())
        spread = quartiles(self.days)
        return GroupFigures(
            key=key,
            label=self.label,
            meetings_held=held,
            within_target=self.within_target,
            within_target_share=share(self.within_target, held),
            statutory_meetings=self.statutory,
            within_30_days=self.within_30,
            within_30_days_share=share(self.within_30, self.statutory),
            median_days_to_meeting=float(statistics.median(self.days)) if self.days else None,
            days_to_meeting=bands,
            attendance=[
                RoleAttendance(
                    role=role,
                    expected=self.expected[role],
                    attended=self.attended[role],
                    share=share(self.attended[role], self.expected[role]),
                )
                for role in PartyRole
                if self.expected[role]
            ],
            outcomes=sum(self.results.values()),
            agreement=self.results[OutcomeResult.agreement],
            partial_agreement=self.results[OutcomeResult.partial_agreement],
            no_agreement=self.results[OutcomeResult.no_agreement],
            withdrawn=self.results[OutcomeResult.withdrawn],
            not_attended=self.results[OutcomeResult.not_attended],
            agreement_rate=share(agreed, took_place),
            certificates_issued=self.certificates,
            certificates_on_time=self.on_time,
            certificates_on_time_share=share(self.on_time, self.certificates),
            fewest_days_to_meeting=min(self.days, default=None),
            most_days_to_meeting=max(self.days, default=None),
            lower_quartile_days_to_meeting=spread[0] if spread else None,
            upper_quartile_days_to_meeting=spread[1] if spread else None,
            people_expected=expected,
            people_attended=attended,
            attendance_share=share(attended, expected),
            waiting_past_target=self.waiting,
        )


def _local_day(case: Case, when: datetime) -> date:
    return when.astimezone(ZoneInfo(case.timezone)).date()


def _statutory_start(case: Case) -> date:
    """Where the statutory 30 days start, as ``cases.deadlines_for`` has it."""
    if case.referral_sent_at is not None:
        return _local_day(case, case.referral_sent_at)
    return case.referral_date


@dataclass
class _Counting:
    """The tallies being filled, one per group and one in total, over one date range."""

    group_by: GroupBy
    date_from: date | None
    date_to: date | None
    mediators: dict[uuid.UUID, str]
    groups: dict[str, _Tally] = field(default_factory=dict)
    total: _Tally = field(default_factory=lambda: _Tally(label="All"))
    # The cases whose first held meeting has been counted: only that one counts for days.
    first_counted: set[uuid.UUID] = field(default_factory=set)

    def in_range(self, day: date) -> bool:
        return (self.date_from is None or day >= self.date_from) and (
            self.date_to is None or day <= self.date_to
        )

    def group_of(self, case: Case, day: date, mediator_id: uuid.UUID | None) -> tuple[str, str]:
        """The key and label of the group a meeting or certificate counts in."""
        if self.group_by == "month":
            return f"{day:%Y-%m}", wording.month(day)
        if self.group_by == "local_authority":
            return case.local_authority, case.local_authority
        chosen = mediator_id or case.mediator_id
        if chosen is None:
            return NO_MEDIATOR, "No mediator"
        return str(chosen), self.mediators.get(chosen, "Unknown mediator")

    def tallies(self, key: str, label: str) -> tuple[_Tally, _Tally]:
        """The group's tally (made when first counted in) and the total's."""
        return self.groups.setdefault(key, _Tally(label=label)), self.total

    def report(self) -> ReportSummary:
        ordered = sorted(
            self.groups.items(), key=lambda kv: kv[0] if self.group_by == "month" else kv[1].label
        )
        return ReportSummary(
            group_by=self.group_by,
            date_from=self.date_from,
            date_to=self.date_to,
            groups=[tally.figures(key) for key, tally in ordered],
            total=self.total.figures("total"),
        )


async def service_figures(
    session: AsyncSession,
    *,
    group_by: GroupBy,
    date_from: date | None,
    date_to: date | None,
    period: Period | None,
    fallback_target_days: int,
    zone: str,
    now: datetime,
) -> ReportSummary:
    """The figures staff and the API ask for: a named period (seen today in ``zone``) or
    dates, counted against each case's target, else the service's, else the fallback."""
    if period is not None:
        date_from, date_to = period_dates(period, now.astimezone(ZoneInfo(zone)).date())
    report = await summary(
        session,
        group_by=group_by,
        date_from=date_from,
        date_to=date_to,
        default_target_days=await service_record.service_target_days(
            session, fallback=fallback_target_days
        ),
        now=now,
    )
    report.period = period
    return report


async def summary(
    session: AsyncSession,
    *,
    group_by: GroupBy = "month",
    date_from: date | None = None,
    date_to: date | None = None,
    default_target_days: int = 33,
    now: datetime,
) -> ReportSummary:
    """Count every figure for each group and in total over [date_from, date_to]."""
    cases = {c.id: c for c in (await session.scalars(select(Case))).all()}
    mediators = {m.id: m.name for m in (await session.scalars(select(Mediator))).all()}
    outcomes = {o.meeting_id: o for o in (await session.scalars(select(Outcome))).all()}
    meetings = (
        await session.scalars(
            select(Meeting)
            .where(col(Meeting.status) != MeetingStatus.cancelled)
            .order_by(col(Meeting.start_at))
        )
    ).all()
    counting = _Counting(
        group_by=group_by, date_from=date_from, date_to=date_to, mediators=mediators
    )
    for meeting in meetings:
        case = cases.get(meeting.case_id)
        if case is None or case.kind is CaseKind.mias:
            continue
        await _count_meeting(
            session,
            counting,
            case=case,
            meeting=meeting,
            outcome=outcomes.get(meeting.id),
            default_target_days=default_target_days,
            now=now,
        )
    held_cases = {m.case_id for m in meetings if _held(m, outcomes.get(m.id))}
    for case in cases.values():
        _count_waiting(
            counting,
            case=case,
            held_cases=held_cases,
            default_target_days=default_target_days,
            now=now,
        )
    meeting_mediator = {m.id: m.mediator_id for m in meetings}
    for certificate in (await session.scalars(select(Certificate))).all():
        case = cases.get(certificate.case_id)
        if case is None:
            continue
        mediator_id = (
            meeting_mediator.get(certificate.meeting_id) if certificate.meeting_id else None
        )
        _count_certificate(counting, case=case, certificate=certificate, mediator_id=mediator_id)
    report = counting.report()
    report.feedback = await feedback_figures(session, date_from=date_from, date_to=date_to)
    return report


async def _count_meeting(
    session: AsyncSession,
    counting: _Counting,
    *,
    case: Case,
    meeting: Meeting,
    outcome: Outcome | None,
    default_target_days: int,
    now: datetime,
) -> None:
    """Count a meeting in its group: days to it (first held), its result, who attended."""
    day = _local_day(case, meeting.start_at)
    if not counting.in_range(day):
        return
    held = _held(meeting, outcome)
    if outcome is None and not held:
        return
    key, label = counting.group_of(case, day, meeting.mediator_id)
    if held and case.id not in counting.first_counted:
        counting.first_counted.add(case.id)
        days = (day - case.referral_date).days
        target = case.target_days or default_target_days
        for tally in counting.tallies(key, label):
            tally.days.append(days)
            tally.within_target += days <= target
            if case.kind is CaseKind.mediation:
                tally.statutory += 1
                tally.within_30 += (day - _statutory_start(case)).days <= STATUTORY_DAYS
    if outcome is not None:
        for tally in counting.tallies(key, label):
            tally.results[outcome.result] += 1
    if held:
        rows = (
            outcome.attendance
            if outcome is not None and outcome.attendance
            else [
                a.model_dump(mode="json")
                for a in await attendance_for_meeting(session, meeting, now=now)
            ]
        )
        for row in rows:
            role = PartyRole(row["role"])
            for tally in counting.tallies(key, label):
                tally.expected[role] += 1
                tally.attended[role] += bool(row["attended"])


def _held(meeting: Meeting, outcome: Outcome | None) -> bool:
    """Whether the meeting took place: as its outcome says, else once it was closed."""
    if outcome is not None:
        return outcome.result is not OutcomeResult.not_attended
    return meeting.status is MeetingStatus.closed


def _count_waiting(
    counting: _Counting,
    *,
    case: Case,
    held_cases: set[uuid.UUID],
    default_target_days: int,
    now: datetime,
) -> None:
    """Count an open case with no meeting held whose target day has passed, on that day."""
    if case.kind is CaseKind.mias or case.id in held_cases:
        return
    if case.status not in OPEN_CASE_STATUSES:
        return
    target_day = case.referral_date + timedelta(days=case.target_days or default_target_days)
    if target_day >= _local_day(case, now) or not counting.in_range(target_day):
        return
    for tally in counting.tallies(*counting.group_of(case, target_day, case.mediator_id)):
        tally.waiting += 1


def _count_certificate(
    counting: _Counting, *, case: Case, certificate: Certificate, mediator_id: uuid.UUID | None
) -> None:
    """Count a certificate in the month it was issued, and whether it was on time."""
    day = _local_day(case, certificate.issued_at)
    if not counting.in_range(day):
        return
    key, label = counting.group_of(case, day, mediator_id)
    for tally in counting.tallies(key, label):
        tally.certificates += 1
        tally.on_time += day <= certificate.due_date
