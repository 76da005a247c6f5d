"""Staff sign-in: check the password off the event loop, slow guessers, never lock owners out.

Nobody is locked out. A guesser is slowed where the guessing happens:

- one address trying one email gets ``ACCOUNT_BACKOFF.free`` tries, then growing waits
  (30 s, 1 min, 2 min, … up to 15 min) until a right password ends the run. The owner,
  signing in from their own address, is not held up by a stranger's tries;
- one address trying any emails spends ``SOURCE_ALLOWANCE`` (a token bucket), so spraying
  many accounts from one place is slow too. A successful sign-in costs it nothing.

Both are counted in the database (``orchestrator.throttle``), so every replica sees them,
and each try is counted *before* its password is checked, so forty tries at once get no
further than five. Unknown emails, disabled accounts and wrong passwords all cost one
argon2 check and read the same, and the budgets are keyed on the email as typed, not on
whether it is a user: the answer never says whether an account exists.
"""

from __future__ import annotations

from sqlmodel import col, select

from orchestrator.db import Database
from orchestrator.errors import DomainError
from orchestrator.models import StaffUser
from orchestrator.staff import PasswordWorkers
from orchestrator.throttle import Allowance, Backoff, Throttle

ACCOUNT_BACKOFF = Backoff(free=5, first_s=30, most_s=15 * 60)
SOURCE_ALLOWANCE = Allowance(burst=10, refill_seconds=30)


class TooManyAttempts(DomainError):
    """Too many failed tries lately: try again after ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


async def sign_in(
    db: Database,
    throttle: Throttle,
    passwords: PasswordWorkers,
    *,
    email: str,
    password: str,
    source: str,
) -> StaffUser | None:
    """The user these credentials sign in, or None.

    Raises ``TooManyAttempts`` (before any password is checked) when ``source`` must wait.
    """
    email = email.strip().lower()
    source_key = throttle.key("sign-in:source", source)
    wait = await throttle.spend(source_key, SOURCE_ALLOWANCE)
    if wait:
        raise TooManyAttempts(wait)
    account_key = throttle.key("sign-in:account", email, source)
    wait = await throttle.begin_attempt(account_key, ACCOUNT_BACKOFF)
    if wait:
        raise TooManyAttempts(wait)
    async with db.read() as session:
        user = await session.scalar(select(StaffUser).where(col(StaffUser.email) == email))
    password_hash = user.password_hash if user is not None and user.active else None
    # Checked even without a user (against a dummy hash): a miss costs what a hit costs.
    if not await passwords.verify(password_hash, password) or user is None:
        return None
    await throttle.succeeded(account_key)
    await throttle.refund(source_key, SOURCE_ALLOWANCE)
    return user
