"""Where a staff request's audit row is filed: what its path names, and that thing's case.

The API route table and the staff page guard each write one audit row per request. A path
names the case itself (``/cases/{case_id}/...``) or only something of a case (a meeting,
a party, a certificate, a paper); the case is then looked up, so that every read of a
case's data is found under that case, whichever door it came through.

A request the guard or the view refuses (403, or 404 for something that is not the
caller's or not there) leaves a row too, with ``details = {"outcome": "refused", ...}``:
someone trying other mediators' cases is on those cases' trails.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core import records
from orchestrator.core.db import Database
from orchestrator.core.errors import DomainError
from orchestrator.core.models import Certificate, Document, Meeting, Party
from orchestrator.core.records import add_audit
from orchestrator.web.errors import ApiError, from_domain

REFUSALS = frozenset({403, 404})

# Path parameters, most specific first: the first one present is the row's target.
TARGETS = (
    "meeting_id",
    "case_id",
    "party_id",
    "certificate_id",
    "document_id",
    "mediator_id",
    "endpoint_id",
    "message_id",
    "referral_id",
)
# Path parameters naming something that belongs to one case, and the table that says which.
CASE_PARTS: dict[str, type[Meeting] | type[Party] | type[Certificate] | type[Document]] = {
    "meeting_id": Meeting,
    "party_id": Party,
    "certificate_id": Certificate,
    "document_id": Document,
}


def target_of(path: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The kind and id of the thing a request's path names (``meeting``, ``case``, ...)."""
    for name in TARGETS:
        if name in path:
            return name.removesuffix("_id"), path[name][:64]
    return None, None


async def case_of(session: AsyncSession, path: Mapping[str, str]) -> uuid.UUID | None:
    """The case a request's path names or reaches through a meeting, party or paper."""
    if "case_id" in path:
        return _uuid(path["case_id"])
    for name, table in CASE_PARTS.items():
        found = _uuid(path[name]) if name in path else None
        if found is not None:
            return await records.case_id_of(session, table, found)
    return None


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def refusal_status(exc: BaseException) -> int | None:
    """The status when ``exc`` refuses the caller (403 or 404); None for any other answer."""
    if isinstance(exc, ApiError | web.HTTPException):
        status = exc.status
    elif isinstance(exc, DomainError):
        status = from_domain(exc).status
    else:
        return None
    return status if status in REFUSALS else None


async def record_refusal(
    db: Database,
    *,
    actor_id: uuid.UUID,
    action: str,
    path: Mapping[str, str],
    status: int,
    at: datetime,
    case_id: uuid.UUID | None = None,
) -> None:
    """File a refused request, in a write of its own (the request's own was rolled back)."""
    target_type, target_id = target_of(path)
    async with db.write() as session:
        add_audit(
            session,
            actor_id=actor_id,
            action=action[:100],
            at=at,
            target_type=target_type,
            target_id=target_id,
            case_id=case_id or await case_of(session, path),
            details={"outcome": "refused", "status": status},
        )
