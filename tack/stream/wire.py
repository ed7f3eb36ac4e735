"""Writing an event's WebSocket frame once and the same bytes to every connection.

A server's frames are not masked, so the frame of a text message is the same bytes for every
client. Going through the ASGI `send` builds it again for each connection (the WebSocket library
frames it, the server joins and writes it): for a message to a 500-member class group that was
most of the fan-out's cost. When the server is uvicorn with its websockets-sansio protocol (what
`tack serve` runs), `DirectWriter` writes the prebuilt frame straight to the connection's
transport, after the same checks uvicorn's `send` makes; in every other case (another server,
another protocol implementation, a socket that cannot take more now, a closing connection) it
declines and the frame takes the ordinary ASGI path, which is always correct.
"""

from __future__ import annotations

import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import State

# Where KeepServerSend leaves the server's own `send` in a WebSocket's scope.
SERVER_SEND = "tack.server_send"


def text_frame(payload: str) -> bytes:
    """The unmasked, unfragmented WebSocket frame of a text message (RFC 6455, section 5.2)."""
    data = payload.encode()
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + data


class KeepServerSend:
    """ASGI middleware: keeps the server's `send` of a WebSocket in its scope, before the
    application's layers wrap it, so the stream can find the connection's transport."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)


class DirectWriter:
    """Writes prebuilt frames to one uvicorn WebSocket connection's transport."""

    __slots__ = ("_protocol", "_open")

    def __init__(self, protocol: Any, open_state: Any) -> None:
        self._protocol = protocol
        self._open = open_state

    @classmethod
    def for_scope(cls, scope: Scope) -> DirectWriter | None:
        """A writer for this WebSocket, if its server is one this module knows; else None."""
        protocol = getattr(scope.get(SERVER_SEND), "__self__", None)
        if type(protocol).__name__ != "WebSocketsSansIOProtocol":
            return None
        if not all(hasattr(protocol, name) for name in _CHECKED):
            return None
        return cls(protocol, State.OPEN)

    def write(self, frame: bytes) -> bool:
        """Write `frame` now if the connection is open and its socket can take it; False if the
        caller must send it the ordinary way."""
        protocol = self._protocol
        if (
            protocol.disconnected
            or protocol.close_sent
            or not protocol.handshake_complete
            or not protocol.writable.is_set()
            or protocol.conn.state is not self._open
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True


# What uvicorn's WebSocketsSansIOProtocol.send looks at before writing a data frame.
_CHECKED = ("transport", "writable", "disconnected", "close_sent", "handshake_complete", "conn")
