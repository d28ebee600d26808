"""The whole /api/v1 OpenAPI description is a product: every operation of every tag summarised and
described with error responses, every schema it uses has an example, and every whole-schema
example is a valid instance of its own model. The tags come from the description itself, so a
new router is checked as soon as it is mounted."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from core.audit.schemas import AuditEventOut
from core.inventory import schemas as inventory
from core.items.schemas import ItemOut
from core.quality import schemas as quality
from tests.support.openapi import operation_problems, operations, schemas_without_example

# tags that must be present: a floor, not the whole list
EXPECTED = {"items", "inventory", "quality", "audit", "bom", "work-orders"}


# responses whose examples show every field, nulls included
COMPLETE = [
    AuditEventOut,
    ItemOut,
    inventory.LocationOut,
    inventory.LotOut,
    inventory.TransactionOut,
    inventory.StockOut,
    inventory.OnHandPart,
    inventory.ItemOnHand,
    inventory.TraceNode,
    inventory.TraceLot,
    inventory.Trace,
    quality.CharacteristicOut,
    quality.PlanSummary,
    quality.PlanOut,
    quality.ResultOut,
    quality.InspectionSummary,
    quality.InspectionOut,
    quality.NcOut,
    quality.ChartPointOut,
    quality.RuleCount,
    quality.ChartOut,
    quality.XbarROut,
    quality.IndividualsOut,
    quality.CapabilityOut,
]


def _api_tags(spec: dict[str, Any]) -> set[str]:
    """Every tag carried by an operation under /api/v1/."""
    return {
        tag
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for op in item.values()
        for tag in op.get("tags", [])
    }


def _core_models() -> dict[str, type[BaseModel]]:
    """The project's pydantic models by the names the description gives their schemas: the
    class name, or module and class name (`core__quality__schemas__PlanOut`) for either of two
    classes sharing a name. A name bound to two classes is left out."""
    found: dict[str, set[type[BaseModel]]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            if (
                sub.__module__.startswith("core.")
                and not sub.__pydantic_generic_metadata__["origin"]
            ):
                qualified = f"{sub.__module__.replace('.', '__')}__{sub.__name__}"
                for name in (sub.__name__, qualified):
                    found.setdefault(name, set()).add(sub)
    return {name: classes.pop() for name, classes in found.items() if len(classes) == 1}


def _examples(model: type[BaseModel]) -> list[Any]:
    """The whole-model examples of a model's own JSON schema (a recursive model's schema is a
    reference into its definitions)."""
    schema = model.model_json_schema()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = schema["$defs"][ref.rsplit("/", 1)[-1]]
    examples: list[Any] = schema.get("examples", [])
    return examples


def test_the_api_has_many_tags(app: FastAPI) -> None:
    tags = _api_tags(app.openapi())
    assert tags >= EXPECTED
    assert len(tags) >= 15


def test_every_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    tags = _api_tags(spec)
    assert len(operations(spec, tags)) >= 150
    assert operation_problems(spec, tags) == []


def test_every_schema_used_by_the_api_has_an_example(app: FastAPI) -> None:
    spec = app.openapi()
    assert schemas_without_example(spec, _api_tags(spec)) == []


def test_every_schema_example_is_valid_for_its_model(app: FastAPI) -> None:
    # the model's own schema: the served description drops every null, examples included
    models = _core_models()
    checked: list[str] = []
    invalid: list[str] = []
    for name in sorted(app.openapi()["components"]["schemas"]):
        model = models.get(name.removesuffix("-Input").removesuffix("-Output"))
        if model is None:
            continue
        for example in _examples(model):
            try:
                model.model_validate(example)
            except ValidationError as exc:
                wrong = sorted(
                    {".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors()}
                )
                invalid.append(f"{model.__module__}.{model.__name__}: {'; '.join(wrong)}")
        checked.append(name)
    assert len(checked) >= 100
    assert invalid == []


@pytest.mark.parametrize("model", [*COMPLETE, quality.ResultCreate], ids=lambda m: m.__name__)
def test_examples_of_items_inventory_quality_and_audit_are_valid(model: type[BaseModel]) -> None:
    examples = _examples(model)
    assert examples
    for example in examples:
        model.model_validate(example)


@pytest.mark.parametrize("model", COMPLETE, ids=lambda m: m.__name__)
def test_response_examples_show_every_field(model: type[BaseModel]) -> None:
    for example in _examples(model):
        assert set(example) == set(model.model_fields)
