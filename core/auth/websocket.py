"""WebSocket authentication: token in the first message, renewal, close on expiry.

Tokens never travel in the URL (it would be logged). The protocol, JSON text frames:

- the client opens the socket and sends `{"type": "auth", "token": "<access token>"}` within
  AUTH_TIMEOUT seconds; the server answers `{"type": "welcome", "user": {...}, "expires_at": ...}`;
- the client sends a fresh token the same way before `expires_at`; the server answers
  `{"type": "auth_ok", "expires_at": ...}`;
- the server closes with CLOSE_UNAUTHORIZED (4401) when the first message is late, not an auth
  message, or carries an invalid token, when a renewal is invalid or names another user, and when
  the token expires (plus the configured clock-skew leeway) without renewal; with
  CLOSE_FORBIDDEN (4403) when the caller's roles do not grant the route's permission; with 1013
  when the realm's keys cannot be fetched.

A WebSocket route declares its permission with `ws_require(...)` (listed by `mes auth matrix`) and
hands the socket to `serve_socket` with a handler for its own message types.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from core.auth.deps import TokenVerifier
from core.auth.permissions import roles_for
from core.auth.principal import Principal, Role
from core.errors import DomainError, Unauthorized

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 5.0
"""Seconds the client has to send its auth message after the socket opens."""

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN_LATER = 1013

Message = dict[str, Any]
Handler = Callable[["AuthenticatedSocket", Message], Awaitable[None]]


@dataclass(frozen=True)
class WsAccess:
    """The permission a WebSocket route declares and the roles it allows."""

    permission: str
    roles: frozenset[Role]


def ws_require(permission: str) -> Any:
    """Declare a WebSocket route's permission: `access: Annotated[WsAccess, ws_require("x")]`.

    Checked after the auth message (a WebSocket handshake carries no bearer header); declared as a
    dependency so that the route x role matrix lists it.
    """
    access = WsAccess(permission=permission, roles=roles_for(permission))

    async def declared() -> WsAccess:
        return access

    declared.permission = permission  # type: ignore[attr-defined]
    return Depends(declared)


class SocketClosed(Exception):
    """The socket was closed by the server (code and reason given)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class AuthenticatedSocket:
    """An accepted WebSocket whose caller has a verified token with the route's permission."""

    def __init__(
        self,
        websocket: WebSocket,
        *,
        access: WsAccess,
        verifier: TokenVerifier,
        principal: Principal,
        leeway: float,
    ) -> None:
        self.websocket = websocket
        self.access = access
        self.verifier = verifier
        self.leeway = leeway
        self._principal = principal
        self._renewed = asyncio.Event()
        self._send_lock = asyncio.Lock()  # one send at a time (replies, renewals, hub updates)

    @property
    def principal(self) -> Principal:
        """The caller, as of the newest accepted token."""
        return self._principal

    @property
    def expires_at(self) -> float:
        """Epoch seconds when the current token expires."""
        return self._principal.expires_at or 0.0

    @property
    def deadline(self) -> float:
        """Epoch seconds when the socket is closed unless a new token arrives."""
        return self.expires_at + self.leeway

    async def send(self, message: Message) -> None:
        """Send one JSON message (sends from several tasks never interleave)."""
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message))

    async def close(self, code: int, reason: str) -> None:
        """Close the socket (idempotent)."""
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self.websocket.close(code=code, reason=reason)

    async def renew(self, token: object) -> None:
        """Accept a fresh token for the same user; SocketClosed after closing on failure."""
        principal = await _verified(self.websocket, self.verifier, token, self.access)
        if principal.subject != self._principal.subject:
            await self._fail(CLOSE_UNAUTHORIZED, "renewal token belongs to another user")
        self._principal = principal
        self._renewed.set()
        await self.send({"type": "auth_ok", "expires_at": self.expires_at})

    async def _fail(self, code: int, reason: str) -> None:
        await self.close(code, reason)
        raise SocketClosed(code, reason)

    async def watch_expiry(self) -> None:
        """Return when the token has expired without renewal."""
        while True:
            self._renewed.clear()
            remaining = self.deadline - time.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), timeout=remaining)


