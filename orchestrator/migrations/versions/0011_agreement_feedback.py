"""the written agreement, its actions and answers; feedback after the meeting

Revision ID: 0011_agreement_feedback
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from orchestrator.core.models.columns import UTCDateTime

revision: str = "0011_agreement_feedback"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issues", sa.JSON(), nullable=True),
        sa.Column("agreed_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("asked", sa.JSON(), nullable=True),
        sa.Column("drafted_by", sa.Uuid(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("final_at", UTCDateTime(), nullable=True),
        sa.Column("document_path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["drafted_by"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id"),
    )
    op.create_index(op.f("ix_agreement_case_id"), "agreement", ["case_id"], unique=False)
    op.create_table(
        "agreement_action",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("owner_party_id", sa.Uuid(), nullable=True),
        sa.Column("owner_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["owner_party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_agreement_action_agreement_id"), "agreement_action", ["agreement_id"]
    )
    op.create_index(op.f("ix_agreement_action_case_id"), "agreement_action", ["case_id"])
    op.create_index(op.f("ix_agreement_action_due_on"), "agreement_action", ["due_on"])
    op.create_table(
        "agreement_response",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agreement_id"], ["agreement.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "party_id", "version"),
    )
    op.create_index(
        op.f("ix_agreement_response_agreement_id"), "agreement_response", ["agreement_id"]
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=False),
        sa.Column("listened", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("may_quote", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "party_id"),
    )
    op.create_index(op.f("ix_feedback_case_id"), "feedback", ["case_id"])
    op.create_index(op.f("ix_feedback_meeting_id"), "feedback", ["meeting_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("agreement_response")
    op.drop_table("agreement_action")
    op.drop_table("agreement")
