"""availability polls: each poll link names the poll it answers

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_link_poll_id"), ["poll_id"], unique=False)
        batch_op.create_foreign_key("fk_link_poll_id_poll", "poll", ["poll_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.drop_constraint("fk_link_poll_id_poll", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_link_poll_id"))
        batch_op.drop_column("poll_id")
