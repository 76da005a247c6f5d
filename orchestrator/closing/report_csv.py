"""Write the report summary as CSV: one row per group, a last row of totals.

For a spreadsheet: shares as fractions (0.75), unknown figures as empty cells, and labels
kept from being read as formulas.
"""

from __future__ import annotations

import csv
import io

from orchestrator.closing.report_figures import GroupBy, GroupFigures, ReportSummary
from orchestrator.closing.reports import DAY_BANDS, band_label
from orchestrator.core.models import PartyRole


def summary_csv(report: ReportSummary) -> str:
    """One row per group and a last row of totals; shares as fractions (0.75)."""
    roles = [a.role for a in report.total.attendance]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_csv_header(report.group_by, roles))
    for figures in [*report.groups, report.total]:
        writer.writerow(_csv_row(figures, roles))
    return out.getvalue()


def _csv_header(group_by: GroupBy, roles: list[PartyRole]) -> list[str]:
    return [
        group_by,
        "label",
        "meetings_held",
        "within_target",
        "within_target_share",
        "statutory_meetings",
        "within_30_days",
        "within_30_days_share",
        "median_days_to_meeting",
        *[f"days_{band_label(low, high)}" for low, high in DAY_BANDS],
        *[f"{kind}_{role.value}" for role in roles for kind in ("expected", "attended")],
        "outcomes",
        "agreement",
        "partial_agreement",
        "no_agreement",
        "withdrawn",
        "not_attended",
        "agreement_rate",
        "certificates_issued",
        "certificates_on_time",
        "certificates_on_time_share",
        # Added later, so kept last: the spread of days and attendance in all.
        "fewest_days_to_meeting",
        "lower_quartile_days_to_meeting",
        "upper_quartile_days_to_meeting",
        "most_days_to_meeting",
        "people_expected",
        "people_attended",
        "attendance_share",
        "waiting_past_target",
    ]


def _blank(value: float | None) -> str | float:
    """An unknown share or median as an empty cell, not "None"."""
    return "" if value is None else value


def _csv_row(figures: GroupFigures, roles: list[PartyRole]) -> list[str | float]:
    """One group's figures in the header's order; every role of the total, 0 where absent."""
    by_role = {a.role: a for a in figures.attendance}
    return [
        _csv_safe(figures.key),
        _csv_safe(figures.label),
        figures.meetings_held,
        figures.within_target,
        _blank(figures.within_target_share),
        figures.statutory_meetings,
        figures.within_30_days,
        _blank(figures.within_30_days_share),
        _blank(figures.median_days_to_meeting),
        *[band.count for band in figures.days_to_meeting],
        *[
            getattr(by_role[role], kind) if role in by_role else 0
            for role in roles
            for kind in ("expected", "attended")
        ],
        figures.outcomes,
        figures.agreement,
        figures.partial_agreement,
        figures.no_agreement,
        figures.withdrawn,
        figures.not_attended,
        _blank(figures.agreement_rate),
        figures.certificates_issued,
        figures.certificates_on_time,
        _blank(figures.certificates_on_time_share),
        _blank(figures.fewest_days_to_meeting),
        _blank(figures.lower_quartile_days_to_meeting),
        _blank(figures.upper_quartile_days_to_meeting),
        _blank(figures.most_days_to_meeting),
        figures.people_expected,
        figures.people_attended,
        _blank(figures.attendance_share),
        figures.waiting_past_target,
    ]


def _csv_safe(text: str) -> str:
    """Keep a spreadsheet from reading a label as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
