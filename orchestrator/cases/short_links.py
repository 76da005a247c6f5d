"""Short aliases of party links, for the plain-text part of a mail and anything typed in.

A party link's JWT makes a URL of 300 characters or more: unreadable in plain text, split
by mail clients, impossible to read out on the phone. Its short alias is the link's id
(already random, and the row's key) followed by a tag keyed on the service's secret, so
someone who can read the database still cannot make one. The alias is only a way to name
the same row: whether the link still works is decided by the row, as for the JWT
(``links.inspect``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from orchestrator.core.errors import LinkInvalid
from orchestrator.core.models import Link

TAG_LENGTH = 11  # 8 bytes of HMAC-SHA256, base64url without padding


def _tag(link_id: str, secret: str) -> str:
    digest = hmac.new(("short-links:" + secret).encode(), link_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:8]).decode().rstrip("=")


def is_short(token: str) -> bool:
    """True for an alias, False for a JWT (which always has dots between its parts)."""
    return "." not in token


def alias(link: Link, *, secret: str) -> str:
    """The short alias of ``link``: its id and its tag (35 characters for our ids)."""
    return f"{link.id}{_tag(link.id, secret)}"


def link_id(token: str, *, secret: str) -> str:
    """The link id a genuine alias names; LinkInvalid (as for a bad JWT) otherwise."""
    found, tag = token[:-TAG_LENGTH], token[-TAG_LENGTH:]
    if len(token) > 100 or not found or not hmac.compare_digest(tag, _tag(found, secret)):
        raise LinkInvalid("this link is not valid", details={"reason": "invalid"})
    return found
