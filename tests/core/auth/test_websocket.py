"""WebSocket authentication over a real socket with real tokens: first-message auth, RBAC,
renewal, close on expiry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import jwt
import pytest
from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.app import create_app
from core.auth.matrix import route_access
from core.auth.principal import Role
from core.auth.websocket import (
    AUTH_TIMEOUT,
    CLOSE_FORBIDDEN,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
    WsAccess,
    serve_socket,
    ws_require,
)
from core.live.router import handle_message
from tests.core.auth.conftest import auth_settings, live_server
from tests.support.databases import TestDb
from tests.support.keycloak import SHORT_LIFESPAN, TestRealm
from tests.support.net import free_port

pytestmark = pytest.mark.keycloak


@pytest.fixture
async def base_url(kc_app: FastAPI) -> AsyncIterator[str]:
    """`ws://host:port` of the API serving real sockets."""
    async with live_server(kc_app) as url:
        yield url


@pytest.fixture
async def strict_url(db: TestDb, realm: TestRealm) -> AsyncIterator[str]:
    """Like `base_url` with no clock-skew leeway (expiry tests), its key set already fetched (one
    socket authenticated), so a short token's seconds are not spent fetching it."""
    app = create_app(auth_settings(db, realm, jwt_leeway_seconds=0), background=False)
    async with live_server(app) as url:
        async with connect(url + "/ws") as ws:
            await send(ws, {"type": "auth", "token": realm.token_for(Role.OPERATOR)})
            assert (await receive(ws))["type"] == "welcome"
        yield url
    await app.state.db.dispose()


async def receive(ws: ClientConnection, wait: float = 15) -> dict[str, Any]:
    """The next JSON message."""
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=wait))
    assert isinstance(message, dict)
    return message


async def closed_with(ws: ClientConnection, wait: float = 30) -> tuple[int | None, str | None]:
    """Wait until the server closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout=wait)
    return ws.close_code, ws.close_reason


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send one JSON message."""
    await ws.send(json.dumps(message))


async def test_welcome_then_ping_pong(base_url: str, realm: TestRealm) -> None:
    token = realm.token_for(Role.OPERATOR)
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": token})
        welcome = await receive(ws)
        assert welcome["type"] == "welcome"
        assert welcome["user"]["username"] == "operator"
        assert welcome["user"]["name"] == "Demo Operator"
        assert welcome["user"]["roles"] == ["operator"]
        assert (
            welcome["expires_at"] == jwt.decode(token, options={"verify_signature": False})["exp"]
        )
        await send(ws, {"type": "ping"})
        assert await receive(ws) == {"type": "pong"}
        await send(ws, {"type": "subscribe-everything"})
        error = await receive(ws)
        assert error["type"] == "error" and "subscribe-everything" in error["message"]
        await ws.send("not json")
        assert (await receive(ws))["type"] == "error"
        await send(ws, {"type": "ping"})
        assert await receive(ws) == {"type": "pong"}


async def test_gateway_service_account_is_welcome(base_url: str, realm: TestRealm) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": realm.gateway_token()})
        welcome = await receive(ws)
        assert welcome["user"]["client_id"] == realm.settings.keycloak_gateway_client


async def test_no_auth_message_in_time_closes_4401(base_url: str) -> None:
    async with connect(base_url + "/ws") as ws:
        code, reason = await closed_with(ws, wait=AUTH_TIMEOUT + 10)
    assert code == CLOSE_UNAUTHORIZED
    assert reason == "no auth message in time"


async def test_first_message_must_be_auth(base_url: str) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "ping"})
        code, reason = await closed_with(ws)
    assert (code, reason) == (CLOSE_UNAUTHORIZED, "expected an auth message")


async def test_token_in_the_query_string_is_ignored(base_url: str, realm: TestRealm) -> None:
    token = realm.token_for(Role.ADMIN)
    async with connect(f"{base_url}/ws?token={token}&access_token={token}") as ws:
        await send(ws, {"type": "ping"})
        code, _ = await closed_with(ws)
    assert code == CLOSE_UNAUTHORIZED


@pytest.mark.parametrize("token", ["garbage", "", None, 42])
async def test_invalid_token_closes_4401(base_url: str, token: object) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": token})
        code, _ = await closed_with(ws)
    assert code == CLOSE_UNAUTHORIZED


async def test_token_of_another_realm_closes_4401(base_url: str, other_realm: TestRealm) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": other_realm.token_for(Role.ADMIN)})
        code, _ = await closed_with(ws)
    assert code == CLOSE_UNAUTHORIZED


