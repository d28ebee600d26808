"""CSV export of report rows."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel


def to_csv(rows: Sequence[BaseModel], columns: Sequence[str]) -> str:
    """One header line, then one line per row (empty cells for None).

    >>> from core.reports.schemas import ParetoRow
    >>> print(to_csv([ParetoRow(key="A", label="a", count=1, value=2.5, share_pct=100,
    ...                         cumulative_pct=100)], ["key", "value"]), end="")
    key,value
    A,2.5
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump()
        writer.writerow([cell(data.get(c)) for c in columns])
    return buffer.getvalue()


def cell(value: Any) -> str:
    """Text of one CSV cell: exact decimals without trailing zeros, ISO dates.

    >>> cell(Decimal("20.000000")), cell(Decimal("0.120")), cell(None), cell(date(2026, 12, 1))
    ('20', '0.12', '', '2026-12-01')
    """
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def csv_response(body: str, filename: str) -> Response:
    """A text/csv download."""
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or as CSV with `format=csv`",
        "content": {"text/csv": {"schema": {"type": "string"}, "example": "key,value\nA,2.5\n"}},
    }
}
