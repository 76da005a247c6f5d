"""The deadline board's use-case: which cases are on it, found, ordered and paged in the
database, on SQLite and PostgreSQL alike, and what each row says."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.workdays import WorkingDays
from orchestrator.cases import board
from orchestrator.cases.board import BoardPage, BoardQuery, BoardRow
from orchestrator.core.db import Database
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    Certificate,
    CertificateKind,
    Mediator,
    Meeting,
    MeetingMode,
    MeetingStatus,
    Party,
    PartyRole,
    Poll,
    PollResponse,
)

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday 2 March 2026, no bank holiday near
KINDS = [CaseKind.mediation, CaseKind.disagreement_resolution, CaseKind.mias]


def add_case(session: AsyncSession, reference: str, referral: date, **fields: Any) -> Case:
    fields.setdefault("kind", CaseKind.mediation)
    fields.setdefault("local_authority", "Kent")
    case = Case(
        reference=reference, referral_date=referral, created_at=NOW, updated_at=NOW, **fields
    )
    session.add(case)
    return case


async def read(db: Database, **asked: Any) -> BoardPage:
    async with db.read() as session:
        return await board.read_board(
            session,
            query=BoardQuery(**asked),
            default_target_days=33,
            calendar=WorkingDays(),
            now=NOW,
        )


async def every_row(db: Database, **asked: Any) -> list[BoardRow]:
    first = await read(db, **asked)
    rows = list(first.rows)
    for page in range(2, first.pages + 1):
        rows += (await read(db, page=page, **asked)).rows
    return rows


def urgency(row: BoardRow) -> tuple[int, str]:
    """The exact clocks' order: fewest days left on any running clock, then reference."""
    d = row.case.deadlines
    running = [c for c in (d.target, d.statutory, d.certificate_due) if c is not None]
    return min(c.days_left for c in running), row.case.reference


async def seed_mixed_caseload(db: Database, count: int) -> None:
    """Cases of every kind and stage, clocks spread over weeks, some with a certificate due."""
    async with db.write() as session:
        for i in range(count):
            referral = date(2026, 1, 5) + timedelta(days=(i * 7) % 53)
            fields: dict[str, Any] = {"kind": KINDS[i % 3], "status": CaseStatus.negotiating}
            if i % 5 == 0:
                fields["target_days"] = 20
            if i % 3 == 0:  # the LA was told some days after the go-ahead
                sent = referral + timedelta(days=i % 6)
                fields["referral_sent_at"] = datetime.combine(sent, datetime.min.time(), UTC)
            if i % 7 == 0:  # the session was held: the certificate is due
                fields["status"] = CaseStatus.outcome_recorded
                fields["certificate_event_on"] = date(2026, 2, 20) + timedelta(days=i % 9)
            add_case(session, f"KIDS-{i:04d}", referral, **fields)


async def test_the_order_in_the_database_is_the_order_of_the_clocks(db: Database) -> None:
    await seed_mixed_caseload(db, 45)
    rows = await every_row(db)
    assert len(rows) == 45
    assert [urgency(r) for r in rows] == sorted(urgency(r) for r in rows)
    due = [r for r in rows if r.case.deadlines.certificate_due is not None]
    assert due and all(r.next_action == "Issue the certificate" for r in due)


