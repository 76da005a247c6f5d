"""A booking through the API is a bounded number of statements, however many rows it writes.

The count is of round trips to the database (savepoints included), not of time: a change
that goes back to a statement or a savepoint per reminder row or outbox message breaks it.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.web.keys import DB
from tests.conftest import Staff
from tests.orchestrator.meetings_support import book, ready_case
from tests.orchestrator.statement_count import counting

# Measured: 103 with a savepoint per reminder row and outbox message, 48 with the bulk
# inserts (one fewer on PostgreSQL, where the sign-in read shares the engine).
BOOKING_STATEMENTS = 48


async def test_a_booking_with_three_parties_stays_within_its_statement_budget(
    client: TestClient[Any, Any], staff: Staff
) -> None:
    ready = await ready_case(staff, parties=("parent", "la_officer", "school"))
    with counting(client.app[DB]) as statements:
        await book(staff, ready.case_id)
    assert statements.count <= BOOKING_STATEMENTS, "\n".join(statements.seen)
