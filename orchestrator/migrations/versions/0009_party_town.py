"""parties: the town a person lives or works in, for choosing an in-person venue near them

Revision ID: 0009_party_town
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_party_town"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.add_column(sa.Column("town", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.drop_column("town")
