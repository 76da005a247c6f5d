"""Idempotency keys: a create retried after a dropped connection answers what it did first.

A client sends ``Idempotency-Key: <its own unique string>`` with a create. The first request
is carried out and its answer kept with the key, in the same transaction; the same key with
the same request gets that answer again and creates nothing; the same key with a different
request is refused. Keys belong to the staff user who sent them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.core.errors import IdempotencyKeyReused, ValidationFailed
from orchestrator.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Visible ASCII, as a header value survives every proxy; a UUID is the usual choice.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)


def check_key(key: str) -> str:
    """Return ``key`` if it is a usable idempotency key, else raise ``ValidationFailed``."""
    if not _KEY.fullmatch(key):
        raise ValidationFailed(
            f"the {HEADER} header must be 1 to 255 visible ASCII characters (a UUID is ideal)"
        )
    return key


def fingerprint(method: str, path: str, body: str) -> str:
    """What makes two requests the same request: method, path and the validated body."""
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


async def recall(
    session: AsyncSession, *, user_id: uuid.UUID, key: str, request: str
) -> IdempotencyKey | None:
    """The stored answer for this key, or None when the key is new.

    Raises ``IdempotencyKeyReused`` when the key was used for a different request.
    """
    stored = await session.scalar(
        select(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.key) == key
        )
    )
    if stored is not None and stored.fingerprint != request:
        raise IdempotencyKeyReused(
            f"this {HEADER} was already used for a different request; "
            "send a new key with each new request"
        )
    return stored


def remember(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    key: str,
    request: str,
    status: int,
    response_body: str,
    now: datetime,
) -> None:
    """Keep the answer to a keyed request, in the transaction that made it."""
    session.add(
        IdempotencyKey(
            user_id=user_id,
            key=key,
            fingerprint=request,
            status=status,
            response_body=response_body,
            created_at=now,
        )
    )


def is_twin_request(exc: BaseException) -> bool:
    """Whether ``exc`` is a twin request with the same key committing first."""
    return isinstance(exc, IntegrityError) and "idempotency_key" in str(exc)
