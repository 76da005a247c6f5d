"""The migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import orchestrator.models  # noqa: F401 - registers the tables
from orchestrator.migrate import head_revisions


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(context, SQLModel.metadata)

            differences = await conn.run_sync(diff)
            heads = await conn.run_sync(
                lambda c: set(MigrationContext.configure(c).get_current_heads())
            )
    finally:
        await engine.dispose()
    assert differences == [], "models.py changed without a migration"
    assert heads == head_revisions()