async def test_closed_cases_leave_the_board_unless_their_certificate_is_still_due(
    db: Database,
) -> None:
    async with db.write() as session:
        add_case(session, "KIDS-OPEN", date(2026, 2, 20))
        add_case(session, "KIDS-WITHDRAWN", date(2026, 2, 20), status=CaseStatus.withdrawn)
        add_case(
            session,
            "KIDS-CERT-DUE",
            date(2026, 1, 20),
            status=CaseStatus.outcome_recorded,
            certificate_event_on=date(2026, 2, 27),  # a Friday: due Wednesday 4 March
        )
        issued = add_case(
            session,
            "KIDS-CERT-SENT",
            date(2026, 1, 20),
            status=CaseStatus.certificate_issued,
            certificate_event_on=date(2026, 2, 26),
        )
        declined = add_case(
            session,
            "KIDS-DECLINED-AGAIN",
            date(2026, 1, 20),
            kind=CaseKind.disagreement_resolution,
            status=CaseStatus.outcome_recorded,
            declined_on=date(2026, 2, 27),
        )
        await session.flush()
        session.add(certificate(issued, issued_at=datetime(2026, 2, 27, 10, tzinfo=UTC)))
        # Issued for an earlier event: the latest one calls for another.
        session.add(certificate(declined, issued_at=datetime(2026, 2, 10, 10, tzinfo=UTC)))
    rows = (await read(db)).rows
    assert [r.case.reference for r in rows] == ["KIDS-CERT-DUE", "KIDS-DECLINED-AGAIN", "KIDS-OPEN"]
    assert rows[0].case.deadlines.certificate_due is not None
    assert rows[0].case.deadlines.certificate_due.date == date(2026, 3, 4)


def certificate(case: Case, *, issued_at: datetime) -> Certificate:
    return Certificate(
        case_id=case.id,
        kind=CertificateKind.mediation,
        number=f"CERT-{uuid.uuid4().hex[:8]}",
        event_date=issued_at.date(),
        due_date=issued_at.date(),
        issued_at=issued_at,
    )


async def test_search_finds_a_reference_or_anyone_named_on_the_case(db: Database) -> None:
    async with db.write() as session:
        jordan = add_case(session, "KIDS-2026-014", date(2026, 2, 20))
        add_case(session, "KIDS-2026-140", date(2026, 2, 21))
        add_case(session, "KENT_100%", date(2026, 2, 22))
        await session.flush()
        session.add(Party(case_id=jordan.id, role=PartyRole.parent, name="Pat Jordan"))
        gone = Party(case_id=jordan.id, role=PartyRole.school, name="Old School", removed_at=NOW)
        session.add(gone)

    async def found(text: str) -> list[str]:
        return [r.case.reference for r in (await read(db, search=text)).rows]

    assert await found("kids-2026-014") == ["KIDS-2026-014"]
    assert await found("2026-14") == ["KIDS-2026-140"]
    assert await found("jordan") == ["KIDS-2026-014"]
    assert await found("Old School") == []  # no longer on the case
    assert await found("%") == ["KENT_100%"]  # typed characters are text, not wildcards
    assert await found("_") == ["KENT_100%"]


async def test_pages_of_25_and_a_page_past_the_end_shows_the_last(db: Database) -> None:
    await seed_mixed_caseload(db, 60)
    first = await read(db)
    assert (first.total, first.pages, first.page, len(first.rows)) == (60, 3, 1, 25)
    last = await read(db, page=99)
    assert (last.page, len(last.rows)) == (3, 10)
    seen = [r.case.reference for r in await every_row(db)]
    assert len(set(seen)) == 60


async def test_sorts_by_reference_and_by_the_booked_meeting(db: Database) -> None:
    async with db.write() as session:
        late = add_case(session, "KIDS-C", date(2026, 2, 1), status=CaseStatus.booked)
        soon = add_case(session, "KIDS-B", date(2026, 2, 25), status=CaseStatus.booked)
        add_case(session, "KIDS-A", date(2026, 1, 25))
        await session.flush()
        session.add(meeting(late, datetime(2026, 3, 20, 10, tzinfo=UTC)))
        session.add(meeting(soon, datetime(2026, 3, 9, 10, tzinfo=UTC)))
        # A cancelled meeting is not booked.
        session.add(meeting(soon, datetime(2026, 3, 5, 10, tzinfo=UTC), MeetingStatus.cancelled))
    by_reference = (await read(db, sort="reference")).rows
    assert [r.case.reference for r in by_reference] == ["KIDS-A", "KIDS-B", "KIDS-C"]
    by_meeting = (await read(db, sort="booked")).rows
    assert [r.case.reference for r in by_meeting] == ["KIDS-B", "KIDS-C", "KIDS-A"]
    assert by_meeting[0].meeting_start == datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert by_meeting[2].meeting_start is None
    urgent = (await read(db)).rows
    assert [r.case.reference for r in urgent] == ["KIDS-A", "KIDS-C", "KIDS-B"]


