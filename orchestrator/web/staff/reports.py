"""The staff reports page: the figures as server-rendered SVG charts, each with its table.

The charts are plain SVG drawn here (no script, nothing to download) and every chart is
followed by a table of the same numbers, so the page reads the same to a screen reader.
The web app mounts it behind staff sign-in::

    routes.get("/staff/reports")(lambda request: reports_page.view(request))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from orchestrator.cases import service_record
from orchestrator.closing import reports
from orchestrator.closing.reports import ReportSummary
from orchestrator.core.models import ROLE_WORDS
from orchestrator.web import pages
from orchestrator.web.api.reports import ReportQuery
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLOCK, DB, SETTINGS

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
    groups = report.groups
    per = GROUP_WORDS[report.group_by]

    def shares(attr: str) -> list[tuple[str, float | None, str]]:
        return [(g.label, getattr(g, attr), _percent(getattr(g, attr))) for g in groups]

    medians = [g.median_days_to_meeting for g in groups if g.median_days_to_meeting is not None]
    total = report.total
    bands_max = max((b.count for b in total.days_to_meeting), default=0)
    return [
        bar_chart(
            "within-target",
            f"Meetings held within the target, by {per}",
            shares("within_target_share"),
            scale_max=1.0,
            value_heading="Share within target",
        ),
        bar_chart(
            "within-30-days",
            f"Mediation meetings held within 30 days, by {per}",
            shares("within_30_days_share"),
            scale_max=1.0,
            value_heading="Share within 30 days",
        ),
        bar_chart(
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
        ),
        bar_chart(
            "days-distribution",
            "Days from referral to meeting: how many meetings in each band",
            [(f"{b.label} days", float(b.count), str(b.count)) for b in total.days_to_meeting],
            scale_max=float(bands_max),
            value_heading="Meetings",
        ),
        bar_chart(
            "attendance",
            "Attendance by role: share of the people expected who attended",
            [
                (
                    ROLE_WORDS[a.role],
                    a.share,
                    f"{_percent(a.share)} ({a.attended} of {a.expected})",
                )
                for a in total.attendance
            ],
            scale_max=1.0,
            value_heading="Attended",
        ),
        bar_chart(
            "agreement-rate",
            f"Agreement rate (full or partial), by {per}",
            shares("agreement_rate"),
            scale_max=1.0,
            value_heading="Agreement rate",
        ),
        bar_chart(
            "certificates-on-time",
            f"Certificates issued on time, by {per}",
            shares("certificates_on_time_share"),
            scale_max=1.0,
            value_heading="On time",
        ),
    ]


def render_reports(
    request: web.Request,
    figures: ReportSummary,
    *,
    context: dict[str, Any] | None = None,
) -> web.Response:
    """Render the reports page for ``figures`` (``context`` adds e.g. the signed-in staff)."""
    query = {
        "group_by": figures.group_by,
        "from": figures.date_from.isoformat() if figures.date_from else "",
        "to": figures.date_to.isoformat() if figures.date_to else "",
    }
    csv_query = "&".join(f"{k}={v}" for k, v in query.items() if v)
    return pages.render(
        "staff/reports.html",
        request,
        {
            "report": figures,
            "charts": charts_for(figures),
            "query": query,
            "group_words": GROUP_WORDS,
            "csv_url": f"/api/v1/reports/summary.csv?{csv_query}",
            "percent": _percent,
            **(context or {}),
        },
    )


async def load_figures(request: web.Request) -> ReportSummary:
    """Read ``group_by``, ``from`` and ``to`` from the query string and count the figures."""
    try:
        query = ReportQuery.model_validate(
            {k: v for k, v in request.query.items() if v and k in ("group_by", "from", "to")}
        )
    except ValidationError:
        raise ApiError(400, "bad_query", "those report dates or groupings are not valid") from None
    app = request.app
    async with app[DB].read() as session:
        return await reports.summary(
            session,
            group_by=query.group_by,
            date_from=query.date_from,
            date_to=query.date_to,
            default_target_days=await service_record.service_target_days(
                session, fallback=app[SETTINGS].target_days
            ),
            now=app[CLOCK](),
        )


async def view(request: web.Request, *, context: dict[str, Any] | None = None) -> web.Response:
    """The whole page: figures from the query string, rendered (mount behind staff sign-in)."""
    return render_reports(request, await load_figures(request), context=context)
