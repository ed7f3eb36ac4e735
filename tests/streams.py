"""Helpers for tests of the real-time stream: a real server, real WebSocket clients, emitting events.

`stream_server` (session-scoped) serves the test session's app with uvicorn on a free port of
127.0.0.1, in the test event loop, with a hub of its own configuration; clients connect to it with
the `websockets` package, as any client would. `emit_now` appends events through the app's database
exactly as a request does (one transaction, announced after commit).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from tack.core.db import get_database, run_after_commit
from tack.core.events import emit
from tack.stream.hub import Hub, StreamConfig, close_hub, set_hub

TEST_STREAM_CONFIG = StreamConfig(
    ping_seconds=20.0,
    send_queue=2000,
    max_replay=50,
    poll_seconds=1.0,
    recheck_seconds=3600.0,  # tests call hub.recheck() when they need it
    prune_every_seconds=0,
)


@dataclass
class StreamServer:
    url: str  # ws://127.0.0.1:<port>/api/v1/stream
    origin: str  # http://127.0.0.1:<port>
    hub: Hub


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
async def stream_server(app) -> AsyncIterator[StreamServer]:  # type: ignore[no-untyped-def]
    hub = Hub(TEST_STREAM_CONFIG)
    set_hub(hub)
    hub.start()
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", ws="websockets-sansio",
        ws_per_message_deflate=False, ws_ping_interval=20, ws_ping_timeout=20,
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("the in-process stream server did not start")
        await asyncio.sleep(0.01)
    yield StreamServer(url=f"ws://127.0.0.1:{port}/api/v1/stream", origin=f"http://127.0.0.1:{port}", hub=hub)
    server.should_exit = True
    await task
    await close_hub()
    from tack.core.broker import get_broker, set_broker

    await get_broker().close()
    set_broker(None)


@pytest.fixture
def stream_config(stream_server: StreamServer):  # type: ignore[no-untyped-def]
    """Change the hub's configuration for one test: `stream_config(send_queue=10)`."""
    original = stream_server.hub.config

    def change(**changes: Any) -> None:
        stream_server.hub.config = stream_server.hub.config.with_changes(**changes)

    yield change
    stream_server.hub.config = original


async def emit_now(org_id: str, channel: str = "org", kind: str = "test.event", data: dict | None = None, *,
                   count: int = 1, fail: bool = False) -> list[int]:
    """Emit `count` events in one transaction, committed (or rolled back with `fail`) like a request."""
    database = get_database()
    async with database.session() as db:
        await db.connection(execution_options={"tack_write": True})
        positions = []
        for n in range(count):
            payload = dict(data or {})
            payload.setdefault("n", n)
            positions.append(await emit(db, org_id=org_id, channel=channel, kind=kind, data=payload))
        if fail:
            await db.rollback()
            return positions
        await db.commit()
        await run_after_commit(db)
    return positions


def session_cookie(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class StreamClient:
    """One WebSocket to the stream, with helpers to read its frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ready: dict[str, Any] | None = None
        self.frames: list[dict[str, Any]] = []  # everything read, in order

    async def send(self, value: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(value))

    async def next(self, within: float = 5.0, *, skip: Iterable[str] = ("ping",)) -> dict[str, Any]:
        skipped = set(skip)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            self.frames.append(frame)
            if frame.get("type") not in skipped:
                return frame

    async def hello(self, cursors: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "hello", **({"cursors": cursors} if cursors is not None else {})})
        ready = await self.next()
        assert ready["type"] == "ready", ready
        self.ready = ready
        return ready

    async def until_live(self, within: float = 5.0) -> list[dict[str, Any]]:
        """Frames after the ready up to (not including) the `live` frame."""
        frames = []
        while True:
            frame = await self.next(within)
            if frame["type"] == "live":
                return frames
            frames.append(frame)

    async def events(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        found = []
        while len(found) < count:
            frame = await self.next(within, skip=("ping", "live"))
            assert frame["type"] == "event", frame
            found.append(frame)
        return found

    async def silent(self, seconds: float = 0.3) -> None:
        """Assert that nothing but heartbeats arrives for a while."""
        try:
            frame = await self.next(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {frame}")

    async def closed(self, within: float = 5.0) -> tuple[int | None, list[dict[str, Any]]]:
        """Read to the end; returns the close code and the frames read on the way."""
        frames = []
        try:
            async with asyncio.timeout(within):
                async for raw in self.ws:
                    frames.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        return self.ws.close_code, frames

    async def close(self) -> None:
        await self.ws.close()


async def connect(server: StreamServer, client: httpx.AsyncClient | None = None, *, token: str | None = None,
                  origin: str | None = "same", query_token: str | None = None, **options: Any) -> StreamClient:
    headers: dict[str, str] = {}
    if client is not None:
        headers["Cookie"] = session_cookie(client)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = server.url + (f"?access_token={query_token}" if query_token else "")
    ws = await websockets.connect(
        url,
        additional_headers=headers,
        origin=server.origin if origin == "same" else origin,  # type: ignore[arg-type]
        compression=None,
        ping_interval=None,
        **options,
    )
    return StreamClient(ws)


async def live_stream(server: StreamServer, client: httpx.AsyncClient) -> StreamClient:
    """A connection of `client` that has said hello (no cursors) and is live."""
    stream = await connect(server, client)
    await stream.hello()
    await stream.until_live()
    return stream


def positions(frames: Iterable[dict[str, Any]]) -> list[int]:
    return [f["position"] for f in frames if f.get("type") == "event"]
