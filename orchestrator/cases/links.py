"""Signed, revocable party links: a JWT in the URL and a row in the database.

The JWT (HS256 pinned, ``exp``, ``nbf``, ``jti``, ``sub`` = link id, ``scope``) proves we
issued the link and that nobody edited it. The ``Link`` row decides whether it still
works: a link dies when it is revoked, when its party is removed, when its meeting is
cancelled or moved (the meeting's sequence moved on), or when it expires. The token
carries no personal data: only the link id and its scope.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from orchestrator.cases import short_links
from orchestrator.core.errors import LinkInvalid
from orchestrator.core.models import Link, LinkScope, Meeting, MeetingStatus, Party

ALGORITHM = "HS256"
AUDIENCE = "mediation-orchestrator:party-link"

# The path each scope's link opens.
PATH_FOR_SCOPE = {
    LinkScope.poll: "/p/",
    LinkScope.rsvp: "/r/",
    LinkScope.join_room: "/j/",
    LinkScope.prepare: "/prepare/",
    LinkScope.consent: "/c/",
    LinkScope.feed: "/feeds/mediators/",
    LinkScope.supporters: "/b/",
}


class Verdict(StrEnum):
    """Whether a link still works and, when it does not, why (the reason an error carries)."""

    live = "live"
    unknown = "unknown"
    revoked = "revoked"
    expired = "expired"
    party_removed = "party_removed"
    cancelled = "cancelled"
    superseded = "superseded"  # the meeting was moved after the link was sent


# What a person is told when a link is dead, by verdict.
DEAD_LINK_MESSAGES = {
    Verdict.unknown: "this link is not valid",
    Verdict.revoked: "this link has been withdrawn",
    Verdict.expired: "this link has expired",
    Verdict.party_removed: "this link has been withdrawn",
    Verdict.cancelled: "this meeting has been cancelled",
    Verdict.superseded: "this meeting has been moved; please use the newest email",
}


@dataclass(frozen=True)
class LinkState:
    """The facts of a link's row that decide whether it still works."""

    case_id: uuid.UUID
    revoked: bool
    expires_at: datetime
    party_id: uuid.UUID | None
    meeting_id: uuid.UUID | None
    meeting_sequence: int | None  # the meeting's sequence when the link was issued

    @classmethod
    def of(cls, link: Link) -> LinkState:
        return cls(
            case_id=link.case_id,
            revoked=link.revoked_at is not None,
            expires_at=link.expires_at,
            party_id=link.party_id,
            meeting_id=link.meeting_id,
            meeting_sequence=link.meeting_sequence,
        )


@dataclass(frozen=True)
class PartyState:
    """The facts of the link's party that decide whether the link still works."""

    case_id: uuid.UUID
    removed: bool

    @classmethod
    def of(cls, party: Party) -> PartyState:
        return cls(case_id=party.case_id, removed=party.removed_at is not None)


@dataclass(frozen=True)
class MeetingState:
    """The facts of the link's meeting that decide whether the link still works."""

    case_id: uuid.UUID
    status: MeetingStatus
    sequence: int

    @classmethod
    def of(cls, meeting: Meeting) -> MeetingState:
        return cls(case_id=meeting.case_id, status=meeting.status, sequence=meeting.sequence)


def verdict(
    link: LinkState, *, party: PartyState | None, meeting: MeetingState | None, now: datetime
) -> Verdict:
    """Whether the link works at ``now``; ``party`` and ``meeting`` are None when not found.

    The one rule for every door that takes a link: the ORM one (``resolve``) and the join
    click's Core read (``join_facts.JoinFacts.target``). The first reason found wins.
    """
    if link.revoked:
        return Verdict.revoked
    if link.expires_at <= now:
        return Verdict.expired
    if link.party_id is not None and (
        party is None or party.removed or party.case_id != link.case_id
    ):
        return Verdict.party_removed
    if link.meeting_id is not None:
        if meeting is None or meeting.case_id != link.case_id:
            return Verdict.unknown
        if meeting.status is MeetingStatus.cancelled:
            return Verdict.cancelled
        if link.meeting_sequence is not None and link.meeting_sequence != meeting.sequence:
            return Verdict.superseded
    return Verdict.live


def refusal(found: Verdict) -> LinkInvalid:
    """The error a dead link answers, with its verdict as the reason."""
    return LinkInvalid(DEAD_LINK_MESSAGES[found], details={"reason": found.value})


def ensure_live(found: Verdict) -> None:
    """Raise LinkInvalid (``refusal``) unless the link is live."""
    if found is not Verdict.live:
        raise refusal(found)


@dataclass(frozen=True)
class Resolved:
    """A link that verified: its row, and the party and meeting it speaks for."""

    link: Link
    party: Party | None
    meeting: Meeting | None


def _signing_key(secret: str) -> bytes:
    # Distinct from other uses of the secret (e.g. sessions) by construction.
    return ("party-links:" + secret).encode()


def encode(link: Link, *, secret: str) -> str:
    """The token for ``link`` (the row must already carry its expiry)."""
    claims = {
        "sub": link.id,
        "jti": link.id,
        "scope": link.scope.value,
        "aud": AUDIENCE,
        "iat": int(link.created_at.timestamp()),
        "nbf": int(link.created_at.timestamp()) - 60,
        "exp": int(link.expires_at.timestamp()),
    }
    return jwt.encode(claims, _signing_key(secret), algorithm=ALGORITHM)


