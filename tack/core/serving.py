"""The HTTP server: uvicorn, with new connections taken in bursts.

uvloop (through libuv) takes one new connection per listening socket per turn of the event loop.
When the loop is busy (8:00, a whole school joining; everyone reconnecting after a network blip) a
turn lasts tens or hundreds of milliseconds, so connections are taken a few dozen a second while
hundreds arrive: thousands of people wait in the kernel's queue, where nothing can answer them, and
their apps time out. `BurstAcceptor` takes every connection waiting, up to `ACCEPTS_PER_TURN`, each
time the listening socket is readable. Taking one costs a few dozen microseconds; its request then
reaches the front door (tack/core/pacing.py), which lets it start in its turn or answers `busy`
with a Retry-After within seconds. The storm waits in our line, where people hear something, and
not in the kernel's, where they hear nothing.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

log = logging.getLogger("tack.serving")

# Connections taken per readiness of a listening socket. Enough to empty the kernel's queue in a few
# turns under any storm a process can answer; bounded so that one turn stays short.
ACCEPTS_PER_TURN = 512
# When taking fails (out of file descriptors, above all), connections stay in the kernel's queue for
# this long before we try again: taking and closing them would be a refusal without a word, and
# trying again at once would spin.
FULL_PAUSE_S = 0.5
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class BurstAcceptor:
    """Takes the connections waiting on a listening socket, many per turn of the loop, and hands
    each to a new protocol (uvicorn's). Closes like an asyncio server, for uvicorn's shutdown."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], per_turn: int = ACCEPTS_PER_TURN) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._per_turn = per_turn
        self._serving = False
        self._pause: asyncio.TimerHandle | None = None
        # Connections being handed over (the loop keeps only weak references to tasks).
        self._handing_over: set[asyncio.Task[None]] = set()
        self.accepted = 0
        sock.setblocking(False)

    def start(self) -> None:
        self._serving = True
        self._loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(self._per_turn):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up before we took it
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    log.warning("No file descriptors left for new connections (%s); they wait in the kernel's "
                                "queue for %.1f s", exc.strerror, FULL_PAUSE_S)
                else:
                    log.error("Cannot take new connections (%s); trying again in %.1f s", exc, FULL_PAUSE_S)
                self._loop.remove_reader(self._sock.fileno())
                self._pause = self._loop.call_later(FULL_PAUSE_S, self._resume)
                return
            self.accepted += 1
            task = self._loop.create_task(self._connect(conn))
            self._handing_over.add(task)
            task.add_done_callback(self._handing_over.discard)

    def _resume(self) -> None:
        self._pause = None
        if self._serving:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, sock=conn)
        except OSError:
            conn.close()  # reset by the client while being taken

    def close(self) -> None:
        if self._serving:
            self._serving = False
            self._loop.remove_reader(self._sock.fileno())
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None

    async def wait_closed(self) -> None:
        return None


class Server(uvicorn.Server):
    """uvicorn's server, listening with `BurstAcceptor`s on sockets it is given (`listening_sockets`)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets is None:
            # Without sockets of ours (uvicorn's own ways of listening: a file descriptor, a Unix
            # socket), uvicorn listens as it would.
            await super().startup(sockets)
            return
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        for sock in sockets:
            # uvicorn's supervisor hands its workers a socket bound but not yet listening.
            sock.listen(config.backlog)
        acceptors = [BurstAcceptor(loop, sock, create_protocol) for sock in sockets]
        for acceptor in acceptors:
            acceptor.start()
        self.servers: list[Any] = acceptors
        self.started = True


class WorkerProcess(multiprocess.Process):
    """A worker of uvicorn's supervisor that serves with our `Server`."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = Server(config=self.config)
        return self._server


def run_workers(config: uvicorn.Config) -> None:
    """Several worker processes on one socket, as `uvicorn --workers`, each taking connections in
    bursts. The supervisor makes its workers with the module's `Process` (there is no other way to
    give it ours); the workers are started with spawn, so each gets a `WorkerProcess`, pickled."""
    multiprocess.Process = WorkerProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()


def listening_sockets(host: str, port: int, count: int, *, backlog: int) -> list[socket.socket]:
    """`count` sockets listening on the same port (SO_REUSEPORT when more than one); the kernel
    spreads new connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    count = max(1, count) if hasattr(socket, "SO_REUSEPORT") else 1
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others share the port the first was given
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets
