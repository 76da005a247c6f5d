"""The migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import orchestrator.core.models  # noqa: F401 - registers the tables
from orchestrator.core.migrate import alembic_config, head_revisions, schema_state, upgrade


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                found: list[Any] = compare_metadata(context, SQLModel.metadata)
                return found

            differences = await conn.run_sync(diff)
            heads = await conn.run_sync(
                lambda c: set(MigrationContext.configure(c).get_current_heads())
            )
        state = await schema_state(engine)
    finally:
        await engine.dispose()
    assert differences == [], "models.py changed without a migration"
    assert heads == head_revisions()
    assert state == "current"


async def test_schema_state_tells_a_first_run_from_a_database_left_behind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orchestrator.db'}"
    engine = create_async_engine(url)
    try:
        assert await schema_state(engine) == "empty"
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
        assert await schema_state(engine) == "not_current"
        await upgrade(url)
        assert await schema_state(engine) == "current"
    finally:
        await engine.dispose()
