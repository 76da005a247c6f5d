"""mediator records: every mediator's staff account acts as a mediator record

``orchestrator users add --role mediator`` used to make the staff account alone, so the
mediator never appeared in any case's mediator list and had no sessions. Each such account
now gets its record, as the admin page always gave one: a record with their email that no
account acts as yet is linked to them; otherwise a new record with the panel's defaults
(one session a day, 30 minutes between) is made, active when the account is.

Schema unchanged. Downgrade keeps the records: by then cases may be assigned to them.

Revision ID: 0009_mediator_records
Revises: the heads of 0008
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import orchestrator.core.models

revision: str = "0009_mediator_records"
down_revision: str | Sequence[str] | None = (
    "0002",
    "0004",
    "0006",
    "0007",
    "0008_calendar_sequence",
    "0008_case_states",
    "0008_icb_notice",
    "0008_idempotency_keys",
    "0008_sign_in_limits",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

staff_user = sa.table(
    "staff_user",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
)
mediator = sa.table(
    "mediator",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("email", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("max_sessions_per_day", sa.Integer()),
    sa.column("buffer_minutes", sa.Integer()),
    sa.column("user_id", sa.Uuid()),
    sa.column("calendar", sa.JSON()),
    sa.column("working_hours", sa.JSON()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", orchestrator.core.models.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    linked = sa.select(mediator.c.user_id).where(mediator.c.user_id.is_not(None))
    accounts = bind.execute(
        sa.select(staff_user.c.id, staff_user.c.email, staff_user.c.name, staff_user.c.active)
        .where(staff_user.c.role == "mediator", staff_user.c.id.not_in(linked))
        .order_by(staff_user.c.email)
    ).all()
    now = datetime.now(UTC)
    for user_id, email, name, active in accounts:
        unlinked = bind.scalar(
            sa.select(mediator.c.id)
            .where(mediator.c.user_id.is_(None), sa.func.lower(mediator.c.email) == email.lower())
            .order_by(mediator.c.created_at)
            .limit(1)
        )
        if unlinked is not None:
            bind.execute(mediator.update().where(mediator.c.id == unlinked).values(user_id=user_id))
            continue
        bind.execute(
            mediator.insert().values(
                id=uuid.uuid4(),
                name=name or email,
                email=email,
                phone=None,
                max_sessions_per_day=1,
                buffer_minutes=30,
                user_id=user_id,
                calendar=None,
                working_hours=None,
                active=active,
                created_at=now,
            )
        )


def downgrade() -> None:
    """Nothing to undo: the records are the mediators now, and cases may name them."""
