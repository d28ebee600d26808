"""Planned-time calendar: shift patterns, shifts, breaks, non-working periods, assignments.

Revision ID: 0106_calendar
Revises: 0105_work_orders
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0106_calendar"
down_revision: str | Sequence[str] | None = "0105_work_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # equality on integers inside GiST exclusion constraints
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "shift_pattern",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_pattern")),
        sa.UniqueConstraint("code", name=op.f("uq_shift_pattern_code")),
    )
    op.create_table(
        "shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pattern_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("days", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
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
        sa.CheckConstraint("cardinality(days) BETWEEN 1 AND 7", name=op.f("ck_shift_days_given")),
        sa.CheckConstraint(
            "days <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name=op.f("ck_shift_days_iso")
        ),
        sa.ForeignKeyConstraint(
            ["pattern_id"],
            ["shift_pattern.id"],
            name=op.f("fk_shift_pattern_id_shift_pattern"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift")),
        sa.UniqueConstraint("pattern_id", "code", name=op.f("uq_shift_pattern_id_code")),
    )
    op.create_table(
        "shift_break",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint("start_time <> end_time", name=op.f("ck_shift_break_not_empty")),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["shift.id"],
            name=op.f("fk_shift_break_shift_id_shift"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_break")),
    )
    op.create_index("ix_shift_break_shift_id", "shift_break", ["shift_id"])
    op.create_table(
        "non_working_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pattern_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.CheckConstraint("end_ts > start_ts", name=op.f("ck_non_working_period_end_after_start")),
        sa.ForeignKeyConstraint(
            ["pattern_id"],
            ["shift_pattern.id"],
            name=op.f("fk_non_working_period_pattern_id_shift_pattern"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_non_working_period")),
    )
    op.create_index(
        "ix_non_working_period_pattern_id", "non_working_period", ["pattern_id", "start_ts"]
    )
    op.create_table(
        "calendar_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("pattern_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
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
            (sa.text("daterange(valid_from, valid_to, '[)')"), "&&"),
            using="gist",
            name="ex_calendar_assignment_no_overlap",
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_calendar_assignment_range_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_calendar_assignment_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["pattern_id"],
            ["shift_pattern.id"],
            name=op.f("fk_calendar_assignment_pattern_id_shift_pattern"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_assignment")),
    )
    op.create_index("ix_calendar_assignment_pattern_id", "calendar_assignment", ["pattern_id"])


def downgrade() -> None:
    op.drop_table("calendar_assignment")
    op.drop_table("non_working_period")
    op.drop_table("shift_break")
    op.drop_table("shift")
    op.drop_table("shift_pattern")
