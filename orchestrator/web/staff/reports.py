"""The staff reports page: the figures the service is judged by, in total and per group
(local authority by default), as tables and server-rendered SVG charts, and as CSV.

The charts are plain SVG drawn here (no script, nothing to download) and every chart is
followed by a table of the same numbers, so the page reads the same to a screen reader.
Schedulers (and admins) see it, as the API's reports are theirs: the figures span every
case and compare mediators by name, so mediators, who see only their own cases, do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from calendars import wording
from orchestrator.closing.report_figures import GroupFigures, ReportSummary
from orchestrator.closing.report_periods import PERIOD_WORDS
from orchestrator.core.models import ROLE_WORDS
from orchestrator.web import pages
from orchestrator.web.api.reports import ReportQuery, csv_response, figures
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import DB
from orchestrator.web.staff.roles import SCHEDULERS
from orchestrator.web.staff.sessions import StaffContext, staff_page

routes = web.RouteTableDef()
CHART_WIDTH = 640
LABEL_WIDTH = 200
VALUE_WIDTH = 70
ROW_HEIGHT = 30
BAR_HEIGHT = 20
GROUP_WORDS = {"month": "month", "local_authority": "local authority", "mediator": "mediator"}


@dataclass
class Bar:
    label: str
    text: str
    y: int
    width: float


@dataclass
class Chart:
    """One horizontal bar chart: geometry for the SVG and rows for its table."""

    id: str
    title: str
    description: str
    value_heading: str
    bars: list[Bar] = field(default_factory=list)
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * ROW_HEIGHT + 10


def _percent(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.0f}%"


def bar_chart(
    chart_id: str,
    title: str,
    items: list[tuple[str, float | None, str]],
    *,
    scale_max: float,
    value_heading: str,
) -> Chart:
    """Lay out (label, value, text) rows as bars scaled against ``scale_max``."""
    area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    chart = Chart(id=chart_id, title=title, description="", value_heading=value_heading)
    for index, (label, value, text) in enumerate(items):
        width = 0.0 if not value or scale_max <= 0 else area * min(value / scale_max, 1.0)
        chart.bars.append(Bar(label=label, text=text, y=index * ROW_HEIGHT + 5, width=width))
    chart.description = "; ".join(f"{label}: {text}" for label, _, text in items) or "No data"
    return chart


def charts_for(report: ReportSummary) -> list[Chart]:
    """The page's charts, in the order the service is judged."""
    per = GROUP_WORDS[report.group_by]
    return [
        _share_chart(
            report,
            "within-target",
            f"Meetings held within the target, by {per}",
            "within_target_share",
            "Share within target",
        ),
        _share_chart(
            report,
            "within-30-days",
            f"Mediation meetings held within 30 days, by {per}",
            "within_30_days_share",
            "Share within 30 days",
        ),
        _median_days_chart(report, per),
        _days_bands_chart(report),
        _attendance_chart(report),
        _share_chart(
            report,
            "agreement-rate",
            f"Agreement rate (full or partial), by {per}",
            "agreement_rate",
            "Agreement rate",
        ),
        _share_chart(
            report,
            "certificates-on-time",
            f"Certificates issued on time, by {per}",
            "certificates_on_time_share",
            "On time",
        ),
    ]


def _share_chart(
    report: ReportSummary, chart_id: str, title: str, attr: str, value_heading: str
) -> Chart:
    """A share (0 to 1) of each group, as a percentage."""
    items = [(g.label, getattr(g, attr), _percent(getattr(g, attr))) for g in report.groups]
    return bar_chart(chart_id, title, items, scale_max=1.0, value_heading=value_heading)


def _median_days_chart(report: ReportSummary, per: str) -> Chart:
    groups = report.groups
    medians = [g.median_days_to_meeting for g in groups if g.median_days_to_meeting is not None]
    return bar_chart(
        "median-days",
        f"Median days from referral to meeting, by {per}",
        [
            (
                g.label,
                g.median_days_to_meeting,
                "no data"
                if g.median_days_to_meeting is None
                else f"{g.median_days_to_meeting:g} days",
            )
            for g in groups
        ],
        scale_max=max(medians, default=0.0),
        value_heading="Median days",
    )


def _days_bands_chart(report: ReportSummary) -> Chart:
    bands = report.total.days_to_meeting
    return bar_chart(
        "days-distribution",
        "Days from referral to meeting: how many meetings in each band",
        [(f"{b.label} days", float(b.count), str(b.count)) for b in bands],
        scale_max=float(max((b.count for b in bands), default=0)),
        value_heading="Meetings",
    )


def _attendance_chart(report: ReportSummary) -> Chart:
    return bar_chart(
        "attendance",
        "Attendance by role: share of the people expected who attended",
        [
            (
                ROLE_WORDS[a.role],
                a.share,
                f"{_percent(a.share)} ({a.attended} of {a.expected})",
            )
            for a in report.total.attendance
        ],
        scale_max=1.0,
        value_heading="Attended",
    )


def _days(value: float | None) -> str:
    return "no data" if value is None else f"{value:g} days"


def _of(part: int, whole: int, value: float | None) -> str:
    """A part of a whole as "3 of 4 (75%)", or "no data" when there is nothing to count."""
    return "no data" if not whole else f"{part} of {whole} ({_percent(value)})"


