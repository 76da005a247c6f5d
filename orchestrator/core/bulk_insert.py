"""Insert rows in one statement, leaving out those a unique key says exist already.

Idempotent rows (outbox messages by idempotency key, reminders by their derived id) used
to be inserted one by one, each inside a savepoint so a duplicate could be caught and
rolled back without losing the transaction: three round trips per row. ``INSERT ... ON
CONFLICT DO NOTHING`` says the same in one statement on both SQLite and PostgreSQL, and
never aborts the transaction: a row whose key a concurrent transaction committed first is
skipped (PostgreSQL waits for that transaction, exactly as the savepoint's insert did).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel


def column_values(row: SQLModel) -> dict[str, Any]:
    """The row's value for every column, as the ORM's own INSERT would write them."""
    table = type(row).__table__  # type: ignore[attr-defined]
    return {column.key: getattr(row, column.key) for column in table.columns}


async def insert_new(session: AsyncSession, rows: Sequence[SQLModel]) -> set[uuid.UUID]:
    """Insert ``rows`` (all of one model, keyed by ``id``) in one statement, skipping any
    that a unique constraint already holds; return the ids actually inserted.

    Pending ORM changes are flushed first, so rows this one refers to exist.
    """
    if not rows:
        return set()
    table = type(rows[0]).__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement with the rows as parameters, not as literal VALUES: compiled once and
    # cached (SQLAlchemy sends them as one multi-row INSERT, "insertmanyvalues"), where
    # compiling a fresh VALUES list of a few hundred rows took longer than running it.
    statement = insert(table).on_conflict_do_nothing().returning(table.c.id)
    await session.flush()
    result = await session.execute(statement, [column_values(row) for row in rows])
    return set(result.scalars().all())
