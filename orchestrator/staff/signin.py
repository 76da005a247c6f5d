"""Staff sign-in: check the password off the event loop, slow guessers, never lock owners out.

Nobody is locked out. A guesser is slowed where the guessing happens:

- one address trying one email gets ``ACCOUNT_BACKOFF.free`` tries, then growing waits
  (30 s, 1 min, 2 min, … up to 15 min) until a right password ends the run;
- one address trying any emails spends ``SOURCE_ALLOWANCE`` (a token bucket), so spraying
  many accounts from one place is slow too. A successful sign-in costs it nothing;
- one email tried from browsers it does not know, from any addresses, gets
  ``ACCOUNT_WIDE_BACKOFF.free`` failures in all, then growing waits, so a botnet spraying
  one account is slowed however many addresses it has.

That last budget alone would bring the lock-out back (a botnet could keep the owner out),
so a browser that has signed in to an account carries a *known-device* cookie: a signed
token (HS256 pinned, key ``staff-known-device:`` + secret) naming the account and a random
nonce. A try from a known device of that account is counted only in the device's own run
(``DEVICE_BACKOFF``), not in any address's or the account's: the owner on their own laptop
signs straight in whatever is spraying their account. A device whose run reaches
``DEVICE_TRUSTED_FAILURES`` failures in a row (a stolen laptop, without the password) is no
longer trusted for the rest of its cookie's life: it is a browser like any other.

Everything is counted in the database (``orchestrator.core.throttle``), so every replica sees
it, and each try is counted *before* its password is checked, so forty tries at once get no
further than five. Unknown emails, disabled accounts and wrong passwords all cost one
argon2 check and read the same, and the budgets are keyed on the email as typed, not on
whether it is a user: the answer never says whether an account exists.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlmodel import col, select

from orchestrator.core.db import Database
from orchestrator.core.errors import DomainError
from orchestrator.core.models import StaffUser
from orchestrator.core.throttle import Allowance, Backoff, Throttle
from orchestrator.staff.accounts import PasswordWorkers

ACCOUNT_BACKOFF = Backoff(free=5, first_s=30, most_s=15 * 60)
SOURCE_ALLOWANCE = Allowance(burst=10, refill_seconds=30)
ACCOUNT_WIDE_BACKOFF = Backoff(free=20, first_s=30, most_s=15 * 60)
DEVICE_BACKOFF = Backoff(free=3, first_s=30, most_s=15 * 60)
DEVICE_TRUSTED_FAILURES = 5
KNOWN_DEVICE_TTL = timedelta(days=180)
KNOWN_DEVICE_AUDIENCE = "mediation-orchestrator:staff-known-device"


class TooManyAttempts(DomainError):
    """Too many failed tries lately: try again after ``retry_after`` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and the known-device cookie their browser keeps from now on."""

    user: StaffUser
    known_device: str


@dataclass(frozen=True)
class KnownDevice:
    """A genuine, unexpired known-device cookie: its account, nonce and end of life."""

    user_id: uuid.UUID
    nonce: str
    expires_at: float


def _device_key(secret: str) -> bytes:
    # Distinct from party links and set-password links by construction.
    return ("staff-known-device:" + secret).encode()


def known_device_cookie(user: StaffUser, *, secret: str, now: datetime) -> str:
    """A new known-device cookie naming ``user``, with a nonce of its own."""
    claims = {
        "sub": user.id.hex,
        "jti": secrets.token_urlsafe(16),
        "aud": KNOWN_DEVICE_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + KNOWN_DEVICE_TTL).timestamp()),
    }
    return jwt.encode(claims, _device_key(secret), algorithm="HS256")


def read_known_device(value: str | None, *, secret: str, now: datetime) -> KnownDevice | None:
    """The device a genuine, unexpired cookie names; None for anything else."""
    if not value or len(value) > 1024:
        return None
    try:
        claims = jwt.decode(
            value,
            _device_key(secret),
            algorithms=["HS256"],
            audience=KNOWN_DEVICE_AUDIENCE,
            # Expiry is checked below against the service's clock, not the machine's.
            options={"require": ["sub", "jti", "aud", "exp"], "verify_exp": False},
        )
        user_id = uuid.UUID(str(claims["sub"]))
        expires_at = float(claims["exp"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
    if expires_at <= now.timestamp():
        return None
    return KnownDevice(user_id=user_id, nonce=str(claims["jti"]), expires_at=expires_at)


async def sign_in(
    db: Database,
    throttle: Throttle,
    passwords: PasswordWorkers,
    *,
    email: str,
    password: str,
    source: str,
    known_device: str | None,
    secret: str,
) -> SignedIn | None:
    """Who these credentials sign in (with their device's new cookie), or None.

    Raises ``TooManyAttempts`` (before any password is checked) when this try must wait.
    """
    email = email.strip().lower()
    now = datetime.fromtimestamp(throttle.now(), UTC)
    async with db.read() as session:
        user = await session.scalar(select(StaffUser).where(col(StaffUser.email) == email))
    device = read_known_device(known_device, secret=secret, now=now)
    if device is not None and (user is None or device.user_id != user.id):
        device = None  # another account's device is no help here
    if device is not None:
        runs = [throttle.key("sign-in:device", device.nonce)]
        wait = await throttle.begin_trusted_attempt(
            runs[0],
            DEVICE_BACKOFF,
            trusted_failures=DEVICE_TRUSTED_FAILURES,
            kept_until=device.expires_at,
        )
        if wait:
            raise TooManyAttempts(wait)
        if wait is None:
            device = None  # it failed too often: no longer trusted
    source_key = throttle.key("sign-in:source", source)
    if device is None:
        wait = await throttle.spend(source_key, SOURCE_ALLOWANCE)
        if wait:
            raise TooManyAttempts(wait)
        runs = [
            throttle.key("sign-in:account", email, source),
            throttle.key("sign-in:account-wide", email),
        ]
        wait = await throttle.begin_attempt(
            (runs[0], ACCOUNT_BACKOFF), (runs[1], ACCOUNT_WIDE_BACKOFF)
        )
        if wait:
            raise TooManyAttempts(wait)
    password_hash = user.password_hash if user is not None and user.active else None
    # Checked even without a user (against a dummy hash): a miss costs what a hit costs.
    if not await passwords.verify(password_hash, password) or user is None:
        return None
    await throttle.succeeded(*runs)
    if device is None:
        await throttle.refund(source_key, SOURCE_ALLOWANCE)
    return SignedIn(user=user, known_device=known_device_cookie(user, secret=secret, now=now))
