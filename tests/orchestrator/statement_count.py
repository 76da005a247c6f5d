"""Count the SQL statements an app sends to its database while a block runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from orchestrator.core.db import Database


@dataclass
class Statements:
    """The statements seen, in order (savepoints included: each is a round trip)."""

    seen: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.seen)


@contextlib.contextmanager
def counting(db: Database) -> Iterator[Statements]:
    """Every statement either engine of ``db`` runs inside the block."""
    statements = Statements()

    def before(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.seen.append(sql)

    engines = {id(e.sync_engine): e.sync_engine for e in (db.writer_engine, db.reader_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", before)