async def test_expired_token_closes_the_socket(strict_url: str, realm: TestRealm) -> None:
    token = realm.fresh_token_for(Role.OPERATOR, client_suffix="-short")
    async with connect(strict_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": token})
        assert (await receive(ws))["type"] == "welcome"
        code, reason = await closed_with(ws, wait=SHORT_LIFESPAN + 15)
        closed_at = time.time()
    assert (code, reason) == (CLOSE_UNAUTHORIZED, "token expired")
    assert closed_at >= jwt.decode(token, options={"verify_signature": False})["exp"]


async def test_renewal_keeps_the_socket_open_past_the_first_expiry(
    strict_url: str, realm: TestRealm
) -> None:
    # the renewal is issued first: nothing slow (a token request) runs while the short one lives
    renewal = realm.fresh_token_for(Role.OPERATOR)
    short = realm.fresh_token_for(Role.OPERATOR, client_suffix="-short")
    short_exp = jwt.decode(short, options={"verify_signature": False})["exp"]
    async with connect(strict_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": short})
        assert (await receive(ws))["type"] == "welcome"
        await send(ws, {"type": "auth", "token": renewal})
        ok = await receive(ws)
        assert ok == {
            "type": "auth_ok",
            "expires_at": jwt.decode(renewal, options={"verify_signature": False})["exp"],
        }
        while time.time() <= short_exp + 1:  # outlive the first token (polling, bounded)
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}
            await asyncio.sleep(0.5)
        await send(ws, {"type": "ping"})
        assert await receive(ws) == {"type": "pong"}


async def test_renewal_with_another_users_token_closes_4401(
    base_url: str, realm: TestRealm
) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": realm.token_for(Role.OPERATOR)})
        assert (await receive(ws))["type"] == "welcome"
        await send(ws, {"type": "auth", "token": realm.token_for(Role.ADMIN)})
        code, reason = await closed_with(ws)
    assert (code, reason) == (CLOSE_UNAUTHORIZED, "renewal token belongs to another user")


async def test_invalid_renewal_closes_4401(base_url: str, realm: TestRealm) -> None:
    async with connect(base_url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": realm.token_for(Role.OPERATOR)})
        assert (await receive(ws))["type"] == "welcome"
        await send(ws, {"type": "auth", "token": "garbage"})
        code, _ = await closed_with(ws)
    assert code == CLOSE_UNAUTHORIZED


@pytest.fixture
async def audit_socket_url(db: TestDb, realm: TestRealm) -> AsyncIterator[str]:
    """An app with an extra WebSocket route that only audit readers may open."""
    app = create_app(auth_settings(db, realm), background=False)

    @app.websocket("/ws/audit-test")
    async def audit_socket(
        websocket: WebSocket, access: Annotated[WsAccess, ws_require("audit:read")]
    ) -> None:
        await serve_socket(websocket, access, handle_message)

    async with live_server(app) as url:
        yield url + "/ws/audit-test"
    await app.state.db.dispose()


async def test_role_without_the_permission_closes_4403(
    audit_socket_url: str, realm: TestRealm
) -> None:
    async with connect(audit_socket_url) as ws:
        await send(ws, {"type": "auth", "token": realm.token_for(Role.OPERATOR)})
        code, reason = await closed_with(ws)
    assert code == CLOSE_FORBIDDEN
    assert reason is not None and "audit:read" in reason
    async with connect(audit_socket_url) as ws:
        await send(ws, {"type": "auth", "token": realm.token_for(Role.SUPERVISOR)})
        assert (await receive(ws))["type"] == "welcome"


async def test_every_websocket_route_follows_the_matrix(
    kc_app: FastAPI, base_url: str, realm: TestRealm
) -> None:
    rows = [r for r in route_access(kc_app) if r.method == "WS"]
    assert "/ws" in {r.path for r in rows}
    wrong = []
    for row in rows:
        assert row.permission, row.path
        for role in Role:
            async with connect(base_url + row.path) as ws:
                await send(ws, {"type": "auth", "token": realm.token_for(role)})
                if role in row.roles:
                    if (await receive(ws))["type"] != "welcome":
                        wrong.append(f"{row.path} {role}: not welcome")
                else:
                    code, _ = await closed_with(ws)
                    if code != CLOSE_FORBIDDEN:
                        wrong.append(f"{row.path} {role}: closed {code}")
    assert wrong == []


async def test_unreachable_keycloak_closes_1013(db: TestDb, realm: TestRealm) -> None:
    settings = auth_settings(db, realm, keycloak_url=f"http://127.0.0.1:{free_port()}")
    app = create_app(settings, background=False)
    async with live_server(app) as url, connect(url + "/ws") as ws:
        await send(ws, {"type": "auth", "token": realm.token_for(Role.OPERATOR)})
        code, _ = await closed_with(ws)
    await app.state.db.dispose()
    assert code == CLOSE_TRY_AGAIN_LATER
