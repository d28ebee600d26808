"""Audit events recorded with a change are listed, filtered and searched."""

from __future__ import annotations

from fastapi import FastAPI

from core.audit import service as audit
from tests.support.api import AsRoles, principal_for


async def test_recorded_events_are_listed_newest_first(app: FastAPI, as_roles: AsRoles) -> None:
    who = principal_for("planner", username="pat")
    async with app.state.db.sessions() as session:
        audit.record(
            session,
            principal=who,
            action="create",
            entity="item",
            entity_id=7,
            after={"code": "BOLT-M6"},
        )
        audit.record(
            session,
            principal=who,
            action="update",
            entity="item",
            entity_id=7,
            before={"name": "Bolt"},
            after={"name": "Bolt M6"},
        )
        audit.record(session, principal=who, action="create", entity="bom", entity_id=1)
        await session.commit()
    async with as_roles("supervisor") as client:
        r = await client.get("/api/v1/audit", params={"entity": "item"})
        searched = await client.get("/api/v1/audit", params={"q": "bom"})
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 2
    assert [e["action"] for e in page["items"]] == ["update", "create"]
    assert page["items"][0]["before"] == {"name": "Bolt"}
    assert page["items"][0]["username"] == "Pat"
    assert searched.json()["total"] == 1
