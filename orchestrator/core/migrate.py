"""Schema migrations with Alembic, run by ``orchestrator migrate`` and ``orchestrator serve``.

Other commands only look: ``schema_state`` says whether the database is empty (a first
run, which may create it), current, or not current (refused until someone migrates).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from orchestrator.core.db import prepare_sqlite_folder

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and ``database_url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_sync(database_url: str) -> None:
    """Bring the schema to the newest revision (blocking; runs its own event loop).

    Alembic's environment runs the async engine with ``asyncio.run``; when a loop is already
    running in this thread, the work moves to a short-lived thread of its own.
    """
    prepare_sqlite_folder(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(database_url), "heads")
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, alembic_config(database_url), "heads").result()


async def upgrade(database_url: str) -> None:
    """Bring the schema to the newest revision from inside a running loop."""
    await asyncio.to_thread(upgrade_sync, database_url)


def head_revisions() -> set[str]:
    """Every head of the migration graph (capabilities may branch from the same parent)."""
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(heads)


async def is_current(engine: AsyncEngine) -> bool:
    """True when the database is at the newest revision of every branch."""
    return await current_revisions(engine) == head_revisions()


SchemaState = Literal["empty", "current", "not_current"]


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """``empty`` when the database has no tables at all, else whether it is at every head."""
    async with engine.connect() as conn:
        revisions, has_tables = await conn.run_sync(
            lambda c: (
                set(MigrationContext.configure(c).get_current_heads()),
                bool(inspect(c).get_table_names()),
            )
        )
    if not revisions and not has_tables:
        return "empty"
    return "current" if revisions == head_revisions() else "not_current"
