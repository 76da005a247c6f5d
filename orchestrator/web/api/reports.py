"""JSON and CSV API: the figures the service is judged by."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.closing import report_csv, reports
from orchestrator.closing.report_figures import GroupBy, ReportSummary
from orchestrator.closing.report_periods import Period
from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("reports")
REPORT_READERS = {StaffRole.scheduler}


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    group_by: GroupBy = "month"
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    period: Period | None = None
    format: Literal["json", "csv"] = "json"

    @model_validator(mode="after")
    def _ordered(self) -> ReportQuery:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("from must not be after to")
        if self.period and (self.date_from or self.date_to):
            raise ValueError("give a period or dates, not both")
        return self


async def figures(
    session: AsyncSession, query: ReportQuery, *, settings: Settings, now: datetime
) -> ReportSummary:
    """The figures ``query`` asks for (the staff page asks the same way)."""
    return await reports.service_figures(
        session,
        group_by=query.group_by,
        date_from=query.date_from,
        date_to=query.date_to,
        period=query.period,
        fallback_target_days=settings.target_days,
        zone=settings.timezone,
        now=now,
    )


def csv_response(report: ReportSummary) -> web.Response:
    name = f"mediation-figures-by-{report.group_by}.csv"
    return web.Response(
        text=report_csv.summary_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/reports/summary",
    query=ReportQuery,
    response=ReportSummary,
    roles=REPORT_READERS,
    alternate_content_types=("text/csv",),
)
async def summary(ctx: ApiContext, query: ReportQuery) -> ReportSummary | web.Response:
    """The service's figures by month, LA or mediator (``format=csv`` for a spreadsheet)."""
    report = await figures(ctx.session, query, settings=ctx.settings, now=ctx.now)
    return csv_response(report) if query.format == "csv" else report


@router.get(
    "/reports/summary.csv",
    query=ReportQuery,
    roles=REPORT_READERS,
    response_content_type="text/csv",
)
async def summary_csv(ctx: ApiContext, query: ReportQuery) -> web.Response:
    """The same figures as CSV: one row per group and a row of totals."""
    return csv_response(await figures(ctx.session, query, settings=ctx.settings, now=ctx.now))
