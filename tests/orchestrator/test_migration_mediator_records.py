"""Migration 0009_mediator_records gives every mediator account its mediator record."""

from __future__ import annotations

import importlib.util
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session
from sqlmodel import col, select

from orchestrator.core.migrate import MIGRATIONS_DIR
from orchestrator.core.models import Mediator, StaffRole, StaffUser


def run_upgrade(sync_conn: Any) -> None:
    path = MIGRATIONS_DIR / "versions" / "0009_mediator_records.py"
    spec = importlib.util.spec_from_file_location("migration_0009_mediator_records", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(sync_conn)):
        module.upgrade()
    sync_conn.commit()


def store_before(sync_conn: Any) -> None:
    """What ``users add`` left: mediator accounts without records, and one record unlinked."""
    with Session(bind=sync_conn) as session:
        cli = StaffUser(email="mo@staff.example", name="Mo Ahmed", role=StaffRole.mediator)
        nameless = StaffUser(email="nn@staff.example", role=StaffRole.mediator, active=False)
        early = StaffUser(email="kim@staff.example", name="Kim", role=StaffRole.mediator)
        invited = StaffUser(email="ivy@staff.example", name="Ivy", role=StaffRole.mediator)
        sam = StaffUser(email="sam@staff.example", name="Sam", role=StaffRole.scheduler)
        session.add_all([cli, nameless, early, invited, sam])
        session.flush()
        session.add(Mediator(name="Ivy Page", email="ivy@staff.example", user_id=invited.id))
        session.add(Mediator(name="Kim Lowe", email="Kim@Staff.example", buffer_minutes=45))
        session.commit()


def records(sync_conn: Any) -> dict[str, tuple[str, str, bool, int]]:
    with Session(bind=sync_conn) as session:
        rows = session.execute(
            select(StaffUser.email, Mediator.name, Mediator.active, Mediator.buffer_minutes)
            .select_from(Mediator)
            .join(StaffUser, col(StaffUser.id) == col(Mediator.user_id), isouter=True)
        ).all()
        count = len(session.scalars(select(Mediator)).all())
    assert count == len(rows)
    return {
        email or "(none)": (email, name, active, buffer) for email, name, active, buffer in rows
    }


async def test_mediator_accounts_get_their_records_once(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(store_before)
            await conn.run_sync(run_upgrade)
            first = await conn.run_sync(records)
            await conn.run_sync(run_upgrade)  # running again changes nothing
            again = await conn.run_sync(records)
    finally:
        await engine.dispose()
    assert first == again
    assert first == {
        "mo@staff.example": ("mo@staff.example", "Mo Ahmed", True, 30),
        "nn@staff.example": ("nn@staff.example", "nn@staff.example", False, 30),
        "kim@staff.example": ("kim@staff.example", "Kim Lowe", True, 45),  # linked, as it was
        "ivy@staff.example": ("ivy@staff.example", "Ivy Page", True, 30),  # had one already
    }
