"""Staff users, their API tokens (stored hashed) and their passwords (argon2)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import secrets
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import Conflict, NotFound, ValidationFailed
from orchestrator.core.models import ApiToken, StaffRole, StaffUser, check_person_name
from orchestrator.core.records import add_audit

TOKEN_PREFIX = "mo_"
_hasher = PasswordHasher()
# Argon2 checks run one at a time: each already spreads over ``_hasher.parallelism`` lanes
# (threads), so a second at once would only take CPU from the event loop.
ARGON2_AT_ONCE = 1
# How much lower than the event loop's the argon2 threads' scheduling priority is (nice).
ARGON2_NICENESS = 10


def hash_token(token: str) -> str:
    """API tokens are 256-bit random, so a plain SHA-256 is the right, fast hash for them."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when there is no user, so a miss costs what a hit costs.

    Made on first use, not at import: hashing takes a fifth of a second by design.
    """
    return hash_password(secrets.token_urlsafe(16))


class PasswordWorkers:
    """Argon2 in a worker thread, so the event loop keeps serving.

    argon2 takes a fifth of a second of CPU by design and releases the GIL while it works;
    on the loop, forty sign-ins would stall every other request for seconds. Here at most
    ``workers`` hashes run at once and the rest queue, costing the loop nothing.
    """

    def __init__(
        self,
        *,
        workers: int = ARGON2_AT_ONCE,
        verify: Callable[[str | None, str], bool] = verify_password,
    ) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=_yield_to_the_loop
        )
        self._verify = verify

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash, spend the same time and say no."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._check, password_hash, password)

    def _check(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            self._verify(_dummy_hash(), password)
            return False
        return self._verify(password_hash, password)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _yield_to_the_loop() -> None:
    """Keep this worker thread (and the lanes argon2 starts from it) off one core, and below
    the event loop's priority, so that the loop always has a core of its own.

    Off the loop, argon2 still kept every core busy (its lanes are threads of their own):
    with the cores shared the loop waited its turn, and /healthz took ten times as long
    while sign-ins were checked; ten nice levels below the loop it still took four to five
    times as long on two cores. Confined to all cores but one, the checks queue and take
    longer while the loop is never without a core. On Linux the affinity and nice value
    belong to the thread and the lanes inherit them; elsewhere they belong to the process,
    so they are left alone.
    """
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        cores = sorted(os.sched_getaffinity(thread))
        if len(cores) > 1:
            # This thread only (a thread id): the loop's thread keeps every core it had.
            os.sched_setaffinity(thread, cores[1:])
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + ARGON2_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))
    except OSError:
        pass  # not allowed here (a sandbox): the check just competes as before


async def add_user(
    session: AsyncSession,
    *,
    email: str,
    role: StaffRole,
    name: str = "",
    password: str | None = None,
) -> StaffUser:
    """Create a staff user; the email must be new and the name (if any) a valid name."""
    email = email.strip().lower()
    if name:
        try:
            check_person_name(name)
        except ValueError as exc:
            raise ValidationFailed(f"name {exc}") from None
    existing = await session.scalar(select(StaffUser).where(col(StaffUser.email) == email))
    if existing is not None:
        raise Conflict(f"a staff user with email {email} already exists")
    user = StaffUser(
        email=email,
        role=role,
        name=name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    await session.flush()
    return user


async def issue_token(session: AsyncSession, *, user_id: uuid.UUID, label: str = "") -> str:
    """Create an API token for the user and return it; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user_id, token_hash=hash_token(token), label=label))
    await session.flush()
    return token


async def user_for_token(
    session: AsyncSession, token: str, *, now: datetime, touch_after_s: int = 60
) -> tuple[StaffUser, uuid.UUID, bool] | None:
    """The active user a bearer token belongs to, its id, and whether ``last_used_at`` is stale.

    Read-only: the caller records the use in its own write, at most once a minute per token.
    """
    row = (
        await session.execute(
            select(ApiToken, StaffUser)
            .join(StaffUser, col(StaffUser.id) == col(ApiToken.user_id))
            .where(
                col(ApiToken.token_hash) == hash_token(token), col(ApiToken.revoked_at).is_(None)
            )
        )
    ).first()
    if row is None:
        return None
    api_token, user = row
    if not user.active:
        return None
    last = api_token.last_used_at
    stale = last is None or (now - last).total_seconds() > touch_after_s
    return user, api_token.id, stale


async def touch_token(session: AsyncSession, *, token_id: uuid.UUID, now: datetime) -> None:
    """Record when an API token was last used."""
    await session.execute(
        update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now)
    )


async def list_users(session: AsyncSession) -> list[StaffUser]:
    """Every staff user, by email."""
    return list((await session.scalars(select(StaffUser).order_by(col(StaffUser.email)))).all())


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> StaffUser:
    """One staff user (NotFound if there is none)."""
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("staff user", user_id)
    return user


def audit_account(
    session: AsyncSession,
    action: str,
    *,
    by: uuid.UUID | None,
    user_id: uuid.UUID,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that someone (None: the command line) changed a staff user's account."""
    add_audit(
        session,
        actor_id=by,
        action=action,
        at=now,
        target_type="staff_user",
        target_id=str(user_id),
        details=details,
    )
