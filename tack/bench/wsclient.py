"""A lean WebSocket client for load generation: websockets' Sans-I/O protocol on an asyncio Protocol.

Why not `websockets.asyncio.client.connect`: it runs a reader task per connection and hands every
message through a queue to another task, so when one chat message fans out to 500 sockets, the
500th receive time would include several milliseconds of the bench's own task switching. Here the
bytes are time-stamped the moment the event loop reads them (`data_received` only notes the time
and the chunk) and parsed a moment later, in a `call_soon` callback that runs after every socket
ready in this loop iteration has been stamped. The measured latency is then the server's, not the
harness's.

Pings are answered by the protocol object itself (websockets' Sans-I/O layer queues the pong).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

# (receive time from time.perf_counter(), text of one complete message)
MessageHandler = Callable[[float, str], None]
CloseHandler = Callable[[int | None, str], None]


class HandshakeFailed(Exception):
    def __init__(self, status: int | None, body: str) -> None:
        super().__init__(f"WebSocket handshake refused ({status}): {body[:300]}")
        self.status = status
        self.body = body


class WebSocketConnection(asyncio.Protocol):
    """One client connection. Create it with `await WebSocketConnection.open(url, ...)`."""

    def __init__(self, url: str, headers: Mapping[str, str], on_message: MessageHandler,
                 on_close: CloseHandler | None, max_size: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._protocol = ClientProtocol(parse_uri(url), max_size=max_size)
        self._request = self._protocol.connect()
        for name, value in headers.items():
            self._request.headers[name] = value
        self._on_message = on_message
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self._pending: list[tuple[float, bytes]] = []
        self._scheduled = False
        self._fragments: list[bytes] = []
        self.opened: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def open(cls, url: str, *, headers: Mapping[str, str] | None = None,
                   on_message: MessageHandler, on_close: CloseHandler | None = None,
                   handshake_seconds: float = 10.0, max_size: int = 16 * 1024 * 1024) -> WebSocketConnection:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// address: {url}")
        ssl = parts.scheme == "wss" or None
        port = parts.port or (443 if ssl else 80)
        connection = cls(url, headers or {}, on_message, on_close, max_size)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(handshake_seconds):
            await loop.create_connection(lambda: connection, parts.hostname, port, ssl=ssl)
            await connection.opened
        return connection

    # ---- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._protocol.send_request(self._request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        # Only the time and the bytes here: see the module's docstring.
        self._pending.append((time.perf_counter(), data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._process)

    def eof_received(self) -> bool | None:
        self._process()
        self._protocol.receive_eof()
        self._process_events(time.perf_counter())
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._process()
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("connection closed during the handshake"))
        if not self.closed.done():
            received = self._protocol.close_rcvd
            self.close_code = received.code if received is not None else None
            self.close_reason = (received.reason if received is not None else "") or (str(exc) if exc else "")
            self.closed.set_result(None)
            if self._on_close is not None:
                self._on_close(self.close_code, self.close_reason)

    # ---- frames -------------------------------------------------------------------------------

    def _process(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for received_at, data in pending:
            self._protocol.receive_data(data)
            self._process_events(received_at)
        self._flush()

    def _process_events(self, received_at: float) -> None:
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                self._frame(received_at, event)
            elif isinstance(event, Response):
                self._handshake_done(event)

    def _frame(self, received_at: float, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(received_at, frame.data)
            else:
                self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragments:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), []
                self._deliver(received_at, data)

    def _deliver(self, received_at: float, data: Any) -> None:
        try:
            self._on_message(received_at, str(data, "utf-8"))
        except Exception:  # a bug in a handler must not take the connection's bookkeeping down
            import traceback

            traceback.print_exc()

    def _handshake_done(self, response: Response) -> None:
        if self.opened.done():
            return
        if self._protocol.handshake_exc is not None:
            body = response.body.decode(errors="replace") if response.body else ""
            self.opened.set_exception(HandshakeFailed(response.status_code, body))
            if self._transport is not None:
                self._transport.close()
        else:
            self.opened.set_result(None)

    def _flush(self) -> None:
        if self._transport is None or self._transport.is_closing():
            self._protocol.data_to_send()
            return
        for chunk in self._protocol.data_to_send():
            if chunk:
                self._transport.write(chunk)
            else:  # the protocol's way of saying: half-close now
                if self._transport.can_write_eof():
                    self._transport.write_eof()
        if self._protocol.close_expected() and self._protocol.state is State.CLOSED:
            self._transport.close()

    # ---- API ----------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._protocol.state is State.OPEN and not self.closed.done()

    def send_text(self, text: str) -> None:
        if self._protocol.state is State.OPEN:
            self._protocol.send_text(text.encode())
            self._flush()

    def send_json(self, value: Any) -> None:
        import json

        self.send_text(json.dumps(value, separators=(",", ":")))

    async def close(self, code: int = 1000, wait_seconds: float = 2.0) -> None:
        if self.closed.done():
            return
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code)
            self._flush()
        try:
            async with asyncio.timeout(wait_seconds):
                await asyncio.shield(self.closed)
        except TimeoutError:
            pass
        if self._transport is not None:
            self._transport.close()
