"""icb notice: the day the health commissioners (ICB) were told

``case.icb_notified_on``: where health care provision is in issue, the LA tells the ICB
within 3 working days of being told; staff record the day it did, and the clock shows as
met (or late) instead of running on. Empty until recorded.

Revision ID: 0008_icb_notice
Revises: 0008_clocks
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_icb_notice"
down_revision: str | None = "0008_clocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("icb_notified_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("icb_notified_on")
