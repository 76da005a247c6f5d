"""A short-lived, honest cache of verified join links for the click path (``/j/{t}/video``).

The join click is the busiest path of the service: many people click at the same minute.
Each click needs what one indexed read of the Link and its Meeting tells (who, which room,
is the link still alive); this cache keeps that answer in process memory so a burst of
clicks costs one read per link instead of one per click. It is kept honest two ways:

* **Generation.** Every committed ORM transaction *in this process* that wrote a Link,
  Meeting, Party, Mediator or Room (revoke, party removal, reschedule, cancel, room
  re-created or moved to a fallback, caucus moves, a meeting closing) bumps a process-wide
  generation number after its commit; an entry filled under an older generation is never
  used again. So on this replica a revoked link is refused on the very next click.
* **Time to live.** Entries also expire after ``ttl`` seconds (monotonic clock), which
  bounds how long *another* replica can keep sending a dead link's holder into the room
  after a change made elsewhere (default 5 s; see docs/decisions/008-join-click-path.md).

Concurrent misses of one token share one read (``load_once``): when a cached entry runs out
under a burst of clicks, the clicks of that second wait for a single verify-and-read rather
than each doing its own.

What is cached are facts read from the database, never a verdict that depends on the
time: expiry, not-before and the room's opening window are checked against ``now`` on
every click. Only links that verified are cached; an unknown or forged token always pays
the full price and never takes memory. The cache is bounded (``max_entries``, oldest out).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from orchestrator.core.db import after_transaction
from orchestrator.core.models import Link, Mediator, Meeting, Party, Room

# ---------------------------------------------------------------------------- generation

_WATCHED_TYPES = (Link, Meeting, Party, Mediator, Room)
# SQLAlchemy sets ``__table__`` on each table class; SQLModel's type hints do not declare it.
_WATCHED_TABLES = frozenset(
    cls.__table__.name  # type: ignore[union-attr]
    for cls in _WATCHED_TYPES
)
_DIRTY = "linkcache.dirty"


class _Generation:
    value = 0


def generation() -> int:
    """The current generation; it moves on after every commit that could kill a link."""
    return _Generation.value


def bump() -> None:
    """Drop every cached join link in this process (call after a committed change)."""
    _Generation.value += 1


def _touches_links(objects: Any) -> bool:
    return any(isinstance(obj, _WATCHED_TYPES) for obj in objects)


def _mark(session: Session) -> None:
    """This transaction changed what a cached link stands for: bump once it commits."""
    after_transaction(session, _DIRTY, _bump_if_committed)


def _bump_if_committed(committed: bool) -> None:
    if committed:
        bump()


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if (
        _touches_links(session.new)
        or _touches_links(session.dirty)
        or _touches_links(session.deleted)
    ):
        _mark(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    # Bulk ``update(Link)...`` (links.revoke_for), Core updates and deletes through a session.
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is None or getattr(table, "name", None) in _WATCHED_TABLES:
            _mark(state.session)


# ---------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Entry:
    """What one verified token stands for, as read from the database."""

    link_id: str
    not_before: int  # the token's own claims (seconds since the epoch)
    expires: int
    facts: Any  # join_facts.JoinFacts
    generation: int
    filled_at: float


class JoinLinkCache:
    """Token → verified facts, for ``ttl`` seconds and never across a generation."""

    def __init__(
        self,
        *,
        ttl: float = 5.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[str, Entry] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}
        self._generation = generation()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Entry | None:
        current = _Generation.value
        if current != self._generation:
            self._entries.clear()
            self._generation = current
            self.misses += 1
            return None
        entry = self._entries.get(token)
        if entry is None:
            self.misses += 1
            return None
        if self._monotonic() - entry.filled_at >= self.ttl:
            del self._entries[token]
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(
        self, token: str, *, link_id: str, not_before: int, expires: int, facts: Any, seen: int
    ) -> None:
        """Keep ``facts`` read under generation ``seen`` (taken *before* the read)."""
        if seen != _Generation.value or seen != self._generation:
            return  # something changed while we were reading: do not keep it
        if len(self._entries) >= self.max_entries and token not in self._entries:
            self._entries.pop(next(iter(self._entries)))  # the oldest goes
        self._entries[token] = Entry(
            link_id=link_id,
            not_before=not_before,
            expires=expires,
            facts=facts,
            generation=seen,
            filled_at=self._monotonic(),
        )

    async def load_once(self, token: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """``load()``'s answer for ``token``, run once for all the clicks that miss together.

        Every waiter gets the same answer or the same error (they hold the same token). The
        read goes on if the click that started it goes away, for those still waiting.
        """
        running = self._loading.get(token)
        if running is None:
            running = asyncio.ensure_future(load())
            self._loading[token] = running
            running.add_done_callback(lambda done: self._loaded(token, done))
        return await asyncio.shield(running)

    def _loaded(self, token: str, done: asyncio.Future[Any]) -> None:
        if self._loading.get(token) is done:
            del self._loading[token]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone away

    def clear(self) -> None:
        self._entries.clear()
