"""Search text kept on work orders and stock rows, so one trigram index answers a broad `q`.

A work order is found by its code, its item's code or its item's name; a stock row by its
item's code or name or its lot's code. Matching the item first and then descending the
`item_id` index once per matching item costs ~35 ms for a broad word on 10^5 orders (ADR 0043).
`search_text` holds those fields lower-cased, joined by the unit separator (chr 31, so a search
cannot match across two fields), and a GIN trigram index on it finds the rows in one bitmap.
The index leads with the list's usual filter (a work order's status, a stock row's location),
so a filtered search reads only the rows that pass both.

Triggers keep it true: the row's own trigger computes it on insert and when its code, item or
lot changes; item and lot triggers rewrite the rows of an item or lot whose code or name
changes.

Revision ID: 0109_search_text
Revises: 0108_bom_generation, 0203_work_order_links (joins the production and inventory chains:
it needs work_order, stock and lot)
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0109_search_text"
down_revision: str | Sequence[str] | None = ("0108_bom_generation", "0203_work_order_links")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("work_order", "stock")
LEADING = {"work_order": "status", "stock": "location_id"}  # the lists' usual filter

FUNCTIONS = [
    """
    CREATE FUNCTION mes_search_text(VARIADIC parts text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT lower(array_to_string(parts, chr(31))) $$
    """,
    """
    CREATE FUNCTION work_order_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT mes_search_text(NEW.code, i.code, i.name) INTO NEW.search_text
        FROM item i WHERE i.id = NEW.item_id;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE FUNCTION stock_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        SELECT mes_search_text(i.code, i.name, (SELECT l.code FROM lot l WHERE l.id = NEW.lot_id))
        INTO NEW.search_text FROM item i WHERE i.id = NEW.item_id;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE FUNCTION item_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE work_order w SET search_text = mes_search_text(w.code, NEW.code, NEW.name)
        WHERE w.item_id = NEW.id;
        UPDATE stock s
        SET search_text = mes_search_text(
            NEW.code, NEW.name, (SELECT l.code FROM lot l WHERE l.id = s.lot_id))
        WHERE s.item_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION lot_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE stock s SET search_text = mes_search_text(i.code, i.name, NEW.code)
        FROM item i WHERE s.lot_id = NEW.id AND i.id = s.item_id;
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    "CREATE TRIGGER work_order_search_text BEFORE INSERT OR UPDATE OF code, item_id "
    "ON work_order FOR EACH ROW EXECUTE FUNCTION work_order_search_text()",
    "CREATE TRIGGER stock_search_text BEFORE INSERT OR UPDATE OF item_id, lot_id "
    "ON stock FOR EACH ROW EXECUTE FUNCTION stock_search_text()",
    "CREATE TRIGGER item_search_text AFTER UPDATE OF code, name ON item FOR EACH ROW "
    "WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.name IS DISTINCT FROM NEW.name) "
    "EXECUTE FUNCTION item_search_text()",
    "CREATE TRIGGER lot_search_text AFTER UPDATE OF code ON lot FOR EACH ROW "
    "WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION lot_search_text()",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")  # a plain column in a GIN index
    for table in TABLES:
        op.add_column(table, sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    for statement in FUNCTIONS + TRIGGERS:
        op.execute(statement)
    # room on each page for a changed quantity: most stock updates stay heap-only (HOT) and
    # write no index entry, the search text's GIN index included
    op.execute("ALTER TABLE stock SET (fillfactor = 80)")
    op.execute(
        "UPDATE work_order w SET search_text = mes_search_text(w.code, i.code, i.name) "
        "FROM item i WHERE i.id = w.item_id"
    )
    op.execute(
        "UPDATE stock s SET search_text = mes_search_text("
        "i.code, i.name, (SELECT l.code FROM lot l WHERE l.id = s.lot_id)) "
        "FROM item i WHERE i.id = s.item_id"
    )
    for table in TABLES:
        op.create_index(
            op.f(f"ix_{table}_search_text_trgm"),
            table,
            [LEADING[table], "search_text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_search_text_trgm"), table_name=table)
    for trigger, table in (
        ("lot_search_text", "lot"),
        ("item_search_text", "item"),
        ("stock_search_text", "stock"),
        ("work_order_search_text", "work_order"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "lot_search_text()",
        "item_search_text()",
        "stock_search_text()",
        "work_order_search_text()",
        "mes_search_text(text[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("ALTER TABLE stock RESET (fillfactor)")
    for table in TABLES:
        op.drop_column(table, "search_text")
    op.execute("DROP EXTENSION IF EXISTS btree_gin")
