"""Telemetry schema: signal registry, narrow readings, rollups; TimescaleDB when available.

Revision ID: 0001_telemetry
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from db import telemetry_ddl as ddl

revision: str = "0001_telemetry"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    options = op.get_context().config.attributes  # type: ignore[union-attr]
    mode = options["timescaledb"]
    available = bind.execute(sa.text(ddl.TIMESCALE_PROBE)).first() is not None
    backend = ddl.choose_backend(mode, available)
    op.execute(ddl.COMMON)
    if backend == "timescaledb":
        op.execute(
            ddl.TIMESCALE.format(
                compress_after_days=int(options["compress_after_days"]),
                retention_days=int(options["retention_days"]),
            )
        )
        with op.get_context().autocommit_block():
            for statement in ddl.TIMESCALE_AGGREGATES:
                op.execute(statement)
    else:
        op.execute(ddl.PLAIN)
        today = datetime.now(UTC).date()
        op.execute(
            sa.text("SELECT mes_telemetry_ensure_partitions(:a, :b)").bindparams(
                a=today - timedelta(days=1), b=today + timedelta(days=8)
            )
        )
    op.execute(
        sa.text("INSERT INTO mes_meta (key, value) VALUES ('telemetry_backend', :b)").bindparams(
            b=backend
        )
    )


def downgrade() -> None:
    backend = (
        op.get_bind()
        .execute(sa.text("SELECT value FROM mes_meta WHERE key = 'telemetry_backend'"))
        .scalar()
    )
    op.execute(ddl.DROP_TIMESCALE if backend == "timescaledb" else ddl.DROP_PLAIN)
    op.execute(ddl.DROP_COMMON)
