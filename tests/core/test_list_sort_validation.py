"""List sorting: an unknown sort field is a 422 naming the parameter and the field (listing the
allowed ones); a known field, ascending or descending, is accepted."""

from __future__ import annotations

import pytest

from tests.support.api import AsRoles

PATHS = ["/api/v1/items", "/api/v1/quality/inspections", "/api/v1/inventory/transactions"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("sort", ["colour", "id,colour", "-colour"])
async def test_unknown_sort_field_is_422_naming_it(as_roles: AsRoles, path: str, sort: str) -> None:
    async with as_roles("admin") as client:
        r = await client.get(path, params={"sort": sort})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert "colour" in error["message"]
    [detail] = error["details"]
    assert detail["field"] == "query.sort"
    assert "'colour'" in detail["reason"] and "id" in detail["reason"]


@pytest.mark.parametrize("path", PATHS)
async def test_malformed_sort_is_422_naming_the_parameter(as_roles: AsRoles, path: str) -> None:
    async with as_roles("admin") as client:
        r = await client.get(path, params={"sort": "id;drop"})
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == ["query.sort"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("sort", ["id", "-id"])
async def test_known_sort_field_is_200(as_roles: AsRoles, path: str, sort: str) -> None:
    async with as_roles("admin") as client:
        r = await client.get(path, params={"sort": sort})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 0 and page["items"] == []
