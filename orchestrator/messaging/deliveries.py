"""What became of each text, email and letter to each person, failures shown to staff.

A Notify receipt names our ``reference`` (the outbox idempotency key) and a final status;
``record_receipt`` moves the person's ``Delivery`` row on (an email's row is made when its
first receipt or bounce arrives: ``email_failed``) and, when the message will never
arrive, writes it on the case's timeline. ``unreached`` lists, for the case page, the
people a message did not reach (refused, bounced, failed at the network, or given up on
by the outbox), newest first, so nobody is silently left out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from orchestrator.cases import timeline
from orchestrator.core.models import (
    Delivery,
    DeliveryStatus,
    OutboxKind,
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
        DeliveryStatus.cancelled,
        DeliveryStatus.validation_failed,
    }
)
# What each failure means for the person trying to reach them.
FAILURE_WORDS = {
    DeliveryStatus.permanent_failure: "the number does not take texts",
    DeliveryStatus.temporary_failure: "their phone did not accept it",
    DeliveryStatus.technical_failure: "GOV.UK Notify could not send it",
    DeliveryStatus.refused: "GOV.UK Notify refused it",
    DeliveryStatus.cancelled: "it was cancelled before it was posted",
    DeliveryStatus.validation_failed: "GOV.UK Notify could not print it",
}
# The words for an email or a letter where they differ from a text's.
CHANNEL_WORDS = {
    (OutboxKind.email, DeliveryStatus.permanent_failure): "the address does not exist",
    (OutboxKind.email, DeliveryStatus.temporary_failure): "their mailbox did not accept it",
    (OutboxKind.letter, DeliveryStatus.permanent_failure): "it could not be delivered",
}
NOUNS = {OutboxKind.sms: "text", OutboxKind.email: "email", OutboxKind.letter: "letter"}


@dataclass(frozen=True)
class Unreached:
    """A person a text did not reach, as the case page tells it."""

    party_id: uuid.UUID
    name: str
    why: str
    at: datetime
    channel: OutboxKind = OutboxKind.sms

    @property
    def sentence(self) -> str:
        """ "Email to Sam Parent bounced", "Text to Alex Young failed (...)": phone them."""
        if self.channel is OutboxKind.email:
            return f"Email to {self.name} bounced ({self.why})"
        return (
            f"{NOUNS.get(self.channel, 'message').capitalize()} to {self.name} failed ({self.why})"
        )


def failure_words(channel: OutboxKind, status: DeliveryStatus) -> str:
    return CHANNEL_WORDS.get((channel, status)) or FAILURE_WORDS.get(status, "it failed")


async def record_receipt(
    session: AsyncSession,
    *,
    reference: str,
    provider_id: str,
    status: str,
    now: datetime,
    to: str = "",
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
        return await _email_receipt(
            session, reference=reference, to=to, status=new_status, reason=status, now=now
        )
    delivery = row[0]
    if delivery.status is new_status:
        return delivery  # the same receipt again
    delivery.status = new_status
    delivery.provider_id = provider_id[:64] or delivery.provider_id
    delivery.updated_at = now
    if new_status in FAILED:
        await _note_failure(session, delivery, now)
    return delivery


async def _note_failure(session: AsyncSession, delivery: Delivery, now: datetime) -> None:
    """Say on the case's timeline that a message to this person failed, and why."""
    party = await session.get(Party, delivery.party_id)
    who = timeline.a_party(party.role, first=False) if party else "someone"
    noun = NOUNS.get(delivery.channel, "message")
    add_timeline(
        session,
        case_id=delivery.case_id,
        party_id=delivery.party_id,
        kind=f"{noun}.failed",
        summary=f"A{'n' if noun == 'email' else ''} {noun} to {who} failed: "
        f"{failure_words(delivery.channel, delivery.status)}",
        at=now,
    )


async def email_failed(
    session: AsyncSession,
    *,
    message: OutboxMessage,
    address: str,
    status: DeliveryStatus,
    reason: str,
    now: datetime,
) -> Delivery | None:
    """Mark the email ``message`` failed for the person at ``address``, once.

    Only a person on the message's own case, whose address the message was sent to, is
    ever marked: a report naming anyone else changes nothing (None).
    """
    address = address.strip().lower()
    sent_to = {str(to).strip().lower() for to in message.payload.get("to", [])}
    if message.kind is not OutboxKind.email or message.case_id is None or address not in sent_to:
        return None
    party = await session.scalar(
        select(Party).where(
            col(Party.case_id) == message.case_id,
            col(Party.removed_at).is_(None),
            func.lower(Party.email) == address,
        )
    )
    if party is None:
        return None
    delivery = await session.scalar(select(Delivery).where(col(Delivery.message_id) == message.id))
    if delivery is None:
        delivery = Delivery(
            message_id=message.id,
            case_id=message.case_id,
            party_id=party.id,
            channel=OutboxKind.email,
            updated_at=now,
        )
        session.add(delivery)
    elif delivery.status is status:
        return delivery  # the same report again
    delivery.status, delivery.reason, delivery.updated_at = status, reason[:300], now
    await session.flush()
    await _note_failure(session, delivery, now)
    return delivery


async def _email_receipt(
    session: AsyncSession,
    *,
    reference: str,
    to: str,
    status: DeliveryStatus,
    reason: str,
    now: datetime,
) -> Delivery | None:
    """A Notify receipt for an email (no delivery row until it fails): mark it if it failed."""
    if status not in FAILED or not to:
        return None
    message = await session.scalar(
        select(OutboxMessage).where(col(OutboxMessage.idempotency_key) == reference)
    )
    if message is None:
        return None
    return await email_failed(
        session, message=message, address=to, status=status, reason=reason, now=now
    )


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
        why = (
            failure_words(delivery.channel, delivery.status)
            if delivery.status in FAILED
            else "it could not be sent"
            if message.status is OutboxStatus.dead
            else "it was refused"
        )
        found[party.id] = Unreached(
            party.id, party.name, why, delivery.updated_at, channel=delivery.channel
        )
    return list(found.values())
