"""What guards the doors: throttle buckets against guessing, keys against repeated creates.

Both are shared by every replica through the database (``core/throttle.py``,
``core/idempotency.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from orchestrator.core.models.columns import new_id, ts_field


class IdempotencyKey(SQLModel, table=True):
    """A create request made with an ``Idempotency-Key``: what it was and what it answered."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="staff_user.id", index=True)
    key: str = Field(max_length=255)
    # sha256 of the method, path and validated body: the same key must mean the same request.
    fingerprint: str = Field(max_length=64)
    status: int
    response_body: str = Field(sa_type=sa.Text)
    created_at: datetime = ts_field(default_now=True)


class ThrottleBucket(SQLModel, table=True):
    """Failures counted for one door and caller, shared by every replica.

    ``key`` is an HMAC of the door and who is knocking (an address, an email), never the
    address itself. Times are Unix seconds: ``until`` is a token bucket's theoretical
    arrival time, or the end of a growing delay; ``at`` is the latest failure.
    """

    __tablename__ = "throttle_bucket"

    key: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    until: float = 0.0
    at: float = Field(default=0.0, index=True)
