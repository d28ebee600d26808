"""Live MES: state configuration and timeline, equipment status, downtime rules and the link to
automatic downtime, work-order runs, counted parts, OEE per hour, live bookkeeping.

Revision ID: 0401_live
Revises: 0107_downtime_events
Depends on: 0105_work_orders (work_order, work_order_operation)
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0401_live"
down_revision: str | Sequence[str] | None = "0107_downtime_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0105_work_orders"

STOP_CLASSES = "'idle', 'setup', 'blocked', 'starved', 'breakdown', 'planned_maintenance'"


def _now(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [_now("created_at"), _now("updated_at")]


def _equipment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["equipment_id"],
        ["equipment.id"],
        name=op.f(f"fk_{table}_equipment_id_equipment"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "equipment_state_config",
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("state_signal", sa.String(length=200), nullable=True),
        sa.Column("good_signal", sa.String(length=200), nullable=True),
        sa.Column("scrap_signal", sa.String(length=200), nullable=True),
        sa.Column("alarm_signal", sa.String(length=200), nullable=True),
        sa.Column(
            "rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("default_state", sa.SmallInteger(), nullable=False),
        sa.Column("maintenance", sa.String(length=16), nullable=False),
        sa.Column("micro_stop_s", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("startup_s", sa.Numeric(precision=10, scale=3), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "mode IN ('signal', 'rules')", name=op.f("ck_equipment_state_config_mode_known")
        ),
        sa.CheckConstraint(
            "maintenance IN ('auto', 'planned', 'unplanned')",
            name=op.f("ck_equipment_state_config_maintenance_known"),
        ),
        sa.CheckConstraint(
            "default_state BETWEEN 0 AND 6",
            name=op.f("ck_equipment_state_config_default_state_known"),
        ),
        sa.CheckConstraint(
            "micro_stop_s IS NULL OR micro_stop_s >= 0",
            name=op.f("ck_equipment_state_config_micro_stop_positive"),
        ),
        sa.CheckConstraint(
            "startup_s IS NULL OR startup_s >= 0",
            name=op.f("ck_equipment_state_config_startup_positive"),
        ),
        _equipment_fk("equipment_state_config"),
        sa.PrimaryKeyConstraint("equipment_id", name=op.f("pk_equipment_state_config")),
    )
    op.create_table(
        "equipment_state_interval",
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "end_ts > start_ts", name=op.f("ck_equipment_state_interval_end_after_start")
        ),
        sa.CheckConstraint(
            "state BETWEEN -1 AND 6", name=op.f("ck_equipment_state_interval_state_known")
        ),
        _equipment_fk("equipment_state_interval"),
        sa.PrimaryKeyConstraint(
            "equipment_id", "start_ts", name=op.f("pk_equipment_state_interval")
        ),
    )
    op.create_table(
        "equipment_status",
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downtime_event_id", sa.Integer(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        _now("updated_at"),
        _equipment_fk("equipment_status"),
        sa.ForeignKeyConstraint(
            ["downtime_event_id"],
            ["downtime_event.id"],
            name=op.f("fk_equipment_status_downtime_event_id_downtime_event"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_equipment_status_work_order_id_work_order"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["work_order_operation.id"],
            name=op.f("fk_equipment_status_operation_id_work_order_operation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("equipment_id", name=op.f("pk_equipment_status")),
    )
    op.create_index("ix_equipment_status_state", "equipment_status", ["state"])
    op.create_table(
        "downtime_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("stop_class", sa.String(length=24), nullable=False),
        sa.Column("alarm_code", sa.Integer(), nullable=True),
        sa.Column("reason_id", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            f"stop_class IN ({STOP_CLASSES})", name=op.f("ck_downtime_rule_stop_class_known")
        ),
        _equipment_fk("downtime_rule"),
        sa.ForeignKeyConstraint(
            ["reason_id"],
            ["downtime_reason.id"],
            name=op.f("fk_downtime_rule_reason_id_downtime_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downtime_rule")),
    )
    op.create_index("ix_downtime_rule_equipment_id", "downtime_rule", ["equipment_id"])
    op.create_index("ix_downtime_rule_reason_id", "downtime_rule", ["reason_id"])
    op.create_table(
        "auto_downtime",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("stop_class", sa.String(length=24), nullable=False),
        sa.Column("rule_reason_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            f"stop_class IN ({STOP_CLASSES})", name=op.f("ck_auto_downtime_stop_class_known")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["downtime_event.id"],
            name=op.f("fk_auto_downtime_event_id_downtime_event"),
            ondelete="CASCADE",
        ),
        _equipment_fk("auto_downtime"),
        sa.ForeignKeyConstraint(
            ["rule_reason_id"],
            ["downtime_reason.id"],
            name=op.f("fk_auto_downtime_rule_reason_id_downtime_reason"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_auto_downtime")),
    )
    op.create_index("ix_auto_downtime_equipment_id", "auto_downtime", ["equipment_id"])
    op.create_index("ix_auto_downtime_rule_reason_id", "auto_downtime", ["rule_reason_id"])
    op.create_table(
        "work_order_run",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "end_ts IS NULL OR end_ts > start_ts", name=op.f("ck_work_order_run_end_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_work_order_run_work_order_id_work_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["work_order_operation.id"],
            name=op.f("fk_work_order_run_operation_id_work_order_operation"),
            ondelete="CASCADE",
        ),
        _equipment_fk("work_order_run"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_run")),
    )
    op.create_index(
        "ix_work_order_run_equipment_id_start_ts", "work_order_run", ["equipment_id", "start_ts"]
    )
    op.create_index("ix_work_order_run_work_order_id", "work_order_run", ["work_order_id"])
    op.create_index("ix_work_order_run_operation_id", "work_order_run", ["operation_id"])
    op.create_table(
        "production_count",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("scrap", sa.Integer(), nullable=False),
        sa.Column("ideal_cycle_s", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.CheckConstraint(
            "good >= 0 AND scrap >= 0", name=op.f("ck_production_count_counts_non_negative")
        ),
        _equipment_fk("production_count"),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_production_count_work_order_id_work_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["work_order_operation.id"],
            name=op.f("fk_production_count_operation_id_work_order_operation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_count")),
    )
    op.create_index(
        "ix_production_count_equipment_id_minute", "production_count", ["equipment_id", "minute"]
    )
    op.create_index("ix_production_count_work_order_id", "production_count", ["work_order_id"])
    op.create_index("ix_production_count_operation_id", "production_count", ["operation_id"])
    seconds = [
        "calendar_s",
        "planned_stop_s",
        "no_data_s",
        "run_s",
        "micro_stop_s",
    ]
    losses = [
        "stop_equipment_failure_s",
        "stop_setup_adjustment_s",
        "stop_idling_minor_stops_s",
        "stop_reduced_speed_s",
        "stop_process_defects_s",
        "stop_reduced_yield_s",
    ]
    op.create_table(
        "oee_hour",
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        *[sa.Column(name, sa.Double(), nullable=False) for name in seconds],
        sa.Column("micro_stops", sa.Integer(), nullable=False),
        sa.Column("stops", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Double(), nullable=False) for name in losses],
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("scrap", sa.Integer(), nullable=False),
        sa.Column("startup_scrap", sa.Integer(), nullable=False),
        sa.Column("ideal_s", sa.Double(), nullable=False),
        sa.Column("ideal_good_s", sa.Double(), nullable=False),
        sa.Column("ideal_startup_scrap_s", sa.Double(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _equipment_fk("oee_hour"),
        sa.PrimaryKeyConstraint("equipment_id", "hour", name=op.f("pk_oee_hour")),
    )
    op.create_index("ix_oee_hour_hour", "oee_hour", ["hour"])
    op.create_table(
        "live_dirty",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        _now("created_at"),
        _equipment_fk("live_dirty"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_dirty")),
    )
    op.create_index("ix_live_dirty_equipment_id", "live_dirty", ["equipment_id"])
    op.create_table(
        "live_snapshot",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_live_snapshot")),
    )


def downgrade() -> None:
    for table in (
        "live_snapshot",
        "live_dirty",
        "oee_hour",
        "production_count",
        "work_order_run",
        "auto_downtime",
        "downtime_rule",
        "equipment_status",
        "equipment_state_interval",
        "equipment_state_config",
    ):
        op.drop_table(table)