def decode(token: str, *, secret: str, scope: LinkScope, now: datetime) -> str:
    """The link id inside a genuine, unexpired token for ``scope``; LinkInvalid otherwise."""
    return str(verified_claims(token, secret=secret, scope=scope, now=now)["jti"])


def verified_claims(token: str, *, secret: str, scope: LinkScope, now: datetime) -> dict[str, Any]:
    """The claims of a genuine, unexpired token for ``scope``; LinkInvalid otherwise."""
    if len(token) > 2048:
        raise LinkInvalid("this link is not valid")
    try:
        claims = jwt.decode(
            token,
            _signing_key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            # Expiry and not-before are checked below against ``now`` (the app's clock), not
            # against the wall clock PyJWT would read.
            options={
                "require": ["exp", "nbf", "jti", "sub", "scope", "aud"],
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.ExpiredSignatureError:
        raise LinkInvalid("this link has expired", details={"reason": "expired"}) from None
    except jwt.InvalidTokenError:
        raise LinkInvalid("this link is not valid", details={"reason": "invalid"}) from None
    if claims.get("scope") != scope.value:
        raise LinkInvalid("this link is not valid here", details={"reason": "scope"})
    if int(claims["exp"]) <= int(now.timestamp()):
        raise LinkInvalid("this link has expired", details={"reason": "expired"})
    if int(claims["nbf"]) > int(now.timestamp()):
        raise LinkInvalid("this link is not valid", details={"reason": "invalid"})
    return claims


async def issue(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    scope: LinkScope,
    now: datetime,
    expires_at: datetime | None = None,
    ttl: timedelta = timedelta(days=60),
    party_id: uuid.UUID | None = None,
    mediator_id: uuid.UUID | None = None,
    meeting: Meeting | None = None,
    flush: bool = True,
) -> Link:
    """Create the row for a new link (call ``encode`` for its token).

    ``flush=False`` leaves the row pending, so a caller issuing several flushes them as
    one INSERT.
    """
    link = Link(
        id=secrets.token_urlsafe(18),
        case_id=case_id,
        party_id=party_id,
        mediator_id=mediator_id,
        meeting_id=meeting.id if meeting else None,
        meeting_sequence=meeting.sequence if meeting else None,
        scope=scope,
        created_at=now,
        expires_at=expires_at or now + ttl,
    )
    session.add(link)
    if flush:
        await session.flush()
    return link


def url_for(link: Link, *, base_url: str, secret: str) -> str:
    """The full URL a person clicks."""
    return f"{base_url}{PATH_FOR_SCOPE[link.scope]}{encode(link, secret=secret)}"


def short_url_for(link: Link, *, base_url: str, secret: str) -> str:
    """The same link by its short alias (``short_links``): what plain text shows."""
    return f"{base_url}{PATH_FOR_SCOPE[link.scope]}{short_links.alias(link, secret=secret)}"


def _link_id(token: str, *, secret: str, scope: LinkScope, now: datetime) -> str:
    """The link id a JWT or a short alias names (the row then decides if it still works)."""
    if short_links.is_short(token):
        return short_links.link_id(token, secret=secret)
    return decode(token, secret=secret, scope=scope, now=now)


async def inspect(
    session: AsyncSession, token: str, *, scope: LinkScope, secret: str, now: datetime
) -> tuple[Resolved, Verdict]:
    """Verify a token (a JWT or its short alias) and read its row, and say whether it still
    works (without raising).

    A tampered, expired or unknown token still raises LinkInvalid: only a genuine link's
    holder may learn why it no longer works (``resolve`` refuses every dead link alike).
    """
    link_id = _link_id(token, secret=secret, scope=scope, now=now)
    link = await session.get(Link, link_id)
    if link is None or link.scope is not scope:
        raise refusal(Verdict.unknown)
    party = await session.get(Party, link.party_id) if link.party_id is not None else None
    meeting = await session.get(Meeting, link.meeting_id) if link.meeting_id is not None else None
    found = verdict(
        LinkState.of(link),
        party=PartyState.of(party) if party is not None else None,
        meeting=MeetingState.of(meeting) if meeting is not None else None,
        now=now,
    )
    return Resolved(link=link, party=party, meeting=meeting), found


async def resolve(
    session: AsyncSession, token: str, *, scope: LinkScope, secret: str, now: datetime
) -> Resolved:
    """Verify a token and check its row; raise LinkInvalid with a reason when it is dead."""
    resolved, found = await inspect(session, token, scope=scope, secret=secret, now=now)
    ensure_live(found)
    return resolved


async def revoke(session: AsyncSession, *, link_id: str, now: datetime) -> None:
    await session.execute(
        update(Link)
        .where(col(Link.id) == link_id, col(Link.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def revoke_for(
    session: AsyncSession,
    *,
    now: datetime,
    party_id: uuid.UUID | None = None,
    meeting_id: uuid.UUID | None = None,
    scope: LinkScope | None = None,
) -> None:
    """Revoke every live link of a party and/or a meeting (optionally of one scope)."""
    query = update(Link).where(col(Link.revoked_at).is_(None))
    if party_id is not None:
        query = query.where(col(Link.party_id) == party_id)
    if meeting_id is not None:
        query = query.where(col(Link.meeting_id) == meeting_id)
    if scope is not None:
        query = query.where(col(Link.scope) == scope)
    await session.execute(query.values(revoked_at=now))
