"""deliveries: what became of each text message to each person (GOV.UK Notify receipts)

``delivery`` is made with the outbox row of a text message; Notify's delivery receipts
move its status on, so the case page can say "text to Sam failed - phone them".

Revision ID: 0010_deliveries
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import orchestrator.core.models

revision: str = "0010_deliveries"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("email", "webhook", "provider_call", "sms")
_STATUSES = (
    "queued",
    "sending",
    "delivered",
    "permanent-failure",
    "temporary-failure",
    "technical-failure",
    "refused",
)


def upgrade() -> None:
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(*_KINDS, name="outboxkind", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(*_STATUSES, name="deliverystatus", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column(
            "updated_at", orchestrator.core.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["message_id"], ["outbox_message.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_party_id"), ["party_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_party_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_case_id"))
    op.drop_table("delivery")
