"""`/ws`: the authenticated WebSocket dashboards keep open (auth protocol: core.auth.websocket;
live protocol: core.live.protocol, docs/live.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, WebSocket

from core.auth.websocket import AuthenticatedSocket, Message, WsAccess, serve_socket, ws_require
from core.live.protocol import LiveConnection

router = APIRouter(tags=["live"])


async def handle_message(session: AuthenticatedSocket, message: Message) -> None:
    """Answer one client message on a socket without live updates (ping only)."""
    await LiveConnection(None).handle(session, message)


@router.websocket("/ws", name="live_socket")
async def live_socket(
    websocket: WebSocket, access: Annotated[WsAccess, ws_require("dashboard:view")]
) -> None:
    """The live channel: token in the first message, then subscriptions to topics."""
    connection = LiveConnection(getattr(websocket.app.state, "live", None))
    try:
        await serve_socket(websocket, access, connection.handle)
    finally:
        await connection.close()
