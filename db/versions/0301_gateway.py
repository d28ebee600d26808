"""Gateway: device link state for the monitoring pages, and text readings.

Revision ID: 0301_gateway
Revises: 0003_items
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301_gateway"
down_revision: str | Sequence[str] | None = "0003_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_device_link",
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reconnect_count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_data_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('connected', 'disconnected', 'backoff')",
            name=op.f("ck_gateway_device_link_state_known"),
        ),
        sa.PrimaryKeyConstraint("gateway_id", "device", name=op.f("pk_gateway_device_link")),
    )
    op.create_table(
        "reading_text",
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("quality", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("signal_id", "ts", name=op.f("pk_reading_text")),
    )
    op.execute(
        "COMMENT ON TABLE reading_text IS 'Readings of text signals (e.g. recipe or serial "
        "numbers), same keys and quality as reading'"
    )


def downgrade() -> None:
    op.drop_table("reading_text")
    op.drop_table("gateway_device_link")
