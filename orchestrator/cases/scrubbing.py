"""Finding the strings that identify a case's people, and replacing them where copied.

Names, addresses and numbers travel: into timeline summaries, audit and outbox details,
and tables other capabilities add. Retention replaces each such string with
``[removed]`` in every text column of every row linked to the case, its parties or its
meetings.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from orchestrator.core.models import Party

REMOVED = "[removed]"
# Shorter strings are too likely to match ordinary words to be scrubbed everywhere.
MIN_LENGTH = 4


def personal_strings(parties: Iterable[Party]) -> list[str]:
    """The strings that identify the case's people, longest first."""
    found: set[str] = set()
    for party in parties:
        for value in (
            party.name,
            party.email,
            party.phone,
            party.organisation,
            party.town,
            party.postcode,
        ):
            if value and len(value.strip()) >= MIN_LENGTH:
                found.add(value.strip())
        if party.phone:
            digits = re.sub(r"[^0-9+]", "", party.phone)
            if len(digits) >= MIN_LENGTH:
                found.add(digits)
        if party.name:
            found.update(p for p in party.name.split() if len(p) >= MIN_LENGTH)
    return sorted(found, key=len, reverse=True)


def scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """Replace every personal string inside ``value`` (text, or JSON of lists and dicts)."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(REMOVED, value)
    if isinstance(value, list):
        return [scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: scrub(item, pattern) for key, item in value.items()}
    return value


def pattern_for(strings: list[str]) -> re.Pattern[str] | None:
    """One case-blind expression matching any of ``strings`` (None: nothing to look for)."""
    if not strings:
        return None
    return re.compile("|".join(re.escape(s) for s in strings), re.IGNORECASE)


def mentions(value: Any, pattern: re.Pattern[str] | None) -> bool:
    """Whether ``value`` (text, or JSON) holds any of the personal strings."""
    if pattern is None or value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return pattern.search(text) is not None


async def scrub_linked_rows(
    session: AsyncSession,
    pattern: re.Pattern[str] | None,
    *,
    case_id: uuid.UUID,
    party_ids: list[uuid.UUID],
    meeting_ids: list[uuid.UUID],
) -> int:
    """Replace the case's personal strings in every text column of every linked table.

    This reaches the timeline, the audit trail and tables other capabilities add, as long
    as their rows carry a ``case_id``, ``party_id`` or ``meeting_id``.
    """
    if pattern is None:
        return 0
    keys: dict[str, list[uuid.UUID]] = {
        "case_id": [case_id],
        "party_id": party_ids,
        "meeting_id": meeting_ids,
    }
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        links = [table.c[name].in_(ids) for name, ids in keys.items() if name in table.c and ids]
        if not links or "id" not in table.c:
            continue
        texts = [
            column
            for column in table.columns
            if isinstance(column.type, sa.String | sa.JSON)
            and not isinstance(column.type, sa.Enum)
            and not column.primary_key
            and not column.foreign_keys
        ]
        if not texts:
            continue
        rows = (await session.execute(sa.select(table.c.id, *texts).where(sa.or_(*links)))).all()
        for row in rows:
            values = {}
            for column in texts:
                original = row._mapping[column.name]
                cleaned = scrub(original, pattern)
                if cleaned != original:
                    values[column.name] = cleaned
            if values:
                await session.execute(
                    sa.update(table).where(table.c.id == row._mapping["id"]).values(**values)
                )
                changed += 1
    return changed
