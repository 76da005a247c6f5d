"""The service runs on uvloop by default, and on asyncio's own loop when told to."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.core.loop import new_event_loop
from orchestrator.core.settings import Settings


def test_the_default_loop_is_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    loop = new_event_loop(Settings().event_loop)
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_EVENT_LOOP", "asyncio")
    loop = new_event_loop(Settings().event_loop)
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_an_unknown_loop_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="event_loop"):
        Settings()


async def test_the_suite_runs_on_the_service_loop() -> None:
    """The tests exercise the loop production uses, not only the standard one."""
    kind = Settings().event_loop
    running = type(asyncio.get_running_loop()).__module__
    assert running.startswith("uvloop" if kind == "uvloop" else "asyncio")
