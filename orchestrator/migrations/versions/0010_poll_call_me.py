"""polls: "none of these work, call me" as an answer, and who entered answers for a party

Revision ID: 0010_poll_call_me
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_poll_call_me"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("poll_response", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_me", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("entered_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table("poll_answer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("entered_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("poll_answer", schema=None) as batch_op:
        batch_op.drop_column("entered_by")
    with op.batch_alter_table("poll_response", schema=None) as batch_op:
        batch_op.drop_column("entered_by")
        batch_op.drop_column("call_me")
