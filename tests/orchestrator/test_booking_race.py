"""The race: many overlapping bookings at once, over two app instances on one database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from orchestrator.core.models import Link, LinkScope, Meeting, OutboxKind, OutboxMessage
from orchestrator.core.settings import Settings
from orchestrator.scheduling import conflicts
from orchestrator.web.app import create_app
from orchestrator.web.keys import DB
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import START, app_with, book, ready_case

RACERS = 16


async def test_overlapping_bookings_racing_on_two_replicas_end_with_one_winner(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    first, staff = await app_with(aiohttp_client, settings, clock)
    second = await aiohttp_client(create_app(settings, clock=clock, migrate_on_start=False))
    replicas = [staff, Staff(client=second, tokens=staff.tokens, user_ids=staff.user_ids)]
    ready = await ready_case(staff, max_sessions_per_day=4)

    async def attempt(n: int) -> Any:
        response = await replicas[n % 2].client.post(
            f"/api/v1/cases/{ready.case_id}/meetings",
            headers=staff.headers("scheduler"),
            json={
                "start": (START + timedelta(minutes=15 * (n % 6))).isoformat(),
                "duration_minutes": 120,
                "mode": "video",
            },
        )
        return response.status, await response.json()

    results = await asyncio.gather(*(attempt(n) for n in range(RACERS)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (RACERS - 1)
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "conflict"
            assert body["error"]["details"]["alternatives"], body
    async with first.app[DB].read() as session:
        meetings = await session.scalar(select(func.count()).select_from(Meeting))
        join_links = await session.scalar(
            select(func.count()).select_from(Link).where(col(Link.scope) == LinkScope.join_room)
        )
        room_calls = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.kind) == OutboxKind.provider_call)
        )
    assert meetings == 1
    assert join_links == 3  # two parties and the mediator: nothing from the losers
    assert room_calls == 1


@pytest.mark.postgres
async def test_the_database_itself_refuses_an_overlap_the_check_missed(
    staff: Staff, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite has no exclusion constraints; its write lock does this job")
    ready = await ready_case(staff)
    await book(staff, ready.case_id)

    async def no_check(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(conflicts, "check_free", no_check)
    refused = await book(staff, ready.case_id, start=START + timedelta(hours=1), expect=409)
    assert refused["error"]["details"]["reasons"] == ["overlap"]


async def test_different_mediators_book_the_same_time_side_by_side(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    _, staff = await app_with(aiohttp_client, settings, clock)
    cases = [
        await ready_case(
            staff,
            reference=f"KIDS-{n}",
            mediator_email=f"m{n}@staff.example",
            own_mediator=False,
        )
        for n in range(4)
    ]
    results = await asyncio.gather(*(book(staff, c.case_id, expect=None) for c in cases))
    assert all(uuid.UUID(r["id"]) for r in results)
    assert len({r["id"] for r in results}) == 4