def spread_words(figures: GroupFigures) -> str:
    """The median with the spread round it, in whole days for reading."""
    if figures.median_days_to_meeting is None:
        return "no data"
    lower = figures.lower_quartile_days_to_meeting or 0.0
    upper = figures.upper_quartile_days_to_meeting or 0.0
    return (
        f"median {_days(figures.median_days_to_meeting)}; "
        f"middle half {lower:.0f} to {upper:.0f} days; "
        f"fewest {figures.fewest_days_to_meeting}, most {figures.most_days_to_meeting}"
    )


def _within_target(figures: GroupFigures) -> str:
    return _of(figures.within_target, figures.meetings_held, figures.within_target_share)


def _attendance(figures: GroupFigures) -> str:
    return _of(figures.people_attended, figures.people_expected, figures.attendance_share)


def _certificates(figures: GroupFigures) -> str:
    return _of(
        figures.certificates_on_time,
        figures.certificates_issued,
        figures.certificates_on_time_share,
    )


def headline(figures: GroupFigures) -> list[tuple[str, str]]:
    """The figures the service is judged by, as (what, how many) rows."""
    return [
        ("Cases whose first meeting took place", str(figures.meetings_held)),
        ("First meeting within the target", _within_target(figures)),
        ("Cases waiting past their target with no meeting", str(figures.waiting_past_target)),
        (
            "Mediations meeting within 30 days",
            _of(figures.within_30_days, figures.statutory_meetings, figures.within_30_days_share),
        ),
        ("Days from referral to meeting", spread_words(figures)),
        ("People expected who attended", _attendance(figures)),
        (
            "Agreement rate (full or partial)",
            f"{_percent(figures.agreement_rate)} ({figures.agreement} full, "
            f"{figures.partial_agreement} partial, {figures.no_agreement} none, "
            f"{figures.withdrawn} withdrew, {figures.not_attended} did not attend)",
        ),
        ("Certificates issued on time (within 3 working days)", _certificates(figures)),
    ]


GROUP_COLUMNS = (
    "First meetings",
    "Within the target",
    "Waiting past the target",
    "Days from referral to meeting",
    "Attendance",
    "Agreement rate",
    "Certificates on time",
)


def group_cells(figures: GroupFigures) -> list[str]:
    """One group's row of the table by group, in the order of ``GROUP_COLUMNS``."""
    return [
        str(figures.meetings_held),
        _within_target(figures),
        str(figures.waiting_past_target),
        spread_words(figures),
        _attendance(figures),
        _percent(figures.agreement_rate),
        _certificates(figures),
    ]


def period_words(report: ReportSummary) -> str:
    """The period the figures cover, as staff say it."""
    start = wording.date_only(report.date_from) if report.date_from else "the first case"
    end = wording.date_only(report.date_to) if report.date_to else "today"
    if report.period is not None:
        return f"{PERIOD_WORDS[report.period].lower()} ({start} to {end})"
    if report.date_from or report.date_to:
        return f"{start} to {end}"
    return "all dates"


def _query_string(report: ReportSummary) -> str:
    """The query that shows these figures again (for the CSV link)."""
    query: dict[str, str] = {"group_by": report.group_by, "period": report.period or ""}
    if report.period is None:
        query |= {
            "from": report.date_from.isoformat() if report.date_from else "",
            "to": report.date_to.isoformat() if report.date_to else "",
        }
    return "&".join(f"{k}={v}" for k, v in query.items() if v)


def render_reports(
    request: web.Request,
    report: ReportSummary,
    *,
    context: dict[str, Any] | None = None,
) -> web.Response:
    """Render the reports page for ``report`` (``context`` adds e.g. the signed-in staff)."""
    chosen = report.period or ("dates" if report.date_from or report.date_to else "")
    return pages.render(
        "staff/reports.html",
        request,
        {
            "report": report,
            "charts": charts_for(report),
            "headline": headline(report.total),
            "columns": GROUP_COLUMNS,
            "rows": [(g.label, group_cells(g)) for g in report.groups],
            "period_words": period_words(report),
            "periods": PERIOD_WORDS,
            "chosen_period": chosen,
            "dates": {
                "from": report.date_from.isoformat() if report.date_from else "",
                "to": report.date_to.isoformat() if report.date_to else "",
            },
            "group_words": GROUP_WORDS,
            "csv_url": f"/staff/reports/figures.csv?{_query_string(report)}",
            "percent": _percent,
            **(context or {}),
        },
    )


def report_query(request: web.Request) -> ReportQuery:
    """The page's choices: a named period (its dates then ignored), dates, or all dates."""
    given = {k: v for k, v in request.query.items() if v and k in ("group_by", "from", "to")}
    given.setdefault("group_by", "local_authority")
    period = request.query.get("period", "")
    if period in PERIOD_WORDS:
        given = {"group_by": given["group_by"], "period": period}
    try:
        return ReportQuery.model_validate(given)
    except ValidationError:
        raise ApiError(400, "bad_query", "those report dates or groupings are not valid") from None


async def load_figures(request: web.Request, staff: StaffContext) -> ReportSummary:
    """Count the figures the page's query string asks for."""
    query = report_query(request)
    async with staff.app[DB].read() as session:
        return await figures(session, query, settings=staff.settings, now=staff.now)


@routes.get("/staff/reports")
@staff_page(roles=SCHEDULERS)
async def view(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The whole page: figures from the query string, in tables and charts."""
    return render_reports(request, await load_figures(request, staff), context=staff.page())


@routes.get("/staff/reports/figures.csv")
@staff_page(roles=SCHEDULERS)
async def figures_csv(request: web.Request, staff: StaffContext) -> web.StreamResponse:
    """The same figures as the page, as a spreadsheet to download."""
    return csv_response(await load_figures(request, staff))
