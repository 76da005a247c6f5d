"""case states: each change of status a row; no state stored twice

- ``case_status_change``: one row per change of a case's status (from, to, cause, actor, at).
- ``case.closed_at``: now written when a case is closed or withdrawn; cases closed before
  take the time of their last change (what the retention clock used until now).
- ``case.certificate_issued_on`` goes: the day a certificate was issued is the
  certificate's ``issued_at``. Every value had its certificate row (both were written in
  one transaction); a value without one stops the upgrade, so nothing is lost.
- A joint room's provider room was kept twice, on the meeting and on its main ``room``
  row; the meeting's copy stays. A main room's copy of the meeting's current room (same
  room key) fills a meeting that lacks one; a copy of a room since moved away from is
  the old room, already queued to end, and goes.

Revision ID: 0008_case_states
Revises: 0005
"""

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

import orchestrator.core.models

revision: str = "0008_case_states"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASE_STATUS = sa.Enum(
    "referred",
    "negotiating",
    "booked",
    "held",
    "outcome_recorded",
    "certificate_issued",
    "closed",
    "withdrawn",
    name="casestatus",
    native_enum=False,
    length=40,
)
CAUSE = sa.Enum(
    "availability_requested",
    "meeting_booked",
    "meeting_cancelled",
    "session_ended",
    "outcome_recorded",
    "consent_declined",
    "certificate_issued",
    "staff",
    name="casestatuscause",
    native_enum=False,
    length=40,
)

case = sa.table(
    "case",
    sa.column("id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("timezone", sa.String()),
    sa.column("updated_at", orchestrator.core.models.UTCDateTime(timezone=True)),
    sa.column("closed_at", orchestrator.core.models.UTCDateTime(timezone=True)),
    sa.column("certificate_issued_on", sa.Date()),
)
meeting = sa.table(
    "meeting",
    sa.column("id", sa.Uuid()),
    sa.column("room_key", sa.String()),
    sa.column("provider_room", sa.JSON()),
)
room = sa.table(
    "room",
    sa.column("meeting_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("room_key", sa.String()),
    sa.column("provider_room", sa.JSON()),
)
certificate = sa.table(
    "certificate",
    sa.column("case_id", sa.Uuid()),
    sa.column("issued_at", orchestrator.core.models.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "case_status_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", CASE_STATUS, nullable=False),
        sa.Column("to_status", CASE_STATUS, nullable=False),
        sa.Column("cause", CAUSE, nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("at", orchestrator.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_status_change_case_id"), ["case_id"], unique=False
        )

    bind = op.get_bind()
    bind.execute(
        case.update()
        .where(case.c.status.in_(("closed", "withdrawn")), case.c.closed_at.is_(None))
        .values(closed_at=case.c.updated_at)
    )
    has_certificate = (
        sa.select(certificate.c.case_id).where(certificate.c.case_id == case.c.id).exists()
    )
    orphans = bind.scalar(
        sa.select(sa.func.count())
        .select_from(case)
        .where(case.c.certificate_issued_on.is_not(None), ~has_certificate)
    )
    if orphans:
        raise RuntimeError(
            f"{orphans} case(s) record a certificate issue date but hold no certificate; "
            "issue (or restore) their certificates, then migrate again"
        )
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("certificate_issued_on")

    # JSON columns hold None as JSON null or SQL NULL: both read back as None.
    rows = bind.execute(
        sa.select(
            meeting.c.id,
            meeting.c.room_key,
            meeting.c.provider_room,
            room.c.room_key,
            room.c.provider_room,
        ).join(room, sa.and_(room.c.meeting_id == meeting.c.id, room.c.kind == "main"))
    ).all()
    for meeting_id, meeting_key, kept, main_key, copy in rows:
        if kept is None and copy is not None and main_key == meeting_key:
            bind.execute(
                meeting.update().where(meeting.c.id == meeting_id).values(provider_room=copy)
            )
    bind.execute(room.update().where(room.c.kind == "main").values(provider_room=None))


def downgrade() -> None:
    bind = op.get_bind()
    for meeting_id, provider_room in bind.execute(
        sa.select(meeting.c.id, meeting.c.provider_room)
    ).all():
        if provider_room is not None:
            bind.execute(
                room.update()
                .where(room.c.meeting_id == meeting_id, room.c.kind == "main")
                .values(provider_room=provider_room)
            )

    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("certificate_issued_on", sa.Date(), nullable=True))
    latest = bind.execute(
        sa.select(case.c.id, case.c.timezone, sa.func.max(certificate.c.issued_at))
        .join(certificate, certificate.c.case_id == case.c.id)
        .group_by(case.c.id, case.c.timezone)
    ).all()
    for case_id, zone, issued_at in latest:
        issued_on: date = _as_utc(issued_at).astimezone(ZoneInfo(zone)).date()
        bind.execute(
            case.update().where(case.c.id == case_id).values(certificate_issued_on=issued_on)
        )

    with op.batch_alter_table("case_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_status_change_case_id"))
    op.drop_table("case_status_change")


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))
