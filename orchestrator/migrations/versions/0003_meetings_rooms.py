"""meetings and rooms: phone PINs, provider room ids, caucus members, call ids

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone_pin", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_invitation_phone_pin"), ["phone_pin"], unique=False)

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mediator_pin", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_meeting_mediator_pin"), ["mediator_pin"], unique=False)

    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "provider_room_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
            )
        )
        batch_op.add_column(sa.Column("party_ids", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_room_room_key"), ["room_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_room_provider_room_id"), ["provider_room_id"], unique=False
        )

    with op.batch_alter_table("participant_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("participant_event", schema=None) as batch_op:
        batch_op.drop_column("call_id")

    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_provider_room_id"))
        batch_op.drop_index(batch_op.f("ix_room_room_key"))
        batch_op.drop_column("party_ids")
        batch_op.drop_column("provider_room_id")

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_mediator_pin"))
        batch_op.drop_column("mediator_pin")

    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_phone_pin"))
        batch_op.drop_column("phone_pin")
