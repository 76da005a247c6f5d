"""The shape of the report: the figures of one group (a month, a local authority or a
mediator) and the whole summary, as the API returns them and the CSV and page show them.

How each figure is counted is ``orchestrator.closing.reports``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from sqlmodel import SQLModel

from orchestrator.closing.report_periods import Period
from orchestrator.core.models import PartyRole

GroupBy = Literal["month", "local_authority", "mediator"]


class Band(SQLModel):
    label: str
    count: int


class RoleAttendance(SQLModel):
    role: PartyRole
    expected: int
    attended: int
    share: float | None


class GroupFigures(SQLModel):
    key: str
    label: str
    meetings_held: int
    within_target: int
    within_target_share: float | None
    statutory_meetings: int
    within_30_days: int
    within_30_days_share: float | None
    median_days_to_meeting: float | None
    days_to_meeting: list[Band]
    attendance: list[RoleAttendance]
    outcomes: int
    agreement: int
    partial_agreement: int
    no_agreement: int
    withdrawn: int
    not_attended: int
    agreement_rate: float | None
    certificates_issued: int
    certificates_on_time: int
    certificates_on_time_share: float | None
    # Added after the first release (so listed last): the spread of days, attendance in all.
    fewest_days_to_meeting: int | None = None
    most_days_to_meeting: int | None = None
    lower_quartile_days_to_meeting: float | None = None
    upper_quartile_days_to_meeting: float | None = None
    people_expected: int = 0
    people_attended: int = 0
    attendance_share: float | None = None
    waiting_past_target: int = 0


class ReportSummary(SQLModel):
    group_by: GroupBy
    date_from: date | None
    date_to: date | None
    groups: list[GroupFigures]
    total: GroupFigures
    period: Period | None = None  # the named period the dates came from, if any
    feedback: FeedbackFigures | None = None  # what the parties said afterwards


class FeedbackGroup(SQLModel):
    """The feedback of one role, mediator or commissioning LA."""

    key: str
    label: str
    answers: int
    average_satisfaction: float | None  # 1 to 5
    felt_listened_share: float | None  # of the answers, "yes, I felt listened to"


class FeedbackFigures(SQLModel):
    by_role: list[FeedbackGroup]
    by_mediator: list[FeedbackGroup]
    by_local_authority: list[FeedbackGroup]
    # Comments their writers said may be quoted: the words only, no name, role or case.
    quotable: list[str]
