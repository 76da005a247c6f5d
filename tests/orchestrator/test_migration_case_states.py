"""Migration 0008_case_states moves what was stored twice to its one place, and back."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from calendars.workdays import WorkingDays
from orchestrator.cases import deadlines
from orchestrator.core.migrate import MIGRATIONS_DIR
from orchestrator.core.models import (
    Case,
    CaseKind,
    CaseStatus,
    Certificate,
    CertificateKind,
    Meeting,
    MeetingMode,
    Room,
)
from orchestrator.meeting import rooms

# 23:30 UTC on the 4th is the 5th in Tokyo: the case's own day, as it was stored.
ISSUED_AT = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
LAST_CHANGE = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
JOINT = {"provider": "jitsi", "room_id": "joint-0123456789", "url": "https://meet.example/j"}
OLD = {"provider": "jitsi", "room_id": "old-9876543210", "url": "https://meet.example/o"}

legacy_case = sa.table(
    "case",
    sa.column("id", sa.Uuid()),
    sa.column("reference", sa.String()),
    sa.column("certificate_issued_on", sa.Date()),
)
room_table = sa.table("room", sa.column("kind", sa.String()), sa.column("provider_room", sa.JSON()))


def run_step(sync_conn: Any, step: str) -> None:
    """Run this migration's upgrade or downgrade alone (the other branches stay put)."""
    path = MIGRATIONS_DIR / "versions" / "0008_case_states.py"
    spec = importlib.util.spec_from_file_location("migration_0008_case_states", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(sync_conn)):
        getattr(module, step)()


def case(reference: str, status: CaseStatus, **fields: Any) -> Case:
    return Case(
        reference=reference,
        kind=CaseKind.mediation,
        local_authority="Kent",
        referral_date=date(2026, 2, 2),
        status=status,
        **fields,
    )


def store_legacy(sync_conn: Any) -> dict[str, uuid.UUID]:
    """Step back, then store what the old schema held (some of it twice)."""
    run_step(sync_conn, "downgrade")
    ids: dict[str, uuid.UUID] = {}
    with Session(bind=sync_conn) as session:
        done = case(
            "OLD-1",
            CaseStatus.certificate_issued,
            decision_date=date(2026, 1, 20),
            timezone="Asia/Tokyo",
        )
        gone = case("OLD-2", CaseStatus.closed, updated_at=LAST_CHANGE)
        session.add_all([done, gone])
        session.flush()
        session.add(
            Certificate(
                case_id=done.id,
                kind=CertificateKind.mediation,
                number="CERT-2026-00001",
                event_date=date(2026, 3, 2),
                due_date=date(2026, 3, 5),
                issued_at=ISSUED_AT,
            )
        )
        for name, kept, copy, same_key in (
            ("both", JOINT, JOINT, True),  # the usual: the same room on both rows
            ("room_only", None, JOINT, True),  # only the room row held it
            ("moved", None, OLD, False),  # being moved: the room row held the old room
        ):
            meeting = Meeting(
                case_id=done.id,
                start_at=ISSUED_AT,
                end_at=ISSUED_AT,
                mode=MeetingMode.video,
                ical_uid=f"{name}@test",
                provider_room=kept,
            )
            session.add(meeting)
            session.flush()
            key = meeting.room_key if same_key else uuid.uuid4().hex
            session.add(
                Room(
                    meeting_id=meeting.id,
                    kind="main",
                    label="Joint room",
                    room_key=key,
                    provider_room=copy,
                )
            )
            ids[name] = meeting.id
        session.commit()
        ids.update(done=done.id, gone=gone.id)
    sync_conn.execute(
        legacy_case.update()
        .where(legacy_case.c.id == ids["done"])
        .values(certificate_issued_on=date(2026, 3, 5))
    )
    sync_conn.commit()
    run_step(sync_conn, "upgrade")
    sync_conn.commit()
    return ids


def step_back_and_forth(sync_conn: Any) -> tuple[Any, list[Any]]:
    run_step(sync_conn, "downgrade")
    day = sync_conn.scalar(
        sa.select(legacy_case.c.certificate_issued_on).where(legacy_case.c.reference == "OLD-1")
    )
    copies = sync_conn.scalars(
        sa.select(room_table.c.provider_room).where(room_table.c.kind == "main")
    ).all()
    run_step(sync_conn, "upgrade")
    sync_conn.commit()
    return day, list(copies)


async def test_the_data_stored_twice_survives_in_its_one_place(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            ids = await conn.run_sync(store_legacy)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            done = await session.get(Case, ids["done"])
            gone = await session.get(Case, ids["gone"])
            assert done is not None and gone is not None
            issued_on = await deadlines.certificate_issued_on(session, done)
            assert issued_on == date(2026, 3, 5)
            public = deadlines.case_public(
                done,
                target_days=33,
                calendar=WorkingDays("ENG"),
                now=LAST_CHANGE,
                certificate_issued_on=issued_on,
            )
            assert public.deadlines.certificate_due is None  # issued: the clock stopped
            assert public.deadlines.appeal is not None
            assert gone.closed_at == LAST_CHANGE  # the retention clock keeps its start
            found = {}
            for name in ("both", "room_only", "moved"):
                meeting = await session.get(Meeting, ids[name])
                main = await rooms.main_room(session, ids[name])
                assert meeting is not None
                found[name] = (meeting.provider_room, main.provider_room)
        assert found == {
            "both": (JOINT, None),
            "room_only": (JOINT, None),
            "moved": (None, None),
        }
        async with engine.connect() as conn:
            day, copies = await conn.run_sync(step_back_and_forth)
        assert day == date(2026, 3, 5)
        assert sorted(str(c) for c in copies if c) == [str(JOINT), str(JOINT)]
    finally:
        await engine.dispose()