def user_info(principal: Principal) -> Message:
    """The caller as sent in `welcome`."""
    return {
        "subject": principal.subject,
        "username": principal.username,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "client_id": principal.client_id,
    }


async def _verified(
    websocket: WebSocket, verifier: TokenVerifier, token: object, access: WsAccess
) -> Principal:
    """Verify `token` and check the permission; close the socket and raise SocketClosed if not."""
    if not isinstance(token, str) or not token:
        code, reason = CLOSE_UNAUTHORIZED, "auth message has no token"
    else:
        try:
            principal = await verifier.verify(token)
        except Unauthorized as err:
            code, reason = CLOSE_UNAUTHORIZED, err.message
        except DomainError as err:
            code, reason = CLOSE_TRY_AGAIN_LATER, err.message
        else:
            if principal.roles & access.roles:
                return principal
            code = CLOSE_FORBIDDEN
            reason = f"permission {access.permission!r} is not granted to this user"
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason[:120])
    raise SocketClosed(code, reason)


def _parse(text: str) -> Message | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


async def authenticate(
    websocket: WebSocket, access: WsAccess, *, auth_timeout: float = AUTH_TIMEOUT
) -> AuthenticatedSocket | None:
    """Accept, read the auth message and verify it; None after closing the socket on failure."""
    verifier: TokenVerifier | None = getattr(websocket.app.state, "token_verifier", None)
    await websocket.accept()
    try:
        if verifier is None:
            await websocket.close(code=CLOSE_UNAUTHORIZED, reason="authentication not configured")
            return None
        try:
            text = await asyncio.wait_for(websocket.receive_text(), timeout=auth_timeout)
        except TimeoutError:
            await websocket.close(code=CLOSE_UNAUTHORIZED, reason="no auth message in time")
            return None
        message = _parse(text)
        if message is None or message.get("type") != "auth":
            await websocket.close(code=CLOSE_UNAUTHORIZED, reason="expected an auth message")
            return None
        principal = await _verified(websocket, verifier, message.get("token"), access)
    except (WebSocketDisconnect, SocketClosed):
        return None
    leeway = float(getattr(verifier, "leeway", 0.0))
    return AuthenticatedSocket(
        websocket, access=access, verifier=verifier, principal=principal, leeway=leeway
    )


async def _read_loop(session: AuthenticatedSocket, handler: Handler) -> None:
    while True:
        text = await session.websocket.receive_text()
        message = _parse(text)
        if message is None:
            await session.send({"type": "error", "message": "messages are JSON objects"})
        elif message.get("type") == "auth":
            await session.renew(message.get("token"))
        else:
            await handler(session, message)


async def serve_socket(websocket: WebSocket, access: WsAccess, handler: Handler) -> None:
    """Authenticate, send `welcome`, then dispatch messages to `handler` until the socket ends.

    Auth renewals are handled here; the socket is closed with 4401 when the token expires.
    """
    session = await authenticate(websocket, access)
    if session is None:
        return
    await session.send(
        {"type": "welcome", "user": user_info(session.principal), "expires_at": session.expires_at}
    )
    reader = asyncio.create_task(_read_loop(session, handler))
    expiry = asyncio.create_task(session.watch_expiry())
    try:
        done, _ = await asyncio.wait({reader, expiry}, return_when=asyncio.FIRST_COMPLETED)
        if expiry in done:
            await session.close(CLOSE_UNAUTHORIZED, "token expired")
    finally:
        for task in (reader, expiry):
            task.cancel()
        results = await asyncio.gather(reader, expiry, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
            result, WebSocketDisconnect | SocketClosed | asyncio.CancelledError
        ):
            raise result
