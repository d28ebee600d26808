"""BOM changes: which items each new BOM generation changed.

Until now a new `bom_generation` said only that something changed, so every process dropped
every cached explosion after any BOM or item edit, however unrelated. Each new generation now
also records, in `bom_change`, the items whose explosion inputs it changed:

- a write to `bom` (the columns an answer reads: item, version, status, quantity, effective
  days) or to `bom_line`: the item of the BOM version;
- an item's code, name or unit changed, or the item deleted: the item itself;
- TRUNCATE of any of the three tables: a row with no item (everything changed).

A cached explosion of item T stays valid across generations whose changed items are none of
the items in its tree; one that contains a changed item is patched by walking only the changed
items' subtrees again (core.bom.structures).

Statements that change none of those columns no longer take a new generation at all (an edited
description, a save of identical values). Generations still come from one row updated in the
writer's transaction, so they are committed in increasing order and a reader that sees a
generation sees every `bom_change` row up to it. Rows older than `KEPT` generations are deleted
by the writers; a reader further behind than that treats everything as changed.

Revision ID: 0111_bom_changes
Revises: 0110_bom_generation_item_columns
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0111_bom_changes"
down_revision: str | Sequence[str] | None = "0110_bom_generation_item_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEPT = 100_000  # generations of changes kept (core.bom.structures.CHANGES_KEPT)

EVERYTHING = "ARRAY[NULL]::integer[]"

# (table, event, items the statement changed: an integer[] from its transition tables)
CHANGED_ITEMS = {
    ("item", "UPDATE"): """SELECT array_agg(n.id) FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.code, n.name, n.unit) IS DISTINCT FROM (o.code, o.name, o.unit)""",
    ("item", "DELETE"): "SELECT array_agg(id) FROM old_rows",
    ("bom", "INSERT"): "SELECT array_agg(DISTINCT item_id) FROM new_rows",
    ("bom", "UPDATE"): """SELECT array_agg(DISTINCT i)
        FROM new_rows n JOIN old_rows o ON o.id = n.id, unnest(ARRAY[n.item_id, o.item_id]) i
        WHERE (n.item_id, n.version, n.status, n.quantity, n.effective_from, n.effective_to)
            IS DISTINCT FROM
              (o.item_id, o.version, o.status, o.quantity, o.effective_from, o.effective_to)""",
    ("bom", "DELETE"): "SELECT array_agg(DISTINCT item_id) FROM old_rows",
    ("bom_line", "INSERT"): """SELECT array_agg(DISTINCT b.item_id) FROM bom b
        WHERE b.id IN (SELECT bom_id FROM new_rows)""",
    ("bom_line", "UPDATE"): """SELECT array_agg(DISTINCT b.item_id) FROM bom b
        WHERE b.id IN (SELECT bom_id FROM new_rows UNION SELECT bom_id FROM old_rows)""",
    ("bom_line", "DELETE"): """SELECT array_agg(DISTINCT b.item_id) FROM bom b
        WHERE b.id IN (SELECT bom_id FROM old_rows)""",
}
TABLES = ("item", "bom", "bom_line")


def _referencing(event: str) -> str:
    old = "OLD TABLE AS old_rows" if event in ("UPDATE", "DELETE") else ""
    new = "NEW TABLE AS new_rows" if event in ("UPDATE", "INSERT") else ""
    return f"REFERENCING {old} {new}"


def upgrade() -> None:
    op.create_table(
        "bom_change",
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_bom_change_generation", "bom_change", ["generation"])
    op.execute(
        f"""
        CREATE FUNCTION bom_changed(items integer[]) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            g bigint;
        BEGIN
            UPDATE bom_generation SET value = nextval('bom_generation_seq') WHERE id = 1
                RETURNING value INTO g;
            INSERT INTO bom_change (generation, item_id) SELECT g, unnest(items);
            DELETE FROM bom_change WHERE generation <= g - {KEPT};
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_bom_generation ON {table}")
    for (table, event), changed in CHANGED_ITEMS.items():
        name = f"{table}_bom_change_{event.lower()}"
        op.execute(
            f"""
            CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                items integer[];
            BEGIN
                {changed} INTO items;
                IF items IS NOT NULL THEN
                    PERFORM bom_changed(items);
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {_referencing(event)} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(
        f"""
        CREATE FUNCTION bom_change_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM bom_changed({EVERYTHING});
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_bom_change_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bom_change_truncate()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_bom_change_truncate ON {table}")
    op.execute("DROP FUNCTION bom_change_truncate()")
    for table, event in CHANGED_ITEMS:
        name = f"{table}_bom_change_{event.lower()}"
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute("DROP FUNCTION bom_changed(integer[])")
    op.drop_table("bom_change")
    op.execute(
        "CREATE TRIGGER item_bom_generation AFTER UPDATE OF code, name, unit OR DELETE OR "
        "TRUNCATE ON item FOR EACH STATEMENT EXECUTE FUNCTION bom_generation_bump()"
    )
    for table in ("bom", "bom_line"):
        op.execute(
            f"CREATE TRIGGER {table}_bom_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bom_generation_bump()"
        )