def meeting(
    case: Case, start: datetime, status: MeetingStatus = MeetingStatus.scheduled
) -> Meeting:
    return Meeting(
        case_id=case.id,
        start_at=start,
        end_at=start + timedelta(hours=3),
        mode=MeetingMode.video,
        status=status,
        ical_uid=f"{uuid.uuid4()}@test",
    )


async def test_filters_and_a_mediator_sees_only_their_cases(db: Database) -> None:
    async with db.write() as session:
        mo = Mediator(name="Mo Ahmed", email="mo@mediators.example")
        session.add(mo)
        await session.flush()
        add_case(session, "KIDS-MO", date(2026, 2, 20), mediator_id=mo.id)
        add_case(session, "KIDS-ESSEX", date(2026, 2, 20), local_authority="Essex")
        add_case(session, "KIDS-BOOKED", date(2026, 2, 20), status=CaseStatus.booked)

    async def refs(**asked: Any) -> list[str]:
        return sorted(r.case.reference for r in (await read(db, **asked)).rows)

    assert await refs(mediator_id=mo.id) == ["KIDS-MO"]
    assert await refs(unassigned=True) == ["KIDS-BOOKED", "KIDS-ESSEX"]
    assert await refs(local_authority="essex") == ["KIDS-ESSEX"]
    assert await refs(stage=CaseStatus.booked) == ["KIDS-BOOKED"]
    assert await refs(only_mediators=frozenset({mo.id})) == ["KIDS-MO"]
    mine = await read(db, only_mediators=frozenset({mo.id}))
    assert mine.authorities == ["Kent"]  # not the LAs of cases this mediator cannot see
    assert mine.rows[0].mediator == "Mo Ahmed"
    assert (await read(db)).authorities == ["Essex", "Kent"]


async def test_a_row_counts_the_replies_and_says_whom_to_chase(db: Database) -> None:
    async with db.write() as session:
        mo = Mediator(name="Mo Ahmed", email="mo@mediators.example")
        session.add(mo)
        await session.flush()
        case = add_case(session, "KIDS-POLL", date(2026, 2, 20), status=CaseStatus.negotiating)
        case.mediator_id = mo.id
        await session.flush()
        people = [
            Party(case_id=case.id, role=role, name=name, email=f"{i}@people.example")
            for i, (role, name) in enumerate(
                [
                    (PartyRole.parent, "Pat Jordan"),
                    (PartyRole.la_officer, "Lee Grant"),
                    (PartyRole.school, "Sam School"),
                    (PartyRole.sendiass, "Ash Adviser"),
                ]
            )
        ]
        session.add_all(people)
        old = Poll(case_id=case.id, duration_minutes=180, window_start=NOW, window_end=NOW)
        old.closed_at = NOW
        poll = Poll(case_id=case.id, duration_minutes=180, window_start=NOW, window_end=NOW)
        session.add_all([old, poll])
        await session.flush()
        for i, person in enumerate(people):
            answered = NOW if i < 2 else None
            session.add(PollResponse(poll_id=poll.id, party_id=person.id, answered_at=answered))
            session.add(PollResponse(poll_id=old.id, party_id=person.id, answered_at=NOW))
    row = (await read(db)).rows[0]
    assert (row.replied, row.asked) == (2, 4)
    assert row.next_action == "Chase 2 unanswered"


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    engine = db.reader_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_bigger_board_reads_no_more_than_one_page(db: Database) -> None:
    await seed_mixed_caseload(db, 30)
    with statements(db) as small:
        await read(db)
    await seed_mixed_caseload_more(db, 200)
    with statements(db) as big:
        page = await read(db)
    assert page.total == 230 and len(page.rows) == 25
    assert len(big) == len(small)


async def seed_mixed_caseload_more(db: Database, count: int) -> None:
    async with db.write() as session:
        for i in range(count):
            add_case(session, f"MORE-{i:04d}", date(2026, 1, 5) + timedelta(days=i % 50))
