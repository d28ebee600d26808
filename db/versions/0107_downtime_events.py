"""Downtime events per equipment (never overlapping: GiST exclusion constraint).

Revision ID: 0107_downtime_events
Revises: 0106_calendar
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0107_downtime_events"
down_revision: str | Sequence[str] | None = "0106_calendar"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "downtime_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason_id", sa.Integer(), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("equipment_id"), "="),
            (sa.text("tstzrange(start_ts, end_ts, '[)')"), "&&"),
            using="gist",
            name="ex_downtime_event_no_overlap",
        ),
        sa.CheckConstraint(
            "source IN ('manual', 'auto')", name=op.f("ck_downtime_event_source_known")
        ),
        sa.CheckConstraint(
            "end_ts IS NULL OR end_ts > start_ts", name=op.f("ck_downtime_event_end_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_downtime_event_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["reason_id"],
            ["downtime_reason.id"],
            name=op.f("fk_downtime_event_reason_id_downtime_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downtime_event")),
    )
    op.create_index(
        "ix_downtime_event_equipment_id_start_ts", "downtime_event", ["equipment_id", "start_ts"]
    )
    op.create_index("ix_downtime_event_reason_id", "downtime_event", ["reason_id"])
    op.create_index("ix_downtime_event_start_ts", "downtime_event", ["start_ts"])


def downgrade() -> None:
    op.drop_table("downtime_event")
