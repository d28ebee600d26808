"""The API skeleton: probes, metrics, error bodies, list parameters, CORS."""

from __future__ import annotations

import gc

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy import text

from core.app import create_app, settle_heap
from tests.support.api import AsRoles, api_client, api_settings
from tests.support.databases import TestDb


async def test_healthz(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_readyz_ok_on_migrated_database(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readyz_503_when_migrations_are_behind(empty_db: TestDb) -> None:
    app = create_app(api_settings(empty_db), background=False)
    with psycopg.connect(empty_db.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001_telemetry')")
    async with api_client(app) as client:
        r = await client.get("/readyz")
    await app.state.db.dispose()
    assert r.status_code == 503
    assert "mes db upgrade" in r.json()["checks"]["migrations"]


async def test_readyz_503_when_database_unreachable(db: TestDb) -> None:
    app = create_app(api_settings(db, db_port=1), background=False)
    async with api_client(app) as client:
        r = await client.get("/readyz")
    await app.state.db.dispose()
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("unreachable")


async def test_metrics_exposes_request_counters(anonymous: httpx.AsyncClient) -> None:
    await anonymous.get("/healthz")
    r = await anonymous.get("/metrics")
    assert r.status_code == 200
    assert 'mes_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text


async def test_unknown_route_has_the_error_body(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_protected_route_without_token_is_401(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "unauthorized"


async def test_role_without_permission_is_403(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        r = await client.get("/api/v1/audit")
    assert r.status_code == 403
    assert "audit:read" in r.json()["error"]["message"]


async def test_me_lists_granted_permissions(as_roles: AsRoles) -> None:
    async with as_roles("supervisor", username="sam") as client:
        r = await client.get("/api/v1/auth/me")
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "sam"
    assert body["roles"] == ["supervisor"]
    assert "audit:read" in body["permissions"]


async def test_list_rejects_unknown_sort_field(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        r = await client.get("/api/v1/audit", params={"sort": "-nope"})
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]
    assert detail["field"] == "query.sort"
    assert "nope" in detail["reason"]


async def test_list_validates_window(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        r = await client.get("/api/v1/audit", params={"limit": 0})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "query.limit"


async def test_cors_origins_come_from_settings(db: TestDb) -> None:
    app: FastAPI = create_app(
        api_settings(db, cors_origins="https://ui.plant.example"), background=False
    )
    async with api_client(app) as client:
        ok = await client.options(
            "/api/v1/audit",
            headers={"Origin": "https://ui.plant.example", "Access-Control-Request-Method": "GET"},
        )
        other = await client.options(
            "/api/v1/audit",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    await app.state.db.dispose()
    assert ok.headers["access-control-allow-origin"] == "https://ui.plant.example"
    assert "access-control-allow-origin" not in other.headers


def test_settle_heap_leaves_startup_objects_out_of_collections() -> None:
    startup: list[list[int]] = [[] for _ in range(3)]  # containers the collector tracks
    before = gc.get_freeze_count()
    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        scanned = {id(obj) for obj in gc.get_objects()}  # what a collection would walk
    finally:
        gc.unfreeze()  # the rest of the test session keeps a normal collector
    assert frozen >= before + len(startup)
    assert not {id(obj) for obj in startup} & scanned


async def test_api_sessions_plan_with_the_configured_page_cost(db: TestDb) -> None:
    app = create_app(api_settings(db, db_random_page_cost=1.5), background=False)
    try:
        async with app.state.db.sessions() as session:
            cost = await session.scalar(text("SHOW random_page_cost"))
    finally:
        await app.state.db.dispose()
    assert cost == "1.5"  # PostgreSQL's own default is 4
