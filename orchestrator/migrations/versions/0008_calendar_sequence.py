"""meeting.calendar_sequence and invitation.last_request_at: one iTIP counter per meeting

Every calendar message that changes anyone's copy of a meeting (a reschedule, a cancel,
removing or adding a person) takes the next SEQUENCE; none is used twice. Existing
meetings start from the highest SEQUENCE any of their invitations was sent.
``last_request_at`` is the DTSTAMP of the newest REQUEST each person was sent, so a reply
without SEQUENCE can be told stale by its own DTSTAMP.

Revision ID: 0008_calendar_sequence
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orchestrator.core.models

revision: str = "0008_calendar_sequence"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_request_at", orchestrator.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute("UPDATE meeting SET calendar_sequence = sequence")
    highest = (
        "(SELECT MAX(invitation.last_sequence_sent) FROM invitation"
        " WHERE invitation.meeting_id = meeting.id)"
    )
    op.execute(
        f"UPDATE meeting SET calendar_sequence = {highest} WHERE {highest} > calendar_sequence"
    )


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_column("last_request_at")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_column("calendar_sequence")
