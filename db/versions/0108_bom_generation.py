"""BOM generation counter: bumped by every write to the tables a BOM explosion reads.

API processes cache explosion and where-used results per process and serve an entry only while
the counter still has the value it was computed under. The counter takes a new value of a
sequence on every write statement, so a value is never reused (a rolled-back change cannot make
an entry of its own uncommitted state valid for another one), and it is updated in the writer's
transaction, so readers see the new value exactly when they see the new data.

Revision ID: 0108_bom_generation
Revises: 0107_downtime_events
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0108_bom_generation"
down_revision: str | Sequence[str] | None = "0107_downtime_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = ("item", "bom", "bom_line")  # every table the explosion and where-used queries read


def upgrade() -> None:
    op.execute("CREATE SEQUENCE bom_generation_seq")
    op.create_table(
        "bom_generation",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_bom_generation_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_generation")),
    )
    op.execute("INSERT INTO bom_generation (id, value) VALUES (1, nextval('bom_generation_seq'))")
    op.execute(
        """
        CREATE FUNCTION bom_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE bom_generation SET value = nextval('bom_generation_seq') WHERE id = 1;
            RETURN NULL;
        END
        $$
        """
    )
    for table in WATCHED:
        op.execute(
            f"CREATE TRIGGER {table}_bom_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bom_generation_bump()"
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_bom_generation ON {table}")
    op.execute("DROP FUNCTION bom_generation_bump()")
    op.drop_table("bom_generation")
    op.execute("DROP SEQUENCE bom_generation_seq")
