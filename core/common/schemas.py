"""Schema types shared by the domains."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._/-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _number(value: Decimal) -> float | int:
    """JSON number for a quantity: integral values as int, others as float."""
    return int(value) if value == value.to_integral_value() else float(value)


Quantity = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=6),
    PlainSerializer(_number, return_type=float, when_used="json"),
]
"""A quantity: exact Decimal inside (NUMERIC(18, 6) in the database), a JSON number outside."""


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total that matched and the window asked for."""

    items: list[T]
    total: int = Field(ge=0, description="rows matching the search and filters")
    limit: int
    offset: int


class PatchModel(BaseModel):
    """Base of PATCH bodies: only the fields sent change; `null` only for fields in `nullable`."""

    model_config = ConfigDict(extra="forbid")
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> PatchModel:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable:
                raise PydanticCustomError(
                    "null_not_allowed", "{field} cannot be null", {"field": name}
                )
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their values."""
        return self.model_dump(exclude_unset=True)


class OrmModel(BaseModel):
    """Base of response schemas read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """A copy of the first whole-model example of `model` (its `json_schema_extra`)."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list) or not examples:
        raise TypeError(f"{model.__name__} has no whole-model example")
    first = examples[0]
    if not isinstance(first, dict):
        raise TypeError(f"{model.__name__}'s first example is not an object")
    return dict(first)


def detail_example(parent: type[BaseModel], **children: type[BaseModel]) -> ConfigDict:
    """The config of a detail model: the parent's example with one example of each child list
    (`lines=BomLineOut` adds `"lines": [<a BomLineOut example>]`)."""
    example = example_of(parent) | {key: [example_of(m)] for key, m in children.items()}
    return ConfigDict(json_schema_extra={"examples": [example]})
