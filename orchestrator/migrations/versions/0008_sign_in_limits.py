"""sign-in and link limits shared by replicas; one live set-password link per user

``throttle_bucket`` keeps failed-attempt counts where every replica sees them;
``staff_user.set_password_link`` names the only set-password link that still works.

Revision ID: 0008_sign_in_limits
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sign_in_limits"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_bucket",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_throttle_bucket_at", "throttle_bucket", ["at"], unique=False)
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("set_password_link", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("set_password_link")
    op.drop_index("ix_throttle_bucket_at", table_name="throttle_bucket")
    op.drop_table("throttle_bucket")
