"""referrals: a family's own referral, before a scheduler accepts it into a case

Revision ID: 0011_referral_self_referrals
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import orchestrator.core.models

revision: str = "0011_referral_self_referrals"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=40)


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("who", _enum("referrer", "parent_carer", "young_person"), nullable=False),
        sa.Column("name", text(length=200), nullable=False),
        sa.Column("contact_by", _enum("contactby", "email", "phone", "letter"), nullable=False),
        sa.Column("email", text(length=320), nullable=True),
        sa.Column("phone", text(length=40), nullable=True),
        sa.Column("address", text(length=500), nullable=True),
        sa.Column("best_times", text(length=500), nullable=True),
        sa.Column("local_authority", text(length=200), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column(
            "wants",
            _enum("referralwants", "mediation", "disagreement_resolution", "mias_certificate"),
            nullable=False,
        ),
        sa.Column("referral_date", sa.Date(), nullable=False),
        sa.Column("young_person_since", sa.Date(), nullable=True),
        sa.Column("invite_parent", sa.Boolean(), nullable=False),
        sa.Column("parent_name", text(length=200), nullable=True),
        sa.Column("parent_email", text(length=320), nullable=True),
        sa.Column("parent_phone", text(length=40), nullable=True),
        sa.Column("issues", sa.JSON(), nullable=True),
        sa.Column(
            "status", _enum("referralstatus", "new", "accepted", "declined"), nullable=False
        ),
        sa.Column(
            "created_at", orchestrator.core.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "decided_at", orchestrator.core.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("decided_by", text(length=100), nullable=True),
        sa.Column("decline_reason", text(length=500), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_referral_status"), "referral", ["status"], unique=False)
    op.create_index(op.f("ix_referral_case_id"), "referral", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_case_id"), table_name="referral")
    op.drop_index(op.f("ix_referral_status"), table_name="referral")
    op.drop_table("referral")
