"""party address: the postal address letters go to, for people with no email and no mobile

Two nullable columns on ``party``: the address lines above the postcode (one per line)
and the postcode. Nothing else about a person's home is kept.

Revision ID: 0011_letters_party_address
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_letters_party_address"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "postal_address", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.drop_column("postcode")
        batch_op.drop_column("postal_address")
