"""BOM generation: an item write bumps it only when it can change an answer.

Explosion and where-used answers read an item's code, name and unit, nothing else of it. Until
now every write to `item` bumped the counter, so a planner changing a safety stock or a lead
time, or anyone creating an item, made every process compute its cached BOM answers again.
An inserted item is in no BOM until a `bom_line` names it (and that insert bumps the counter);
a deleted or truncated one still bumps it.

Revision ID: 0110_bom_generation_item_columns
Revises: 0109_search_text
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0110_bom_generation_item_columns"
down_revision: str | Sequence[str] | None = "0109_search_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = ("code", "name", "unit")  # the item columns an explosion or where-used answer shows


def _trigger(events: str) -> None:
    op.execute("DROP TRIGGER item_bom_generation ON item")
    op.execute(
        f"CREATE TRIGGER item_bom_generation AFTER {events} ON item "
        "FOR EACH STATEMENT EXECUTE FUNCTION bom_generation_bump()"
    )


def upgrade() -> None:
    _trigger(f"UPDATE OF {', '.join(ANSWERED)} OR DELETE OR TRUNCATE")


def downgrade() -> None:
    _trigger("INSERT OR UPDATE OR DELETE OR TRUNCATE")
