"""How a command runs: settings from the environment, and one unit of work with the database.

Only ``orchestrator migrate`` and ``orchestrator serve`` change the schema. Every other
command looks first: a database with no tables at all is a first run, created here (so
``users add`` works on a fresh folder, as the README says); a database that is behind, or
ahead, is refused with one line saying what to do.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError

from orchestrator.core.db import Database, connect, prepare_sqlite_folder
from orchestrator.core.migrate import schema_state, upgrade
from orchestrator.core.settings import Settings

T = TypeVar("T")

NOT_CURRENT = "the database schema is not current: run `orchestrator migrate`"


class SchemaNotCurrent(Exception):
    """The database has a schema, but not this version's."""


def load_settings() -> Settings:
    """The settings from ORCH_* variables and the config file; exit with the reason if invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"configuration error:\n{exc}")


def run_with_database(work: Callable[[Database], Awaitable[T]], *, settings: Settings) -> T:
    """Run ``work`` with the database; exit with one line if its schema is not current."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prepare_sqlite_folder(settings.database_url)

    async def main() -> T:
        db = connect(settings.database_url)
        try:
            await ready_schema(db, settings.database_url)
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except SchemaNotCurrent:
        sys.exit(NOT_CURRENT)


async def ready_schema(db: Database, database_url: str) -> None:
    """Create the schema of an empty database; refuse one that is behind or ahead."""
    state = await schema_state(db.writer_engine)
    if state == "empty":
        await upgrade(database_url)
    elif state == "not_current":
        raise SchemaNotCurrent
