"""Argon2 runs in a worker thread, one check at a time: a burst of sign-ins leaves the loop free.

Every argon2 check of the burst is held in its thread until the test lets it go; /healthz
must answer while they are all still held. Were a check on the event loop, it would hold
the loop itself and /healthz could only answer after the release (a safety valve, so a
regression fails rather than hangs).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from orchestrator.core.models import StaffRole
from orchestrator.core.settings import Settings
from orchestrator.staff import accounts as staff_module
from orchestrator.staff.accounts import ARGON2_AT_ONCE
from tests.orchestrator.web_support import make_user

BURST = 40
VALVE_S = 15.0  # a regression fails after this, instead of hanging the run


class HeldHasher:
    """An argon2 hasher whose checks wait in their thread until released; counts them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.real = PasswordHasher()
        self.loop = loop
        self.started = asyncio.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.calls = 0
        self.running = 0
        self.most_at_once = 0

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            if self.calls == 1:
                self.loop.call_soon_threadsafe(self.started.set)
        try:
            self.release.wait(VALVE_S)
            raise VerifyMismatchError("held, then wrong")
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Behind our own proxy, so the burst comes from forty different addresses."""
    return settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8", "::1/128"]})


async def test_healthz_answers_while_forty_sign_ins_are_being_checked(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(client, "sam@staff.example", StaffRole.scheduler)
    staff_module.verify_password(staff_module.hash_password("warm"), "warm")  # imports done
    held = HeldHasher(asyncio.get_running_loop())
    monkeypatch.setattr(staff_module, "_hasher", held)
    valve = threading.Timer(VALVE_S, held.release.set)
    valve.start()
    try:
        burst = [
            asyncio.ensure_future(
                client.post(
                    "/sign-in",
                    # Half known with a wrong password, half unknown: the same work for each.
                    data={
                        "email": f"{'sam' if n % 2 else f'nobody{n}'}@staff.example",
                        "password": f"guess-{n}",
                    },
                    headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
                    allow_redirects=False,
                )
            )
            for n in range(BURST)
        ]
        await held.started.wait()  # the valve lets them go in the end, whatever happens
        health = await client.get("/healthz")
        answered_while_held = not held.release.is_set()
        assert health.status == 200
        assert answered_while_held, "/healthz waited for the password checks"
        held.release.set()
        statuses = [response.status for response in await asyncio.gather(*burst)]
    finally:
        held.release.set()
        valve.cancel()
    assert statuses == [400] * BURST
    # Every sign-in cost one argon2 check, unknown emails included, one at a time.
    assert held.calls == BURST
    assert held.most_at_once == ARGON2_AT_ONCE


T = TypeVar("T")


async def in_a_password_worker(look: Callable[[], T]) -> list[T]:
    """What ``look`` sees from inside the thread that checks a password."""
    seen: list[T] = []

    def verify(password_hash: str | None, password: str) -> bool:
        seen.append(look())
        return False

    workers = staff_module.PasswordWorkers(verify=verify)
    try:
        await workers.verify("$argon2id$stored", "guess")
    finally:
        workers.close()
    return seen


@pytest.mark.skipif(sys.platform != "linux", reason="the nice value is per thread on Linux only")
async def test_argon2_threads_run_at_a_lower_priority_than_the_loop() -> None:
    seen = await in_a_password_worker(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    )
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(loop_priority + staff_module.ARGON2_NICENESS, 19)]


@pytest.mark.skipif(
    sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2,
    reason="thread affinity is per thread on Linux only, and needs two cores to leave one",
)
async def test_argon2_threads_leave_the_loop_a_core_of_its_own() -> None:
    seen = await in_a_password_worker(lambda: os.sched_getaffinity(threading.get_native_id()))
    loop_cores = os.sched_getaffinity(threading.get_native_id())
    assert len(seen) == 1
    assert seen[0] < loop_cores  # a strict subset: at least one core is never argon2's
    assert len(seen[0]) == len(loop_cores) - 1
