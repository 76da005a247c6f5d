"""What the booking, moving and cancelling pages read and say: times, lengths, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.cases import intake
from orchestrator.core.errors import DomainError, NotFound, RulesBroken
from orchestrator.core.models import Case, MeetingMode
from orchestrator.scheduling import booking_rules, lookups
from orchestrator.web import pages
from orchestrator.web.keys import DB, WORKDAYS
from orchestrator.web.staff.forms import parse_uuid
from orchestrator.web.staff.sessions import StaffContext

MODE_NAMES = {
    MeetingMode.video: "Video",
    MeetingMode.phone: "Telephone",
    MeetingMode.hybrid: "Hybrid (some in the room, some by video or phone)",
    MeetingMode.in_person: "In person",
}


def duration_from(raw: str | None, default: int = 180) -> int:
    try:
        value = int(raw or default)
    except ValueError:
        return default
    return value if 30 <= value <= 480 else default


def start_from(raw: str | None, zone: str) -> datetime:
    """An ISO time from a form or query: with an offset, or local to the case's zone."""
    if not raw:
        raise NotFound("time", "")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise NotFound("time", raw[:40]) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


NO_WAIVER_REASON = "Say why the rules are waived for this meeting"


def booking_error(exc: DomainError) -> str:
    """The sentence a booking or move page shows for a refusal."""
    if isinstance(exc, RulesBroken):  # the page lists each rule beside the waiver
        return "That time breaks the scheduling rules shown below"
    return pages.as_sentence(exc.message)


async def rules_broken(
    request: web.Request, staff: StaffContext, case: Case, start: datetime | None, duration: int
) -> list[str]:
    """The scheduling rules a proposed time breaks, as sentences for the page."""
    if start is None:
        return []
    async with request.app[DB].read() as session:
        breaks = await booking_rules.breaks_for(
            session,
            case=case,
            start=start,
            duration_minutes=duration,
            now=staff.now,
            workdays=request.app[WORKDAYS],
        )
    return [pages.as_sentence(b.message) for b in breaks]


async def meeting_and_case(session: AsyncSession, request: web.Request) -> tuple[Any, Case]:
    meeting = await lookups.get_meeting(
        session, parse_uuid(request.match_info["meeting_id"], "meeting")
    )
    case = await intake.get_case(session, meeting.case_id)
    return meeting, case


@dataclass(frozen=True)
class Waiver:
    """A scheduler's choice to book or move despite the rules, and the reason they gave."""

    waive: bool
    reason: str

    @classmethod
    def from_form(cls, form: Any) -> Waiver:
        return cls(
            waive=form.get("waive_rules") == "yes",
            reason=str(form.get("waiver_reason", "")).strip()[:500],
        )

    @property
    def missing_reason(self) -> bool:
        """Waiving the rules needs a reason for the record."""
        return self.waive and not self.reason

    @property
    def given(self) -> str | None:
        """The reason the rules are set aside, or None when they hold."""
        return self.reason if self.waive else None
