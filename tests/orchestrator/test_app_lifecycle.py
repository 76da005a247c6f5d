"""The app's state and its lifecycle: typed keys only, and nothing left running after it stops.

Here the background jobs run (reminder scheduler, health watch, outbox dispatcher), as in
production. Every long-lived piece is a cleanup context registered after the database's,
so it starts once the database is open and stops before it closes.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from orchestrator.core.db import Database
from orchestrator.core.models import ParticipantEvent
from orchestrator.core.settings import Settings
from orchestrator.meeting import join_facts
from orchestrator.web import keys
from orchestrator.web.app import create_app
from orchestrator.web.keys import CONSOLE_STOPPING, JOIN_CLICKS, OPENAPI, REMINDER_SCHEDULER
from tests.conftest import MutableClock, Staff
from tests.orchestrator.meetings_support import START, get
from tests.orchestrator.test_join_click_path import booked, click
from tests.orchestrator.test_staff_pages_console import booked_meeting
from tests.orchestrator.web_support import Browser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_background_jobs": True, "health_check_seconds": 0.1})


def other_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_app_state_is_typed_keys_declared_once(client: TestClient[Any, Any]) -> None:
    app = client.app
    assert all(isinstance(key, web.AppKey) for key in app), "aiohttp warns on str keys"
    declared = {id(value) for value in vars(keys).values() if isinstance(value, web.AppKey)}
    ours = [key for key in app if repr(key).startswith("<AppKey(orchestrator.")]
    assert ours and all(id(key) in declared for key in ours), "declared in web/keys.py"
    assert app[REMINDER_SCHEDULER].running  # made by its cleanup context, as the app started
    # No key holds a string-keyed bag of shared objects; the one dict is the OpenAPI document.
    bags = [key for key in app if isinstance(app[key], dict) and key is not OPENAPI]
    assert bags == []


async def test_stopping_the_app_stops_its_background_work_and_leaves_no_task(
    aiohttp_client: Any, settings: Settings, clock: MutableClock
) -> None:
    before = other_tasks()
    client = await aiohttp_client(create_app(settings, clock=clock, migrate_on_start=False))
    app = client.app
    scheduler = app[REMINDER_SCHEDULER]
    assert scheduler.running
    status, _, _ = await get(client, "/healthz")
    assert status == 200
    assert other_tasks() - before, "the background jobs run while the app does"

    await client.close()

    assert not scheduler.running
    left = {task for task in other_tasks() - before if not task.done()}
    assert left == set(), left


async def test_a_click_being_answered_as_the_service_stops_is_recorded(
    client: TestClient[Any, Any],
    staff: Staff,
    clock: MutableClock,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready, meeting, found = await booked(client, staff)
    clock.set(START - timedelta(minutes=5))
    reading, go_on = asyncio.Event(), asyncio.Event()
    read_facts = join_facts.load_join_facts

    async def slow_read(*args: Any, **kwargs: Any) -> Any:
        reading.set()
        await go_on.wait()
        return await read_facts(*args, **kwargs)

    monkeypatch.setattr(join_facts, "load_join_facts", slow_read)
    answer = asyncio.create_task(click(client, found[ready.parties["parent"]]))
    await reading.wait()  # the click is being answered: its link is being read
    stopping = asyncio.create_task(client.server.close())
    await client.app[CONSOLE_STOPPING].wait()  # the service is stopping (on_shutdown ran)
    await asyncio.sleep(0.1)
    assert not stopping.done(), "it waits for the click being answered"
    go_on.set()
    status, location = await asyncio.wait_for(answer, timeout=10)
    await asyncio.wait_for(stopping, timeout=10)
    assert status == 303 and location
    recorder = client.app[JOIN_CLICKS]
    assert not recorder._tasks and not recorder._pending, "nothing left queued"
    async with db.read() as session:  # read afresh: the app closed its own database
        rows = await session.scalars(
            select(ParticipantEvent).where(
                col(ParticipantEvent.meeting_id) == uuid.UUID(meeting["id"])
            )
        )
        assert len(rows.all()) == 1


async def test_an_open_console_stream_ends_as_the_service_stops(
    client: TestClient[Any, Any], clock: MutableClock
) -> None:
    _, meeting = await booked_meeting(client)
    client.session.cookie_jar.clear()
    clock.set(meeting.start_at)
    mo = Browser(client)
    await mo.sign_in("mo@staff.example")
    stream = await client.get(f"/staff/meetings/{meeting.id}/console/events")
    assert stream.status == 200
    assert await stream.content.readline() == b"retry: 2000\n"
    # Not aiohttp's 60 s wait for running handlers: the stream hears "stop" before it.
    await asyncio.wait_for(client.server.close(), timeout=10)
    assert b"event: change" in await stream.content.read()  # it ended, nothing cut short
