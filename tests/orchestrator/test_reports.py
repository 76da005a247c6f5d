"""The figures on a generated caseload whose answers are worked out by hand below."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.core.db import Database
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    Certificate,
    CertificateKind,
    Channel,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Outcome,
    OutcomeResult,
    ParticipantEvent,
    ParticipantStatus,
    Party,
    PartyRole,
)
from orchestrator.core.settings import Settings
from orchestrator.web.app import create_app
from orchestrator.web.keys import DB
from orchestrator.web.staff import reports as reports_page
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import utc

# The caseload (all meetings at 10:00 UTC; target 33 days; "days" from referral):
#   A Kent   mediation  ref 2 Mar  meeting 20 Mar (18)  agreement      parent+LA came
#            certificate 23 Mar, due 25 Mar: on time                   mediator Alice
#   B Kent   mediation  ref 2 Mar  meeting 10 Apr (39)  no agreement   parent came, LA not
#            certificate 20 Apr, due 15 Apr: late                      mediator Alice
#   C Medway disagreement ref 10 Mar meeting 1 Apr (22) partial        parent+school came
#                                                                      mediator Bea
#   D Medway mediation  ref 15 Mar meeting 5 Apr: nobody came (not held)
#                                  meeting 14 Apr (30) held, no outcome yet: from the
#                                  events, parent came, LA not          mediator Bea
#   E Kent   MIAS certificate 4 Mar for a call on 2 Mar, due 5 Mar: on time (no mediator)
#   F Kent   mediation, its only meeting cancelled: counts nowhere


async def load_caseload(db: Database) -> dict[str, uuid.UUID]:
    async with db.write() as session:
        alice = Mediator(name="Alice Mediator", email="alice@mediators.example")
        bea = Mediator(name="Bea Mediator", email="bea@mediators.example")
        session.add_all([alice, bea])
        await session.flush()

        def case(ref: str, la: str, kind: CaseKind, referral: date, m: Mediator | None) -> Case:
            made = Case(
                reference=ref,
                kind=kind,
                local_authority=la,
                referral_date=referral,
                status=CaseStatus.outcome_recorded,
                mediator_id=m.id if m else None,
            )
            session.add(made)
            return made

        a = case("A", "Kent", CaseKind.mediation, date(2026, 3, 2), alice)
        b = case("B", "Kent", CaseKind.mediation, date(2026, 3, 2), alice)
        c = case("C", "Medway", CaseKind.disagreement_resolution, date(2026, 3, 10), bea)
        d = case("D", "Medway", CaseKind.mediation, date(2026, 3, 15), bea)
        e = case("E", "Kent", CaseKind.mias, date(2026, 3, 1), None)
        f = case("F", "Kent", CaseKind.mediation, date(2026, 3, 1), alice)
        await session.flush()

        def meeting(of: Case, day: date, status: MeetingStatus = MeetingStatus.closed) -> Meeting:
            start = datetime(day.year, day.month, day.day, 10, tzinfo=utc(2026, 1, 1).tzinfo)
            made = Meeting(
                case_id=of.id,
                mediator_id=of.mediator_id,
                start_at=start,
                end_at=start + timedelta(hours=3),
                mode=MeetingMode.video,
                status=status,
                ical_uid=f"{uuid.uuid4()}@test",
            )
            session.add(made)
            return made

        ma = meeting(a, date(2026, 3, 20))
        mb = meeting(b, date(2026, 4, 10))
        mc = meeting(c, date(2026, 4, 1))
        md1 = meeting(d, date(2026, 4, 5))
        md2 = meeting(d, date(2026, 4, 14))
        meeting(f, date(2026, 3, 25), MeetingStatus.cancelled)
        await session.flush()

        def came(*pairs: tuple[str, bool]) -> list[dict[str, Any]]:
            return [
                {
                    "party_id": str(uuid.uuid4()),
                    "role": role,
                    "attended": attended,
                    "seconds_present": 3600 if attended else 0,
                    "channel": "video" if attended else None,
                    "confirmed_by": "events",
                }
                for role, attended in pairs
            ]

        for m, of, result, attendance in (
            (ma, a, OutcomeResult.agreement, came(("parent", True), ("la_officer", True))),
            (mb, b, OutcomeResult.no_agreement, came(("parent", True), ("la_officer", False))),
            (mc, c, OutcomeResult.partial_agreement, came(("parent", True), ("school", True))),
            (md1, d, OutcomeResult.not_attended, came(("parent", False), ("la_officer", True))),
        ):
            session.add(
                Outcome(
                    meeting_id=m.id,
                    case_id=of.id,
                    result=result,
                    attendance=attendance,
                    recorded_at=m.end_at,
                )
            )
        parent = Party(case_id=d.id, role=PartyRole.parent, name="D parent")
        officer = Party(case_id=d.id, role=PartyRole.la_officer, name="D officer")
        session.add_all([parent, officer])
        await session.flush()
        for status, minutes in ((ParticipantStatus.in_session, 0), (ParticipantStatus.left, 60)):
            session.add(
                ParticipantEvent(
                    meeting_id=md2.id,
                    party_id=parent.id,
                    status=status,
                    channel=Channel.phone,
                    source="twilio",
                    at=md2.start_at + timedelta(minutes=minutes),
                )
            )

        def certificate(
            of: Case, number: str, kind: CertificateKind, event: date, due: date, issued: date
        ) -> None:
            session.add(
                Certificate(
                    case_id=of.id,
                    kind=kind,
                    number=number,
                    event_date=event,
                    due_date=due,
                    issued_at=utc(issued.year, issued.month, issued.day, 12),
                )
            )

        mediation = CertificateKind.mediation
        certificate(a, "T-1", mediation, date(2026, 3, 20), date(2026, 3, 25), date(2026, 3, 23))
        certificate(b, "T-2", mediation, date(2026, 4, 10), date(2026, 4, 15), date(2026, 4, 20))
        certificate(
            e, "T-3", CertificateKind.mias, date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 4)
        )
    return {"alice": alice.id, "bea": bea.id}


def bands(figures: dict[str, Any]) -> dict[str, int]:
    return {band["label"]: band["count"] for band in figures["days_to_meeting"]}


def attendance(figures: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {a["role"]: (a["attended"], a["expected"]) for a in figures["attendance"]}


async def test_totals_and_months_match_the_worked_answers(
    staff: Staff, clock: MutableClock
) -> None:
    await load_caseload(staff.client.app[DB])
    report = await staff.call("GET", "/api/v1/reports/summary?group_by=month", expect=200)

    total = report["total"]
    assert total["meetings_held"] == 4
    assert (total["within_target"], total["within_target_share"]) == (3, 0.75)
    assert (total["statutory_meetings"], total["within_30_days"]) == (3, 2)
    assert total["within_30_days_share"] == 0.6667
    assert total["median_days_to_meeting"] == 26.0
    assert bands(total) == {
        "0-7": 0,
        "8-14": 0,
        "15-21": 1,
        "22-30": 2,
        "31-33": 0,
        "34-45": 1,
        "46+": 0,
    }
    assert attendance(total) == {"parent": (4, 4), "school": (1, 1), "la_officer": (1, 3)}
    assert (total["outcomes"], total["not_attended"], total["agreement_rate"]) == (4, 1, 0.6667)
    assert (total["certificates_issued"], total["certificates_on_time"]) == (3, 2)

    march, april = report["groups"]
    assert (march["key"], march["label"]) == ("2026-03", "March 2026")
    assert (march["meetings_held"], march["within_target"], march["within_30_days"]) == (1, 1, 1)
    assert march["agreement_rate"] == 1.0
    assert (march["certificates_issued"], march["certificates_on_time_share"]) == (2, 1.0)
    assert april["meetings_held"] == 3
    assert april["median_days_to_meeting"] == 30.0
    assert (april["within_target"], april["statutory_meetings"], april["within_30_days"]) == (
        2,
        2,
        1,
    )
    assert (april["outcomes"], april["agreement_rate"]) == (3, 0.5)
    assert (april["certificates_issued"], april["certificates_on_time"]) == (1, 0)

    only_april = await staff.call(
        "GET", "/api/v1/reports/summary?from=2026-04-01&to=2026-04-30", expect=200
    )
    assert only_april["total"] | {"key": "2026-04", "label": "April 2026"} == april


async def test_by_local_authority_and_by_mediator(staff: Staff, clock: MutableClock) -> None:
    mediators = await load_caseload(staff.client.app[DB])
    by_la = await staff.call("GET", "/api/v1/reports/summary?group_by=local_authority", expect=200)
    kent, medway = by_la["groups"]
    assert (kent["key"], medway["key"]) == ("Kent", "Medway")
    assert (kent["meetings_held"], kent["median_days_to_meeting"]) == (2, 28.5)
    assert (kent["certificates_issued"], kent["certificates_on_time"]) == (3, 2)
    assert (medway["within_target_share"], medway["agreement_rate"]) == (1.0, 1.0)
    assert attendance(medway) == {"parent": (2, 2), "school": (1, 1), "la_officer": (0, 1)}

    by_mediator = await staff.call("GET", "/api/v1/reports/summary?group_by=mediator", expect=200)
    groups = {g["label"]: g for g in by_mediator["groups"]}
    assert list(groups) == ["Alice Mediator", "Bea Mediator", "No mediator"]
    assert groups["Alice Mediator"]["key"] == str(mediators["alice"])
    assert groups["Alice Mediator"]["within_target"] == 1
    assert groups["Bea Mediator"]["meetings_held"] == 2
    assert groups["No mediator"]["certificates_issued"] == 1
    assert groups["No mediator"]["meetings_held"] == 0


async def test_csv_export_has_a_row_per_group_and_the_totals(
    staff: Staff, clock: MutableClock
) -> None:
    await load_caseload(staff.client.app[DB])
    response = await staff.client.get(
        "/api/v1/reports/summary?group_by=local_authority&format=csv",
        headers=staff.headers("scheduler"),
    )
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["local_authority"] for r in rows] == ["Kent", "Medway", "total"]
    assert rows[2]["within_target_share"] == "0.75"
    assert rows[2]["days_22-30"] == "2"
    assert (rows[2]["attended_la_officer"], rows[2]["expected_la_officer"]) == ("1", "3")
    assert rows[0]["certificates_on_time"] == "2"

    same = await staff.client.get(
        "/api/v1/reports/summary.csv?group_by=local_authority",
        headers=staff.headers("scheduler"),
    )
    assert await same.text() == await response.text()
    await staff.call("GET", "/api/v1/reports/summary", role="mediator", expect=403)
    bad = await staff.call("GET", "/api/v1/reports/summary?group_by=weather", expect=422)
    assert bad["error"]["code"] == "validation_failed"
    await staff.call("GET", "/api/v1/reports/summary?from=2026-05-01&to=2026-04-01", expect=422)


async def test_reports_page_draws_each_chart_with_a_table_of_the_same_numbers(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    app = create_app(settings, clock=clock, migrate_on_start=False)
    app.router.add_get("/staff/reports", reports_page.view)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    await load_caseload(client.app[DB])

    response = await client.get("/staff/reports?group_by=month")
    assert response.status == 200
    html = await response.text()
    assert html.count('role="img"') == 7
    assert html.count("<table") == 8  # the totals and one per chart
    assert '<title id="chart-within-target-title">' in html
    assert "March 2026: 100%; April 2026: 67%" in html  # the chart's text equivalent
    assert '<th scope="row" class="govuk-table__header">April 2026</th>' in html
    assert "/api/v1/reports/summary.csv?group_by=month" in html
    assert "<script" not in html.split("<main", 1)[1]

    bad = await client.get("/staff/reports?from=yesterday")
    assert bad.status == 400
