"""`/ws`: the authenticated WebSocket dashboards keep open (auth protocol: core.auth.websocket).

For now it greets the caller and answers `ping` with `pong`; the live-data hub adds its message
types (subscriptions, updates) through the handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, WebSocket

from core.auth.websocket import AuthenticatedSocket, Message, WsAccess, serve_socket, ws_require

router = APIRouter(tags=["live"])


async def handle_message(session: AuthenticatedSocket, message: Message) -> None:
    """Answer one client message (after authentication)."""
    if message.get("type") == "ping":
        await session.send({"type": "pong"})
    else:
        await session.send(
            {"type": "error", "message": f"unknown message type {message.get('type')!r}"}
        )


@router.websocket("/ws", name="live_socket")
async def live_socket(
    websocket: WebSocket, access: Annotated[WsAccess, ws_require("dashboard:view")]
) -> None:
    """The live channel: token in the first message, renewals, closed on expiry."""
    await serve_socket(websocket, access, handle_message)
