"""How values are stored: aware UTC timestamps, JSON, enums as text, and the row ids.

Every table builds its columns from these, so a time always comes back timezone-aware
(SQLite forgets the zone) and adding a value to an enum needs no migration.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; hand them back aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def time_ordered_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    For append-only event rows that are never shown in a URL: new keys land at the end of
    the primary-key index instead of at a random page, so a table of many thousands of
    join clicks keeps its insert cost flat. (Python 3.14 has ``uuid.uuid7``.)
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return uuid.UUID(int=value)


def ts_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A timezone-aware timestamp column."""
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default_now:
        kwargs["default_factory"] = utcnow
    return Field(**kwargs)


def json_field(default: Any = None) -> Any:
    factory = (lambda: type(default)()) if isinstance(default, dict | list) else (lambda: default)
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=True))


def enum_field(enum_cls: type[StrEnum], default: Any = ..., *, index: bool = False) -> Any:
    """An enum stored as its value in a VARCHAR, so adding a value needs no migration."""
    sa_type = sa.Enum(
        enum_cls,
        native_enum=False,
        length=40,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )
    if default is ...:
        return Field(sa_type=sa_type, index=index)
    return Field(default=default, sa_type=sa_type, index=index)
