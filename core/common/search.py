"""Search text kept by the database on tables whose `q` spans joined rows (migration 0109).

`search_text` is the searched fields (e.g. a work order's code and its item's code and name),
lower-cased and joined by the unit separator, written by triggers only. It is part of the table
(and of the ORM metadata, so models and migrations agree) but not of the mapped class: no ORM
object, audit snapshot or response carries it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, Index, Text, func

UNMAPPED: dict[str, Any] = {"exclude_properties": ["search_text"]}
"""`__mapper_args__` of a class whose table has a search text column."""


def escape_like(text_: str) -> str:
    """`text_` with LIKE wildcards escaped (backslash is the escape character).

    >>> escape_like("50%_off")
    '50\\\\%\\\\_off'
    """
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(q: str) -> str:
    """The LIKE pattern of "contains `q`"."""
    return f"%{escape_like(q)}%"


def search_text_column() -> Column[str]:
    """The trigger-maintained column, for a model's `__table_args__`."""
    return Column("search_text", Text, nullable=False, server_default="")


def search_text_index(table: str, leading: str) -> Index:
    """The trigram index that answers `contains` on `table`'s search text, with the list's most
    common filter column first (btree_gin), so a filtered search visits only the rows that pass
    both; either column alone can use it too."""
    return Index(
        f"ix_{table}_search_text_trgm",
        leading,
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def contains(search_text: ColumnElement[str], q: str) -> ColumnElement[bool]:
    """Rows whose search text contains `q`, case-insensitively (the pattern is lower-cased by
    the database, as the text was)."""
    return search_text.like(func.lower(contains_pattern(q)), escape="\\")
