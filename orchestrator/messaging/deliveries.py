"""What became of each text to each person: Notify's receipts recorded, failures shown to staff.

A receipt names our ``reference`` (the outbox idempotency key) and a final status;
``record_receipt`` moves the person's ``Delivery`` row on and, when the text will never
arrive, writes it on the case's timeline. ``unreached`` lists, for the case page, the
people a text did not reach (refused, failed at the network, or given up on by the
outbox), newest first, so nobody is silently left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import timeline
from orchestrator.core.models import (
    Delivery,
    DeliveryStatus,
    OutboxMessage,
    OutboxStatus,
    Party,
)
from orchestrator.core.records import add_timeline

FAILED = frozenset(
    {
        DeliveryStatus.permanent_failure,
        DeliveryStatus.temporary_failure,
        DeliveryStatus.technical_failure,
        DeliveryStatus.refused,
    }
)
# What each failure means for the person trying to reach them.
FAILURE_WORDS = {
    DeliveryStatus.permanent_failure: "the number does not take texts",
    DeliveryStatus.temporary_failure: "their phone did not accept it",
    DeliveryStatus.technical_failure: "GOV.UK Notify could not send it",
    DeliveryStatus.refused: "GOV.UK Notify refused it",
}


@dataclass(frozen=True)
class Unreached:
    """A person a text did not reach, as the case page tells it."""

    party_id: uuid.UUID
    name: str
    why: str
    at: datetime


async def record_receipt(
    session: AsyncSession, *, reference: str, provider_id: str, status: str, now: datetime
) -> Delivery | None:
    """Apply one delivery receipt; None when the reference or the status is not ours."""
    try:
        new_status = DeliveryStatus(status)
    except ValueError:
        return None
    row = (
        await session.execute(
            select(Delivery, OutboxMessage)
            .join(OutboxMessage, col(OutboxMessage.id) == col(Delivery.message_id))
            .where(col(OutboxMessage.idempotency_key) == reference)
        )
    ).first()
    if row is None:
        return None
    delivery = row[0]
    if delivery.status is new_status:
        return delivery  # the same receipt again
    delivery.status = new_status
    delivery.provider_id = provider_id[:64] or delivery.provider_id
    delivery.updated_at = now
    if new_status in FAILED:
        party = await session.get(Party, delivery.party_id)
        who = timeline.a_party(party.role, first=False) if party else "someone"
        add_timeline(
            session,
            case_id=delivery.case_id,
            party_id=delivery.party_id,
            kind="text.failed",
            summary=f"A text to {who} failed: {FAILURE_WORDS[new_status]}",
            at=now,
        )
    return delivery


async def unreached(session: AsyncSession, *, case_id: uuid.UUID) -> list[Unreached]:
    """The people on this case a text did not reach, newest first, one line each."""
    rows = await session.execute(
        select(Delivery, OutboxMessage, Party)
        .join(OutboxMessage, col(OutboxMessage.id) == col(Delivery.message_id))
        .join(Party, col(Party.id) == col(Delivery.party_id))
        .where(
            col(Delivery.case_id) == case_id,
            col(Party.removed_at).is_(None),
            or_(
                col(Delivery.status).in_(FAILED),
                col(OutboxMessage.status).in_([OutboxStatus.failed, OutboxStatus.dead]),
            ),
        )
        .order_by(col(Delivery.updated_at).desc())
    )
    found: dict[uuid.UUID, Unreached] = {}
    for delivery, message, party in rows.all():
        if party.id in found:
            continue
        why = FAILURE_WORDS.get(delivery.status) or (
            "it could not be sent" if message.status is OutboxStatus.dead else "it was refused"
        )
        found[party.id] = Unreached(party.id, party.name, why, delivery.updated_at)
    return list(found.values())
