"""The words staff pages show for our vocabularies, and the date filters templates use."""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web

from calendars import wording
from orchestrator.core.models import CaseKind, CaseStatus, Channel, PartyRole

ROLE_NAMES = {
    PartyRole.parent: "Parent or carer",
    PartyRole.young_person: "Young person",
    PartyRole.school: "School",
    PartyRole.college: "College",
    PartyRole.la_officer: "Local authority officer",
    PartyRole.health: "Health",
    PartyRole.social_care: "Social care",
    PartyRole.sendiass: "SENDIASS supporter",
    PartyRole.advocate: "Advocate",
    PartyRole.interpreter: "Interpreter",
    PartyRole.observer: "Observer",
}
CHANNEL_NAMES = {Channel.video: "Video", Channel.phone: "Phone", Channel.in_person: "In person"}
KIND_NAMES = {
    CaseKind.mediation: "Mediation",
    CaseKind.disagreement_resolution: "Disagreement resolution",
    CaseKind.mias: "Mediation information and advice (MIAS)",
}
STATUS_NAMES = {
    CaseStatus.referred: "Referred",
    CaseStatus.negotiating: "Finding a time",
    CaseStatus.booked: "Booked",
    CaseStatus.held: "Held, outcome due",
    CaseStatus.outcome_recorded: "Outcome recorded",
    CaseStatus.certificate_issued: "Certificate issued",
    CaseStatus.closed: "Closed",
    CaseStatus.withdrawn: "Withdrawn",
}
CLOCK_NAMES = {
    "target": "Target",
    "statutory": "Statutory 30 days",
    "contact_window": "Contact window",
    "appeal": "Appeal deadline",
    "certificate_due": "Certificate due",
    "health_notice": "LA tells health (ICB)",
}
LEVEL_TAGS = {
    "ok": ("On track", "govuk-tag--green"),
    "amber": ("Due soon", "govuk-tag--yellow"),
    "red": ("Urgent", "govuk-tag--red"),
    "overdue": ("Overdue", "govuk-tag--red"),
    "met": ("Done", "govuk-tag--green"),
    "late": ("Done late", "govuk-tag--orange"),
}


def install(app: web.Application) -> None:
    """Give templates the words for our vocabularies and the time formatter."""
    import aiohttp_jinja2

    env = aiohttp_jinja2.get_env(app)
    env.globals.update(
        role_names=ROLE_NAMES,
        channel_names=CHANNEL_NAMES,
        kind_names=KIND_NAMES,
        status_names=STATUS_NAMES,
        clock_names=CLOCK_NAMES,
        level_tags=LEVEL_TAGS,
    )
    env.filters["when"] = format_when
    env.filters["day"] = format_day


def format_when(value: datetime | None, zone: str = "Europe/London") -> str:
    """'Monday 2 March 2026, 9am GMT' in the case's zone (``wording.stamp``)."""
    if value is None:
        return ""
    return wording.stamp(value, zone=zone)


def format_day(value: date | None) -> str:
    if value is None:
        return ""
    return wording.short_day(value)
