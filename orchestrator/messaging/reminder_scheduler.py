"""Wake each replica when a reminder falls due: APScheduler 3.x over rows in the database.

The process holds exactly two jobs, whatever the number of pending reminders: a one-off
*wake* at the earliest ``due_at`` (moved earlier when a change commits a sooner one) and a
periodic *sweep* that derives poll chasers and catches up after downtime. Both call
``reminder_sending.send_due``, whose atomic claim decides which replica sends; the scheduler only
decides when to look. A restart loses nothing: the first sweep runs at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.db import Database, log_failure
from orchestrator.core.settings import Settings
from orchestrator.messaging import reminder_sending, reminders

log = logging.getLogger(__name__)

WAKE_JOB = "reminders-wake"
SWEEP_JOB = "reminders-sweep"
RETRY_PAUSE = timedelta(milliseconds=200)
STOP_GRACE_S = 30.0


class ReminderScheduler:
    """One replica's reminder clock: a wake-up at the next due time and a periodic sweep."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.worker_id = worker_id or uuid.uuid4().hex
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock = asyncio.Lock()
        self._wake_due: datetime | None = None
        self._active = 0
        self._idle = asyncio.Event()
        self._stopping = False
        self.sent = 0

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    async def start(self) -> None:
        """Start the two jobs; the first sweep runs now to catch up after downtime."""
        self._scheduler.start()
        self._scheduler.add_job(
            self.sweep,
            IntervalTrigger(seconds=self.settings.reminder_sweep_seconds, timezone=UTC),
            id=SWEEP_JOB,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    async def stop(self) -> None:
        """Stop waking; let a pass in progress finish its transaction (never cut one short)."""
        if not self._scheduler.running:
            return
        self._stopping = True  # a run that starts from now on does nothing
        self._scheduler.pause()
        async with asyncio.timeout(STOP_GRACE_S):
            while self._active:
                self._idle.clear()
                await self._idle.wait()
        # Only now: APScheduler's shutdown cancels the jobs it still thinks are running.
        self._scheduler.shutdown(wait=False)

    def wake_at(self, due: datetime) -> None:
        """Make sure the process wakes by ``due`` (app time); a later wake is brought forward."""
        if not self._scheduler.running or self._stopping:
            return
        if self._wake_due is not None and self._wake_due <= due:
            return
        self._wake_due = due
        delay = max((due - self.clock()).total_seconds(), 0.0)
        self._scheduler.add_job(
            self._wake,
            DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=delay), timezone=UTC),
            id=WAKE_JOB,
            replace_existing=True,
            coalesce=True,
            # Planned from inside the running wake: the next one must not be skipped.
            max_instances=4,
            misfire_grace_time=None,
        )

    def wake_after_commit(self, session: AsyncSession, due: datetime) -> None:
        """Wake by ``due`` once the changing transaction commits (never for a rolled-back one)."""
        event.listen(session.sync_session, "after_commit", lambda _s: self.wake_at(due), once=True)

    async def run_once(self) -> int:
        """Send what is due now; one pass at a time in this process."""
        async with self._lock:
            sent = await reminder_sending.send_due(
                self.db,
                settings=self.settings,
                now=self.clock(),
                worker_id=self.worker_id,
            )
        self.sent += sent
        return sent

    async def plan(self) -> datetime | None:
        """Point the wake-up at the earliest pending reminder."""
        now = self.clock()
        async with self.db.read() as session:
            due = await reminder_sending.next_due(session, now)
        self._wake_due = None
        if due is not None:
            # Something due but not sendable yet (another replica's open transaction holds
            # it): look again shortly rather than spinning.
            self.wake_at(max(due, now + RETRY_PAUSE))
        return due

    async def sweep(self) -> None:
        """Derive poll chasers, send what is due, and re-plan the wake-up."""
        if self._stopping:
            return
        self._active += 1
        try:
            async with self.db.write() as session:
                await reminders.derive_poll_chasers(
                    session, settings=self.settings, now=self.clock()
                )
            await self.run_once()
            await self.plan()
        except Exception as exc:  # the database restarting, say: the next sweep tries again
            log_failure(log, exc, "reminder sweep failed")
        finally:
            self._done()

    async def _wake(self) -> None:
        if self._stopping:
            return
        self._active += 1
        self._wake_due = None
        try:
            await self.run_once()
            await self.plan()
        except Exception as exc:  # the next sweep catches up
            log_failure(log, exc, "reminder wake-up failed")
        finally:
            self._done()

    def _done(self) -> None:
        self._active -= 1
        if not self._active:
            self._idle.set()
