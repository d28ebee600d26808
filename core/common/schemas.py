"""Schema types shared by the domains."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._/-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total that matched and the window asked for."""

    items: list[T]
    total: int = Field(ge=0, description="rows matching the search and filters")
    limit: int
    offset: int


class OrmModel(BaseModel):
    """Base of response schemas read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)
