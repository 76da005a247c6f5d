"""Is the service degraded? A periodic look at the database and the outbox, for staff.

Every ``health_check_seconds`` each replica checks that the database answers and how long
the oldest due outbox message has waited, per kind. The result feeds ``/metrics``
(``orchestrator_outbox_pending``, ``orchestrator_dependency_up{dependency="database"|"mail"}``,
``orchestrator_degraded``) and the banner on staff pages (``banner``), which the staff
layout reads through the Jinja global ``service_degraded()``. Nothing here blocks a
request: pages read the last result, which ``orchestrator.web.health_watch`` keeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select

from orchestrator.core.db import Database
from orchestrator.core.models import OutboxKind, OutboxMessage, OutboxStatus
from orchestrator.core.settings import Settings

log = logging.getLogger(__name__)

WHAT = {
    OutboxKind.email.value: "emails are waiting to be sent",
    OutboxKind.webhook.value: "updates to the case management system are waiting",
    OutboxKind.provider_call.value: "video rooms are waiting to be set up",
}


@dataclass(frozen=True)
class Health:
    """One look at the service's dependencies."""

    database_up: bool = True
    pending: dict[str, int] = field(default_factory=dict)
    # Seconds the oldest due (or retried) pending message of each kind has waited.
    oldest_wait_s: dict[str, float] = field(default_factory=dict)
    # Kinds whose last attempt failed and is still pending (the dependency looks down).
    failing: frozenset[str] = frozenset()


async def check(db: Database, *, now: datetime) -> Health:
    """Ask the database how the outbox stands; a database that does not answer is down."""
    try:
        async with db.read() as session:
            pending = col(OutboxMessage.status) == OutboxStatus.pending
            waiting = and_(
                pending,
                or_(
                    col(OutboxMessage.attempts) > 0,
                    col(OutboxMessage.next_attempt_at) <= now,
                ),
            )
            counts = (
                await session.execute(
                    select(OutboxMessage.kind, func.count()).where(pending).group_by("kind")
                )
            ).all()
            # A row queued to go later (``not_before``) has waited only since it fell due.
            since = case(
                (col(OutboxMessage.attempts) == 0, col(OutboxMessage.next_attempt_at)),
                else_=col(OutboxMessage.created_at),
            )
            oldest = (
                await session.execute(
                    select(OutboxMessage.kind, func.min(since)).where(waiting).group_by("kind")
                )
            ).all()
            failing = (
                await session.scalars(
                    select(OutboxMessage.kind)
                    .where(pending, col(OutboxMessage.last_error).is_not(None))
                    .distinct()
                )
            ).all()
    except Exception as exc:  # unreachable, restarting, out of connections: all "down"
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return Health(database_up=False)
    return Health(
        pending={_name(kind): n for kind, n in counts},
        oldest_wait_s={
            _name(kind): max(0.0, (now - since).total_seconds())
            for kind, since in oldest
            if since is not None
        },
        failing=frozenset(_name(kind) for kind in failing),
    )


def reasons(health: Health, *, stale_after: timedelta) -> list[str]:
    """What is wrong, in words for staff; empty when all is well."""
    found: list[str] = []
    if not health.database_up:
        found.append("the database cannot be reached, so changes cannot be saved")
    for kind, waited in sorted(health.oldest_wait_s.items()):
        if waited >= stale_after.total_seconds():
            minutes = int(waited // 60)
            found.append(f"{WHAT.get(kind, kind)} (the oldest for {minutes} minutes)")
    return found


def banner(health: Health | None, settings: Settings) -> str | None:
    """The banner text for staff pages, or None."""
    if health is None:
        return None
    found = reasons(health, stale_after=timedelta(minutes=settings.degraded_outbox_age_minutes))
    if not found:
        return None
    return "The service is degraded: " + "; ".join(found) + ". Nothing is lost; it will catch up."


def _name(kind: object) -> str:
    value = getattr(kind, "value", kind)
    return str(value)
