"""The service's health check as the app runs it: every replica, in the background.

``orchestrator.core.health`` looks at the database and the outbox; this module runs that look
every ``health_check_seconds`` while background jobs run, keeps the last result, publishes
it as metrics and gives staff pages the Jinja global ``service_degraded()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from prometheus_client import Gauge

from orchestrator.core import health
from orchestrator.core.models import OutboxKind
from orchestrator.web.keys import CLOCK, DB, HEALTH_WATCH, METRICS, SETTINGS

log = logging.getLogger(__name__)


@dataclass(slots=True)
class HealthWatch:
    """What this replica's check last found, and the gauge that says a banner is shown."""

    gauge: Gauge
    last: health.Health | None = None


def current(app: web.Application) -> health.Health | None:
    """The last result of this replica's check (None before the first)."""
    return app[HEALTH_WATCH].last


def install(app: web.Application) -> None:
    """Give staff pages ``service_degraded()``; ``health_watch_ctx`` runs the check."""
    env = aiohttp_jinja2.get_env(app)

    def service_degraded() -> str | None:
        return health.banner(current(app), app[SETTINGS])

    env.globals["service_degraded"] = service_degraded
    degraded = Gauge(
        "orchestrator_degraded",
        "1 when staff pages show the degraded banner",
        registry=app[METRICS].registry,
    )
    app[HEALTH_WATCH] = HealthWatch(gauge=degraded)


async def refresh(app: web.Application) -> health.Health:
    """Check now, remember the result and publish it as metrics."""
    result = await health.check(app[DB], now=app[CLOCK]())
    watch = app[HEALTH_WATCH]
    watch.last = result
    metrics = app[METRICS]
    metrics.dependency_up.labels("database").set(int(result.database_up))
    if result.database_up:
        metrics.dependency_up.labels("mail").set(int(OutboxKind.email.value not in result.failing))
        for kind in OutboxKind:
            metrics.outbox_pending.labels(kind.value).set(result.pending.get(kind.value, 0))
    watch.gauge.set(int(health.banner(result, app[SETTINGS]) is not None))
    return result


async def _watch(app: web.Application, every: Callable[[], float]) -> None:
    while True:
        try:
            await refresh(app)
        except Exception:  # the check must never stop checking
            log.exception("health check failed")
        await asyncio.sleep(every())


async def health_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the check every ``health_check_seconds`` while background jobs run."""
    # Registered after the database's context: it starts once the database is open, and
    # its task is cancelled, then awaited, before the database closes.
    settings = app[SETTINGS]
    if not settings.run_background_jobs:
        yield
        return
    task = asyncio.create_task(_watch(app, lambda: settings.health_check_seconds))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
