"""Slow guessing down with failure counts every replica shares, kept in the database.

Two shapes of budget, both rows of ``throttle_bucket``, each changed in a small write of
its own under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write
transactions already run one at a time), so concurrent attempts on any replica are
counted one by one:

- an ``Allowance`` is a token bucket (kept as its theoretical arrival time, GCRA):
  ``burst`` failures at once, then one more every ``refill_seconds``;
- a ``Backoff`` is a run of failures with growing delays: a few free tries, then each
  further try must wait twice as long as the one before, up to a ceiling. One try may
  count in several runs at once (its address's, its account's), all or none; a trusted
  credential's run (a known device) also stops trusting it after too many failures.

A bucket is named by an HMAC of its door and who is knocking (an address, an email), so
the table holds no address and no email. Times are Unix seconds from the app's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.db import Database
from orchestrator.core.models import ThrottleBucket

# A bucket untouched this long is forgotten: its failures no longer count.
FORGET_AFTER_S = 24 * 3600
# How often each replica sweeps forgotten buckets out of the table.
SWEEP_EVERY_S = 600
# Refusals remembered per replica, so a flood of failures is refused without a write each.
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class Allowance:
    """``burst`` failures at once, then one more every ``refill_seconds``."""

    burst: float
    refill_seconds: float


@dataclass(frozen=True)
class Backoff:
    """``free`` failures in a row, then waits of ``first_s``, twice that, … up to ``most_s``."""

    free: int
    first_s: float
    most_s: float

    def wait_after(self, failures: int) -> float:
        """Seconds the next try must wait after this many failures in a row."""
        if failures < self.free:
            return 0.0
        return min(self.most_s, self.first_s * 2.0 ** min(failures - self.free, 32))


# Party links (``/p``, ``/j``, ``/r``, ``/c``, ``/prepare``) and calendar feeds: unguessable
# signed tokens, so a failure is a typo or a scanner; a school or council behind one
# address shares this, and only its failures ever count.
LINK_ALLOWANCE = Allowance(burst=30, refill_seconds=6)
# Set-password links: one person at a time uses these.
SET_PASSWORD_ALLOWANCE = Allowance(burst=10, refill_seconds=30)
# Jitsi dial-in PIN look-ups: six digits are few, so once over budget a caller is refused
# valid PINs too (else a refused scan would still tell valid PINs from the rest).
MAPPER_ALLOWANCE = Allowance(burst=20, refill_seconds=10)
# A family's own referral (the public form and ``POST /api/v1/referrals``): every one counts,
# not only failures, since each is real work for a scheduler; a few at once, then one more
# every ten minutes from one address.
REFERRAL_ALLOWANCE = Allowance(burst=5, refill_seconds=600)
DOOR_ALLOWANCES = {
    "link": LINK_ALLOWANCE,
    "referral": REFERRAL_ALLOWANCE,
    "feed": LINK_ALLOWANCE,
    "set_password": SET_PASSWORD_ALLOWANCE,
    "mapper": MAPPER_ALLOWANCE,
}


def _wait(seconds: float) -> int:
    """Whole seconds to wait, never 0 for a real wait."""
    return max(1, math.ceil(seconds - 1e-9)) if seconds > 0 else 0


class Throttle:
    """The shared failure budgets of one app, over its database and clock."""

    def __init__(self, db: Database, *, secret: str, clock: Callable[[], datetime]) -> None:
        self.db = db
        self._secret = ("throttle:" + secret).encode()
        self._clock = clock
        self._refused_until: dict[str, float] = {}
        self._swept_at = 0.0

    def now(self) -> float:
        return self._clock().timestamp()

    def key(self, door: str, *parts: str) -> str:
        """The bucket's name: an HMAC, so the table never holds an address or an email."""
        message = "\x00".join((door, *parts)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ token buckets

    async def failed_at(self, door: str, client: str) -> int:
        """A link at ``door`` did not open for ``client``: seconds to wait if over budget.

        Only failures are counted and only failures are refused: a valid link opens
        whatever its address has failed before.
        """
        return await self.spend(self.key("door", door, client), DOOR_ALLOWANCES[door])

    async def waiting(self, door: str, client: str) -> int:
        """Seconds ``client`` must wait before its next failure at ``door`` is heard (0: none)."""
        key = self.key("door", door, client)
        now = self.now()
        refused_until = self._refused_until.get(key, 0.0)
        if refused_until > now:
            return _wait(refused_until - now)
        async with self.db.read() as session:
            bucket = await session.get(ThrottleBucket, key)
        if bucket is None:
            return 0
        allowance = DOOR_ALLOWANCES[door]
        excess = max(bucket.until, now) + allowance.refill_seconds - now
        return _wait(excess - allowance.burst * allowance.refill_seconds)

    async def spend(self, key: str, allowance: Allowance) -> int:
        """Count one failure against ``key``; seconds to wait if over budget (not counted).

        0 means the failure was within budget and is now counted. A refusal is
        remembered on this replica until it ends, so a flood costs no write per request.
        """
        now = self.now()
        refused_until = self._refused_until.get(key, 0.0)
        if refused_until > now:
            return _wait(refused_until - now)
        async with self.db.write() as session:
            bucket = await _locked(session, key)
            wait = _spend(bucket, allowance, now)
        if wait:
            self._remember_refusal(key, now + wait, now)
        await self._sweep(now)
        return _wait(wait)

    async def refund(self, key: str, allowance: Allowance) -> None:
        """Give back one failure counted by ``spend`` (the attempt turned out fine)."""
        async with self.db.write() as session:
            bucket = await session.get(ThrottleBucket, key, with_for_update=True)
            if bucket is not None:
                bucket.until = max(bucket.until - allowance.refill_seconds, 0.0)

    # ------------------------------------------------------------------ growing delays

    async def begin_attempt(self, *runs: tuple[str, Backoff]) -> int:
        """Count a try as failed in each run until ``succeeded``; seconds to wait instead.

        Counting before the check (rather than after) is what keeps concurrent tries
        honest: however many arrive at once, only ``backoff.free`` get through. The runs
        are locked together (in one order, so two tries cannot deadlock) and a try one run
        refuses is counted in none.
        """
        now = self.now()
        async with self.db.write() as session:
            buckets = [
                (await _locked(session, key), backoff)
                for key, backoff in sorted(runs, key=lambda run: run[0])
            ]
            for bucket, _ in buckets:
                if bucket.at < now - FORGET_AFTER_S:
                    bucket.failures = 0
            wait = max(bucket.until - now for bucket, _ in buckets)
            if wait > 0:
                return _wait(wait)
            for bucket, backoff in buckets:
                bucket.failures += 1
                bucket.at = now
                bucket.until = now + backoff.wait_after(bucket.failures)
        await self._sweep(now)
        return 0

    async def begin_trusted_attempt(
        self, key: str, backoff: Backoff, *, trusted_failures: int, kept_until: float
    ) -> int | None:
        """Like ``begin_attempt`` for a credential trusted until it fails too often in a row.

        None once ``key`` has failed ``trusted_failures`` times in a row: it is no longer
        trusted, and the try is not counted here. Such a run is never forgotten while the
        credential lives: its row keeps ``until`` = ``kept_until`` (so no sweep takes it)
        and its wait is reckoned from ``at``, the latest failure.
        """
        now = self.now()
        async with self.db.write() as session:
            bucket = await _locked(session, key)
            if bucket.failures >= trusted_failures:
                return None
            wait = bucket.at + backoff.wait_after(bucket.failures) - now
            if bucket.failures and wait > 0:
                return _wait(wait)
            bucket.failures += 1
            bucket.at = now
            bucket.until = max(bucket.until, kept_until)
        await self._sweep(now)
        return 0

    async def succeeded(self, *keys: str) -> None:
        """The try was right: its runs of failures end."""
        async with self.db.write() as session:
            await session.execute(delete(ThrottleBucket).where(col(ThrottleBucket.key).in_(keys)))

    # ------------------------------------------------------------------ housekeeping

    def _remember_refusal(self, key: str, until: float, now: float) -> None:
        if len(self._refused_until) >= MAX_REMEMBERED:
            self._refused_until = {k: t for k, t in self._refused_until.items() if t > now}
            if len(self._refused_until) >= MAX_REMEMBERED:
                self._refused_until.clear()
        self._refused_until[key] = until

    async def _sweep(self, now: float) -> None:
        if now - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = now
        async with self.db.write() as session:
            await session.execute(
                delete(ThrottleBucket).where(
                    col(ThrottleBucket.at) < now - FORGET_AFTER_S,
                    col(ThrottleBucket.until) < now,
                )
            )


def _spend(bucket: ThrottleBucket, allowance: Allowance, now: float) -> float:
    """Count a failure if the bucket has a token left; else the seconds until it has one."""
    interval = allowance.refill_seconds
    arrival = max(bucket.until, now) + interval
    excess = arrival - now - allowance.burst * interval
    if excess > 0:
        return excess
    bucket.until = arrival
    bucket.at = now
    bucket.failures += 1
    return 0.0


async def _locked(session: AsyncSession, key: str) -> ThrottleBucket:
    """The bucket named ``key``, made if new, locked until the transaction ends."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        builder(ThrottleBucket)
        .values(key=key, failures=0, until=0.0, at=0.0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    bucket = await session.scalar(
        select(ThrottleBucket)
        .where(col(ThrottleBucket.key) == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert bucket is not None
    return bucket
