"""The service's health check as the app runs it: every replica, in the background.

``orchestrator.health`` looks at the database and the outbox; this module runs that look
every ``health_check_seconds`` while background jobs run, keeps the last result, publishes
it as metrics and gives staff pages the Jinja global ``service_degraded()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp_jinja2
from aiohttp import web
from prometheus_client import Gauge

from orchestrator import health
from orchestrator.models import OutboxKind
from orchestrator.web.keys import CLOCK, DB, METRICS, SETTINGS, STATE

log = logging.getLogger(__name__)

_KEY = "health"


def current(app: web.Application) -> health.Health | None:
    """The last result of this replica's check (None before the first)."""
    value = app[STATE].get(_KEY)
    return value if isinstance(value, health.Health) else None


def install(app: web.Application) -> None:
    """Give staff pages ``service_degraded()`` and run the check while background jobs run."""
    env = aiohttp_jinja2.get_env(app)

    def service_degraded() -> str | None:
        return health.banner(current(app), app[SETTINGS])

    env.globals["service_degraded"] = service_degraded
    degraded = Gauge(
        "orchestrator_degraded",
        "1 when staff pages show the degraded banner",
        registry=app[METRICS].registry,
    )
    app[STATE]["health_gauge"] = degraded
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)


async def refresh(app: web.Application) -> health.Health:
    """Check now, remember the result and publish it as metrics."""
    result = await health.check(app[DB], now=app[CLOCK]())
    app[STATE][_KEY] = result
    metrics = app[METRICS]
    metrics.dependency_up.labels("database").set(int(result.database_up))
    if result.database_up:
        metrics.dependency_up.labels("mail").set(int(OutboxKind.email.value not in result.failing))
        for kind in OutboxKind:
            metrics.outbox_pending.labels(kind.value).set(result.pending.get(kind.value, 0))
    gauge: Gauge = app[STATE]["health_gauge"]
    gauge.set(int(health.banner(result, app[SETTINGS]) is not None))
    return result


async def _watch(app: web.Application, every: Callable[[], float]) -> None:
    while True:
        try:
            await refresh(app)
        except Exception:  # the check must never stop checking
            log.exception("health check failed")
        await asyncio.sleep(every())


async def _start(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.run_background_jobs:
        return
    app[STATE]["health_task"] = asyncio.create_task(
        _watch(app, lambda: settings.health_check_seconds)
    )


async def _stop(app: web.Application) -> None:
    task = app[STATE].pop("health_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
