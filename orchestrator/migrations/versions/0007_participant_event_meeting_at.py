"""participant_event: one (meeting_id, at) index instead of two single-column ones

Every read of attendance is one meeting's events in time order, and a join click is the
busiest write of the service: one composite index serves the reads and costs the write
one index fewer.

Revision ID: 0007
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_participant_event_meeting_at", "participant_event", ["meeting_id", "at"], unique=False
    )
    op.drop_index("ix_participant_event_meeting_id", table_name="participant_event")
    op.drop_index("ix_participant_event_at", table_name="participant_event")


def downgrade() -> None:
    op.create_index("ix_participant_event_at", "participant_event", ["at"], unique=False)
    op.create_index(
        "ix_participant_event_meeting_id", "participant_event", ["meeting_id"], unique=False
    )
    op.drop_index("ix_participant_event_meeting_at", table_name="participant_event")
