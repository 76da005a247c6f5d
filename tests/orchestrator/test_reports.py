"""The figures on a generated caseload whose answers are worked out by hand below."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.closing.report_periods import Period, period_dates
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
    StaffRole,
)
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.outcomes_support import utc
from tests.orchestrator.web_support import Browser, make_user

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
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    await load_caseload(client.app[DB])
    browser = Browser(client)
    await browser.sign_in("sam@staff.example")

    status, html = await browser.get("/staff/reports?group_by=month")
    assert status == 200
    assert html.count('role="img"') == 7
    # The totals, the figures by month, one per chart, and the feedback by role, by
    # mediator and by local authority.
    assert html.count("<table") == 12
    assert '<title id="chart-within-target-title">' in html
    assert "March 2026: 100%; April 2026: 67%" in html  # the chart's text equivalent
    assert '<th scope="row" class="govuk-table__header">April 2026</th>' in html
    assert "/staff/reports/figures.csv?group_by=month" in html
    assert "<script" not in html.split("<main", 1)[1]

    bad, _ = await browser.get("/staff/reports?from=yesterday")
    assert bad == 400


# The same caseload by local authority, worked by hand (days from referral to first meeting):
#   Kent:   A 18 (within target and 30 days), B 39 (neither); median 28.5, quartiles
#           (inclusive) 23.25 and 33.75; attendance 3 of 4; agreement 1 of 2; certificates
#           A on time, B late, E (MIAS) on time: 2 of 3.
#   Medway: C 22, D 30 (both within target; D within 30 days); median 26, quartiles 24 and
#           28; attendance 3 of 4 (D's held meeting from the events); agreement 1 of 1 (D's
#           first meeting nobody came to does not count); no certificates.
#   Total:  4 first meetings, 3 within target; days 18, 22, 30, 39: median 26, quartiles 21
#           and 32.25; attendance 6 of 8; agreement 2 of 3; certificates 2 of 3.


async def test_days_spread_and_attendance_in_all_by_local_authority(
    staff: Staff, clock: MutableClock
) -> None:
    await load_caseload(staff.client.app[DB])
    report = await staff.call("GET", "/api/v1/reports/summary?group_by=local_authority", expect=200)
    kent, medway = report["groups"]
    total = report["total"]

    def spread(figures: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            figures[f"{name}_days_to_meeting"]
            for name in ("fewest", "lower_quartile", "median", "upper_quartile", "most")
        )

    assert spread(kent) == (18, 23.2, 28.5, 33.8, 39)  # 23.25 and 33.75 to one place
    assert spread(medway) == (22, 24.0, 26.0, 28.0, 30)
    assert spread(total) == (18, 21.0, 26.0, 32.2, 39)
    assert (kent["people_attended"], kent["people_expected"], kent["attendance_share"]) == (
        3,
        4,
        0.75,
    )
    assert (medway["people_attended"], medway["people_expected"]) == (3, 4)
    assert (total["people_attended"], total["people_expected"], total["attendance_share"]) == (
        6,
        8,
        0.75,
    )
    assert (kent["within_target_share"], kent["agreement_rate"]) == (0.5, 0.5)
    assert (kent["certificates_on_time"], kent["certificates_issued"]) == (2, 3)
    assert (medway["within_30_days"], medway["statutory_meetings"]) == (1, 1)
    assert (medway["certificates_issued"], medway["certificates_on_time_share"]) == (0, None)
    assert (total["agreement_rate"], total["certificates_on_time_share"]) == (0.6667, 0.6667)
    assert report["period"] is None


async def test_a_named_period_sets_the_dates(staff: Staff, clock: MutableClock) -> None:
    await load_caseload(staff.client.app[DB])
    clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))  # financial year 2026-27 began 1 April
    this_year = await staff.call(
        "GET", "/api/v1/reports/summary?group_by=local_authority&period=this_financial_year"
    )
    assert (this_year["date_from"], this_year["date_to"]) == ("2026-04-01", "2027-03-31")
    assert this_year["period"] == "this_financial_year"
    assert this_year["total"]["meetings_held"] == 3  # B, C and D; A met in March
    last_year = await staff.call("GET", "/api/v1/reports/summary?period=last_financial_year")
    assert (last_year["date_from"], last_year["date_to"]) == ("2025-04-01", "2026-03-31")
    assert last_year["total"]["meetings_held"] == 1
    assert last_year["total"]["certificates_issued"] == 2  # A's and E's, both in March
    await staff.call(
        "GET", "/api/v1/reports/summary?period=last_12_months&from=2026-01-01", expect=422
    )


async def add_waiting_cases(db: Database) -> None:
    """H (Kent, referred 5 January, target day 7 February) has no meeting and is open: it
    waits past its target. I (Medway) is not yet at its target; J (Kent) was withdrawn."""
    async with db.write() as session:
        for reference, la, referral, status in (
            ("H", "Kent", date(2026, 1, 5), CaseStatus.negotiating),
            ("I", "Medway", date(2026, 2, 20), CaseStatus.referred),
            ("J", "Kent", date(2026, 1, 5), CaseStatus.withdrawn),
        ):
            session.add(
                Case(
                    reference=reference,
                    kind=CaseKind.mediation,
                    local_authority=la,
                    referral_date=referral,
                    status=status,
                )
            )


async def test_open_cases_past_their_target_with_no_meeting_wait(
    staff: Staff, clock: MutableClock
) -> None:
    await load_caseload(staff.client.app[DB])
    await add_waiting_cases(staff.client.app[DB])
    report = await staff.call("GET", "/api/v1/reports/summary?group_by=local_authority")
    kent, medway = report["groups"]
    assert (kent["waiting_past_target"], medway["waiting_past_target"]) == (1, 0)
    assert report["total"]["waiting_past_target"] == 1
    assert (kent["meetings_held"], kent["within_target"]) == (2, 1)  # as before
    by_month = await staff.call("GET", "/api/v1/reports/summary?group_by=month")
    assert by_month["groups"][0]["label"] == "February 2026"  # H's target day
    assert by_month["groups"][0]["waiting_past_target"] == 1
    clock.set(datetime(2026, 3, 26, 9, tzinfo=UTC))  # I's target day, 25 March, has passed
    later = await staff.call("GET", "/api/v1/reports/summary?group_by=local_authority")
    assert [g["waiting_past_target"] for g in later["groups"]] == [1, 1]
    before = await staff.call("GET", "/api/v1/reports/summary?to=2026-01-31")
    assert before["total"]["waiting_past_target"] == 0


def test_periods_by_name() -> None:
    cases: tuple[tuple[Period, date, date, date], ...] = (
        ("last_12_months", date(2026, 12, 4), date(2025, 12, 5), date(2026, 12, 4)),
        ("last_12_months", date(2028, 2, 29), date(2027, 3, 1), date(2028, 2, 29)),
        ("this_financial_year", date(2026, 3, 31), date(2025, 4, 1), date(2026, 3, 31)),
        ("this_financial_year", date(2026, 4, 1), date(2026, 4, 1), date(2027, 3, 31)),
        ("last_financial_year", date(2026, 12, 4), date(2025, 4, 1), date(2026, 3, 31)),
    )
    for period, today, first, last in cases:
        assert period_dates(period, today) == (first, last), (period, today)


async def test_reports_page_by_local_authority_and_its_csv(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    await make_user(client, "mo@staff.example", StaffRole.mediator, name="Mo")
    await load_caseload(client.app[DB])
    async with client.app[DB].write() as session:  # an LA name a spreadsheet would run
        g = Case(
            reference="G",
            kind=CaseKind.mias,
            local_authority="=HYPERLINK(1)",
            referral_date=date(2026, 3, 1),
        )
        session.add(g)
        await session.flush()
        session.add(
            Certificate(
                case_id=g.id,
                kind=CertificateKind.mias,
                number="T-4",
                event_date=date(2026, 3, 9),
                due_date=date(2026, 3, 12),
                issued_at=utc(2026, 3, 10, 12),
            )
        )
    scheduler = Browser(client)
    await scheduler.sign_in("sam@staff.example")

    status, html = await scheduler.get("/staff/reports")
    assert status == 200
    assert 'href="/staff/reports">Reports</a>' in html
    by_la = html.split('id="by-group"', 1)[1].split("</table>", 1)[0]
    kent = by_la.split(">Kent</th>", 1)[1].split("</tr>", 1)[0]
    assert "1 of 2 (50%)" in kent  # within the target
    assert "median 28.5 days; middle half 23 to 34 days; fewest 18, most 39" in kent
    assert "3 of 4 (75%)" in kent and "2 of 3 (67%)" in kent
    medway = by_la.split(">Medway</th>", 1)[1].split("</tr>", 1)[0]
    assert "2 of 2 (100%)" in medway and "no data" in medway
    totals = html.split('id="totals"', 1)[1].split("</table>", 1)[0]
    assert "3 of 4 (75%)" in totals and "6 of 8 (75%)" in totals
    assert "median 26 days; middle half 21 to 32 days" in totals
    assert "/staff/reports/figures.csv?group_by=local_authority" in html

    response = await client.get("/staff/reports/figures.csv?group_by=local_authority")
    assert response.status == 200
    assert response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["local_authority"] for r in rows] == ["'=HYPERLINK(1)", "Kent", "Medway", "total"]
    assert rows[0]["label"] == "'=HYPERLINK(1)"
    assert (rows[1]["median_days_to_meeting"], rows[1]["people_attended"]) == ("28.5", "3")
    assert (rows[3]["attendance_share"], rows[3]["certificates_on_time"]) == ("0.75", "3")

    status, html = await scheduler.get("/staff/reports?period=this_financial_year")
    assert "this financial year (1 April 2025 to 31 March 2026)" in html
    assert "period=this_financial_year" in html

    await make_user(client, "ada@staff.example", StaffRole.admin)
    admin = Browser(client)
    await admin.sign_in("ada@staff.example")
    status, html = await admin.get("/staff/reports")
    assert status == 200 and 'href="/staff/reports">Reports</a>' in html

    mediator = Browser(client)
    await mediator.sign_in("mo@staff.example")
    assert (await mediator.get("/staff/reports"))[0] == 403
    assert (await mediator.get("/staff/reports/figures.csv"))[0] == 403
    _, sessions = await mediator.get("/staff/sessions")
    assert 'href="/staff/reports"' not in sessions
