"""Taking new connections: many per turn of the event loop, and a pause when out of file descriptors."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tack.core import serving
from tack.core.serving import BurstAcceptor, listening_sockets
from tests.conftest import BACKEND
from tests.live import ServerProcess, live_database

REDIS_URL = os.environ.get("TACK_REDIS_URL", "")


class Made(asyncio.Protocol):
    made: list[asyncio.Transport] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Made.made.append(transport)  # type: ignore[arg-type]


@asynccontextmanager
async def waiting_connections(count: int, *, listening: Any = None,
                              **options: Any) -> AsyncIterator[tuple[BurstAcceptor, Any]]:
    """`count` connections waiting in a listening socket's queue (plain blocking connects: the kernel
    completes them), an acceptor for that socket (or for `listening(sock)`), and cleanup of it all."""
    (sock,) = listening_sockets("127.0.0.1", 0, 1, backlog=1024)
    clients = [socket.create_connection(("127.0.0.1", sock.getsockname()[1]), timeout=2) for _ in range(count)]
    Made.made = []
    wrapped = listening(sock) if listening is not None else sock
    acceptor = BurstAcceptor(asyncio.get_running_loop(), wrapped, Made, **options)
    try:
        yield acceptor, wrapped
    finally:
        acceptor.close()
        for transport in Made.made:
            transport.close()
        for client in clients:
            client.close()
        sock.close()


async def _until(done: Any) -> None:
    for _ in range(50):
        if done():
            return
        await asyncio.sleep(0.01)


async def test_every_waiting_connection_is_taken_in_one_go():
    """300 connections waiting in the kernel's queue are all taken when the socket is readable once,
    not one per turn of the loop."""
    async with waiting_connections(300) as (acceptor, _):
        acceptor._accept()  # one readiness of the listening socket
        assert acceptor.accepted == 300
        await _until(lambda: len(Made.made) == 300)
        assert len(Made.made) == 300


async def test_a_burst_is_bounded_and_the_rest_are_taken_in_the_next_turns():
    async with waiting_connections(50, per_turn=20) as (acceptor, _):
        acceptor._accept()
        assert acceptor.accepted == 20
        acceptor.start()
        await _until(lambda: acceptor.accepted == 50 and len(Made.made) == 50)
        assert acceptor.accepted == 50 and len(Made.made) == 50


class OutOfDescriptorsOnce:
    """A listening socket whose first accept fails as when the process has no file descriptor left."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.failed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def accept(self) -> tuple[socket.socket, object]:
        if not self.failed:
            self.failed = True
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()


async def test_out_of_file_descriptors_pauses_taking_and_resumes(monkeypatch):
    """Connections stay in the kernel's queue for a moment (not taken and dropped), then are taken."""
    monkeypatch.setattr(serving, "FULL_PAUSE_S", 0.05)
    async with waiting_connections(5, listening=OutOfDescriptorsOnce) as (acceptor, listening):
        acceptor.start()
        await asyncio.sleep(0.02)
        assert listening.failed and acceptor.accepted == 0  # paused, nothing taken, nothing dropped
        await _until(lambda: len(Made.made) == 5)
        assert acceptor.accepted == 5 and len(Made.made) == 5


@pytest.mark.skipif(BACKEND != "postgres" or not REDIS_URL, reason="needs PostgreSQL and Redis (TACK_REDIS_URL)")
async def test_several_workers_take_connections_from_the_one_socket() -> None:
    """`tack serve --workers 2`: uvicorn's supervisor binds the socket, each worker listens on it and
    takes connections in bursts; a crowd of new connections is answered."""
    with live_database(env={"TACK_REDIS_URL": REDIS_URL}) as database:
        server = ServerProcess(database, workers=2)
        try:
            live = server.start()

            async def one_new_connection() -> int:
                async with httpx.AsyncClient(timeout=10) as client:
                    return (await client.get(live.url + "/readyz")).status_code

            statuses = await asyncio.gather(*(one_new_connection() for _ in range(60)))
            assert statuses == [200] * 60, live.log()
        finally:
            server.stop()
