"""`tack bench join-storm`: a school's 8:00, when every student joins their class within seconds.

Set-up (not timed): one school is written straight into the server's database with bulk inserts
(an organization of kind "school", grades, M classes, a teacher and N/M students per class, each
class's group conversation and the organization's event log). Every account gets the same
precomputed password hash: creating 10,000 accounts through the API would cost 10,000 deliberately
slow argon2 hashes. Sessions are written too, for everyone but the share that signs in during the
storm: phones and laptops stay signed in. Each signed-in client fetches its CSRF token once
(GET /auth/session, as the web client does when it starts). Each teacher starts their class
(POST .../rooms), joins it and holds a stream connection.

The storm: every student starts at a uniformly random moment of the window. The sign-in share
signs in with the password first; then POST .../rooms/{id}/join, and on 429 `busy` waits the
Retry-After (plus jitter) and tries again until admitted or the give-up deadline; then opens the
stream (/api/v1/stream) and waits for `live`; a stream told `busy` comes back after the
`retry_after` the server gave. A share drops: closes the socket abruptly, then joins again with the
ticket of its first join while the stream reconnects (the join must answer `rejoined: true`).
When everyone is in (or has given up), all hold their connections for a while, then every student
leaves (POST .../leave, 204, sent again when it got no answer) and closes the stream.

One asyncio process drives it all, with two small clients of its own instead of httpx and
websockets' connection objects: 10,000 people, each with a socket, are more than a general-purpose
client can drive on two cores that the server needs too. HTTP/1.1 goes over a pool of keep-alive
connections, opened as needed (up to --http-connections, by default as many as the open-file limit
leaves room for: a phone has a connection of its own, so the server sees the real concurrency);
responses are parsed by httptools. The stream client speaks the WebSocket protocol directly and
recognises the room events the server fans out by their first bytes, without decoding them.

Join latency is what a person experiences: from their first join attempt to the answer that let
them in, retries and waits included. The longest wait in the server's admission queue comes from
its /metrics (the gauge tack_admission_longest_wait_seconds{gate="room_join"}, or else the highest
non-empty bucket of the histogram tack_admission_queue_wait_seconds).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import random
import resource
import secrets
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from tack.bench.chat import _delta, _ms, _own_cpu, _percentile
from tack.bench.server import (
    BenchError,
    LocalServer,
    MetricsProbe,
    ProcessProbe,
    Progress,
    Usage,
    disturbance_warning,
    machine_cpu_seconds,
)

API = "/api/v1"
SESSION_COOKIE = "tack_session"
PASSWORD = "bench-join-storm-2026"
USER_AGENT = "tack-bench-join-storm"
GATE = "room_join"
# Concurrency of the set-up requests (CSRF tokens, teachers): quick, and kind to the server.
SETUP_CONCURRENCY = 24
# One HTTP request (a queued join waits up to TACK_ROOM_JOIN_WAIT_SECONDS on the server).
REQUEST_TIMEOUT = 60.0
# "Busy, come back in N s": 429 (503 from servers before it, or from a proxy in front).
BUSY_STATUSES = (429, 503)
STREAM_TIMEOUT = 60.0
# Descriptors kept free of sockets: the bench's own files and the database; a server the bench
# starts has the same limit and holds one socket per bench socket, plus its own files.
SPARE_FILES = 1024


@dataclass
class JoinStormConfig:
    students: int = 10000
    classes: int = 330
    window: float = 10.0  # seconds over which the students arrive
    sign_in_share: float = 0.05  # students who sign in with their password in the window
    drop_share: float = 0.10  # students whose connection drops once they are in, and who rejoin
    hold: float = 5.0  # seconds everyone holds their connections once all are in
    give_up: float = 600.0  # seconds after the window a student keeps trying to get in
    admission: bool = True  # only a label with --url; a started server gets TACK_ROOM_ADMISSION
    http_connections: int = 0  # 0: as many as the open-file limit leaves room for
    seed: int | None = None
    url: str = ""  # e.g. http://127.0.0.1:8700, no trailing slash
    database_url: str = ""  # the database that server uses: the school is written into it


class TransportError(Exception):
    """No HTTP answer: the connection failed, broke, or the answer did not come in time."""

    def __init__(self, message: str, *, got_bytes: bool = False) -> None:
        super().__init__(message)
        self.got_bytes = got_bytes


# ---- HTTP/1.1 client ----------------------------------------------------------------------------


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    def cookie(self, name: str) -> str | None:
        prefix = f"{name}=".encode()
        for key, value in self.headers:
            if key == b"set-cookie" and value.startswith(prefix):
                return value[len(prefix):].split(b";", 1)[0].decode("latin-1")
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        try:
            error = self.json().get("error")
        except (ValueError, AttributeError):
            return {}
        return error if isinstance(error, dict) else {}

    def retry_after(self) -> float:
        """Seconds the server asked to wait: the Retry-After header, else error.details.retry_after."""
        value = self.header(b"retry-after")
        if value is None:
            value = (self.error().get("details") or {}).get("retry_after")
        try:
            return max(0.0, float(value)) if value is not None else 1.0
        except (TypeError, ValueError):
            return 1.0

    def describe(self) -> str:
        return f"{self.status} {self.body[:300].decode(errors='replace')}"


class _HttpConnection(asyncio.Protocol):
    def __init__(self, pool: HttpPool) -> None:
        import httptools

        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.got_bytes = False
        self.closed = False
        self.retired = False
        self.is_idle = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError: a broken answer
            self._fail(TransportError(f"unreadable HTTP answer: {exc!r}", got_bytes=True))
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        response = Response(self.parser.get_status_code(), self.headers, b"".join(self.body))
        self.keep_alive = self.parser.should_keep_alive()
        self.headers, self.body = [], []
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(TransportError(f"connection closed ({exc!r})" if exc else "connection closed by the server",
                                  got_bytes=self.got_bytes))
        self.pool._lost(self)

    def _fail(self, error: TransportError) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def send(self, raw: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.got_bytes = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter

    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()


class HttpPool:
    """Keep-alive connections to one server, opened as needed up to `limit`; beyond it requests wait
    for a connection (how long is reported: it is the bench's delay, not the server's)."""

    def __init__(self, url: str, limit: int) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise BenchError("join-storm speaks plain HTTP to a server on this machine (http://...)")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = parts.netloc
        self.limit = limit
        self.count = 0  # open or opening
        self.peak = 0
        self.idle: list[_HttpConnection] = []
        self.waiters: deque[asyncio.Future[_HttpConnection | None]] = deque()
        self.in_flight = 0
        self.max_wait = 0.0
        self.waited = 0  # requests that had to wait for a connection
        self.opened = 0

    def encode(self, method: str, path: str, headers: dict[str, str] | None, body: bytes | None) -> bytes:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if body is not None or method not in ("GET", "HEAD"):
            head += f"Content-Type: application/json\r\nContent-Length: {len(body or b'')}\r\n"
        return (head + "\r\n").encode("latin-1") + (body or b"")

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes | None = None, within: float = REQUEST_TIMEOUT) -> Response:
        raw = self.encode(method, path, headers, body)
        for attempt in (0, 1):
            conn, reused = await self._acquire()
            self.in_flight += 1
            try:
                async with asyncio.timeout(within):
                    response = await conn.send(raw)
            except TransportError as exc:
                self._retire(conn)
                # A kept-alive connection the server closed just as the request went out: nothing
                # was processed, so it is safe to send once more on a fresh connection.
                if reused and not exc.got_bytes and attempt == 0:
                    continue
                raise
            except TimeoutError:
                self._retire(conn)
                raise TransportError(f"no answer within {within:g} s", got_bytes=conn.got_bytes) from None
            except BaseException:
                self._retire(conn)
                raise
            finally:
                self.in_flight -= 1
            if conn.keep_alive and conn.usable:
                self._release(conn)
            else:
                self._retire(conn)
            return response
        raise AssertionError("unreachable")

    async def _acquire(self) -> tuple[_HttpConnection, bool]:
        while self.idle:
            conn = self.idle.pop()
            conn.is_idle = False
            if conn.usable:
                return conn, True
            self._retire(conn)
        if self.count < self.limit:
            self.count += 1
            return await self._open(), False
        started = time.perf_counter()
        waiter: asyncio.Future[_HttpConnection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self.waited += 1
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                given = waiter.result()
                if given is None:
                    self.count -= 1
                    self._wake()
                else:
                    self._release(given)
            raise
        finally:
            self.max_wait = max(self.max_wait, time.perf_counter() - started)
        if conn is None:  # a slot was freed for us (counted already): open a connection in it
            return await self._open(), False
        return conn, True

    async def _open(self) -> _HttpConnection:
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: _HttpConnection(self), self.host, self.port)
        except BaseException as exc:
            self.count -= 1
            self._wake()
            if isinstance(exc, OSError):
                raise TransportError(f"could not connect to {self.host}:{self.port}: {exc}") from None
            raise
        self.opened += 1
        self.peak = max(self.peak, self.count)
        return conn

    def _release(self, conn: _HttpConnection) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.is_idle = True
        self.idle.append(conn)

    def _retire(self, conn: _HttpConnection) -> None:
        if conn.retired:
            return
        conn.retired = True
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.close()
        self.count -= 1
        self._wake()

    def _wake(self) -> None:
        while self.waiters and self.count < self.limit:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.count += 1
                waiter.set_result(None)

    def _lost(self, conn: _HttpConnection) -> None:
        """The server closed a connection (an idle one after its keep-alive time, usually). Its slot
        is free at once; the dead connection leaves the idle list when _acquire comes across it."""
        if conn.is_idle:
            self._retire(conn)

    def close(self) -> None:
        for conn in self.idle:
            self._retire(conn)
        self.idle.clear()


# ---- stream (WebSocket) client ------------------------------------------------------------------

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_EVENT_PREFIX = b'{"type":"event"'
_PING_PREFIX = b'{"type":"ping"'
_HELLO = b'{"type":"hello"}'
_PONG = b'{"type":"pong"}'


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked frame, as clients must send them (RFC 6455, 5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if not n:
        return head + mask
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class StreamRefused(Exception):
    """The server said no: an error frame (its code), a close code, or a refused handshake."""

    def __init__(self, message: str, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        # Seconds a busy server asked the client to wait before connecting again (4503 `busy`).
        self.retry_after = retry_after

    @property
    def final(self) -> bool:
        """Whether trying again cannot help (docs/stream.md, "Closing and reconnecting")."""
        return self.code in STREAM_FINAL_ERRORS or self.code.startswith("http ")


# Error codes after which a client does not reconnect; after the others it does.
STREAM_FINAL_ERRORS = frozenset({"not_authenticated", "invalid_authorization", "invalid_token", "session_ended",
                                 "origin_not_allowed", "protocol_error", "4400", "4401", "4403"})


def _fail_future(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
        future.exception()  # whoever awaits it still gets the error; nobody awaiting is no bug


@dataclass
class StreamStats:
    events: int = 0
    closes: Counter[str] = field(default_factory=Counter)  # unexpected closes, by close code
    errors: Counter[str] = field(default_factory=Counter)  # error frames, by code


class StreamClient(asyncio.Protocol):
    """One stream connection: handshake, hello, wait for `live`, answer heartbeats, count events.

    Room events fanned out to the class are recognised by their first bytes and only counted;
    frames that matter (ready, live, error) are decoded."""

    def __init__(self, request: bytes, key: bytes, stats: StreamStats,
                 on_lost: Callable[[StreamClient], None] | None) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
        self.stats = stats
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.live: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.closing = False
        self.close_code: int | None = None
        self.error_code = ""
        self.retry_after: float | None = None

    @classmethod
    async def connect(cls, host: str, port: int, path: str, headers: dict[str, str], stats: StreamStats,
                      on_lost: Callable[[StreamClient], None] | None = None,
                      within: float = STREAM_TIMEOUT) -> StreamClient:
        """Open, say hello and wait for `live`; raises StreamRefused, TransportError or TimeoutError."""
        key = base64.b64encode(os.urandom(16))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: {USER_AGENT}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        ).encode("latin-1")
        client = cls(request, key, stats, on_lost)
        try:
            async with asyncio.timeout(within):
                try:
                    await asyncio.get_running_loop().create_connection(lambda: client, host, port)
                except OSError as exc:
                    raise TransportError(f"could not connect the stream: {exc}") from None
                await client.opened
                await client.live
        except BaseException:
            client.closing = True
            client.abort()
            raise
        return client

    # ---- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._handshake():
            return
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        why = f"the stream closed ({self.close_code} {self.error_code})".strip()
        # Before `live` this is a failed connect (the caller sees it and tries again), not a drop.
        was_live = self.live.done() and not self.live.cancelled() and self.live.exception() is None
        code = self.error_code or (str(self.close_code) if self.close_code else "")
        for future in (self.opened, self.live):
            _fail_future(future, StreamRefused(why, code, self.retry_after) if code else TransportError(why))
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.closing and was_live:
            self.stats.closes[str(self.close_code or self.error_code or "dropped")] += 1
            if self.on_lost is not None:
                self.on_lost(self)

    # ---- the protocol -------------------------------------------------------------------------

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > 65536:
                self._refuse("an endless handshake answer")
            return False
        head = bytes(self.buffer[:end])
        del self.buffer[: end + 4]
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or parts[1] != b"101":
            status = parts[1].decode(errors="replace") if len(parts) > 1 else "?"
            # A 5xx is the server's trouble of the moment; anything else will not change.
            self._refuse(f"the handshake was answered {status_line.decode(errors='replace')}: "
                         f"{bytes(self.buffer[:300]).decode(errors='replace')}",
                         "" if status.startswith("5") else f"http {status}")
            return False
        accept = b""
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-accept":
                accept = value.strip()
        if accept != self.accept:
            self._refuse("the handshake answer did not match the key")
            return False
        self.upgraded = True
        self.opened.set_result(None)
        self.send(1, _HELLO)
        return True

    def _refuse(self, why: str, code: str = "") -> None:
        _fail_future(self.opened, StreamRefused(why, code))
        _fail_future(self.live, StreamRefused(why, code))
        self.closing = True
        self.abort()

    def _frames(self) -> None:
        buffer = self.buffer
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                start = pos + 10
            if b1 & 0x80:  # a masked frame from a server is a protocol error; skip the key
                start += 4
            end = start + length
            if end > size:
                break
            self._frame(b0, bytes(buffer[start:end]))
            pos = end
        if pos:
            del buffer[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode == 0:  # continuation
            if self.fragments is None:
                return
            self.fragments.append(payload)
            if b0 & 0x80:
                payload, self.fragments = b"".join(self.fragments), None
                self._text(payload)
        elif opcode in (1, 2):
            if b0 & 0x80:
                self._text(payload)
            else:
                self.fragments = [payload]
        elif opcode == 9:  # a WebSocket-level ping
            self.send(10, payload)
        elif opcode == 8:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
            self.send(8, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _text(self, payload: bytes) -> None:
        if payload.startswith(_EVENT_PREFIX):
            self.stats.events += 1
            return
        if payload.startswith(_PING_PREFIX):
            self.send(1, _PONG)
            return
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        kind = frame.get("type")
        if kind == "live":
            if not self.live.done():
                self.live.set_result(None)
        elif kind == "error":
            self.error_code = str(frame.get("code") or "error")
            self.stats.errors[self.error_code] += 1
            retry_after = frame.get("retry_after")
            if isinstance(retry_after, (int, float)) and retry_after >= 0:
                self.retry_after = float(retry_after)
            _fail_future(self.live, StreamRefused(f"the stream refused: {payload[:300].decode(errors='replace')}",
                                                  self.error_code, self.retry_after))

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_client_frame(opcode, payload))

    # ---- ending -------------------------------------------------------------------------------

    def abort(self) -> None:
        """Gone without a word, as when a phone loses its network: the server sees a reset."""
        if self.transport is not None:
            self.transport.abort()

    async def close(self, wait: float = 2.0) -> None:
        self.closing = True
        if self.closed.done():
            return
        self.send(8, (1000).to_bytes(2, "big"))
        try:
            async with asyncio.timeout(wait):
                await asyncio.shield(self.closed)
        except TimeoutError:
            self.abort()


# ---- the school ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    email: str
    member_id: str
    session: str = ""  # the session cookie's value ("" until signed in)
    csrf: str = ""

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.session}", "X-CSRF-Token": self.csrf}


@dataclass(slots=True)
class ClassRoom:
    index: int
    name: str
    department_id: str
    conversation_id: str
    teacher: Person
    room_id: str = ""
    stream: StreamClient | None = None


@dataclass(slots=True)
class Student:
    index: int
    person: Person
    classroom: ClassRoom
    signs_in: bool
    drops: bool
    at: float  # seconds into the window
    started: float = 0.0
    admitted: float = 0.0
    live_at: float = 0.0
    refusals: int = 0
    attempts: int = 0  # of the first join, retries included
    ticket: str = ""
    stream: StreamClient | None = None
    deadline: float = 0.0  # when this student stops trying (perf_counter time)
    failure: str = ""  # "" while all is well: sign_in, join, stream, rejoin, leave
    failure_detail: str = ""
    rejoined: bool | None = None  # for the drop share: None until tried
    left: bool = False


@dataclass
class School:
    org_id: str
    name: str
    classes: list[ClassRoom]
    students: list[Student]


async def seed_school(config: JoinStormConfig, rng: random.Random, run_id: str, progress: Progress) -> School:
    """Write the school into the server's database: bulk inserts in one transaction."""
    from sqlalchemy import insert

    from tack.chat.models import (
        Conversation,
        ConversationKind,
        ConversationMember,
        ConversationRole,
        MemberSource,
    )
    from tack.core.auth import sha256
    from tack.core.config import Settings
    from tack.core.db import Database, utcnow
    from tack.core.events import ensure_streams
    from tack.core.ids import new_id
    from tack.core.passwords import hash_password
    from tack.identity.models import Account, SignInSession
    from tack.orgs.models import (
        Department,
        DepartmentKind,
        MemberDepartment,
        MemberRole,
        Membership,
        MemberStatus,
        Organization,
        OrgKind,
        Role,
    )
    from tack.orgs.search import search_keys

    started = time.perf_counter()
    n, m = config.students, config.classes
    # Hashed once: every account of the school shares it (argon2 is deliberately slow).
    password_hash = await hash_password(PASSWORD)
    now = utcnow()
    expires = now + timedelta(days=30)
    domain = f"joinstorm-{run_id}.bench.example"
    org_id, root_id = new_id(), new_id()
    school_name = f"Join Storm School {run_id}"
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "accounts", "orgs", "departments", "members", "roles", "member_departments", "conversations",
        "conversation_members", "sessions")}
    rows["orgs"].append({"id": org_id, "name": school_name, "kind": OrgKind.school.value, "created_at": now,
                         "root_department_id": root_id})

    def department(dept_id: str, parent: str | None, name: str, kind: DepartmentKind, order: int) -> None:
        rows["departments"].append({"org_id": org_id, "id": dept_id, "parent_id": parent, "name": name,
                                    "kind": kind.value, "sort_order": order, "created_at": now})

    def person(name: str, local: str, staff_id: str, role: Role, department_id: str, signed_in: bool) -> Person:
        account_id, member_id = new_id(), new_id()
        email = f"{local}@{domain}"
        rows["accounts"].append({"id": account_id, "name": name, "email": email, "mobile": None,
                                 "password_hash": password_hash, "locale": None, "is_active": True,
                                 "created_at": now})
        search_text, sort_name = search_keys(name, staff_id)
        rows["members"].append({"org_id": org_id, "id": member_id, "account_id": account_id, "display_name": name,
                                "staff_id": staff_id, "title": None, "mobile": None, "email": email,
                                "manager_id": None, "status": MemberStatus.active.value,
                                "search_text": search_text, "sort_name": sort_name, "joined_at": now,
                                "removed_at": None})
        rows["roles"].append({"org_id": org_id, "member_id": member_id, "role": role.value})
        rows["member_departments"].append({"org_id": org_id, "member_id": member_id, "department_id": department_id})
        who = Person(email=email, member_id=member_id)
        if signed_in:
            # As tack/identity/service.py start_session makes them: the cookie holds a random
            # token, the row its SHA-256.
            who.session = secrets.token_urlsafe(32)
            rows["sessions"].append({"id": sha256(who.session), "account_id": account_id, "created_at": now,
                                     "last_seen_at": now, "expires_at": expires, "revoked_at": None,
                                     "user_agent": USER_AGENT, "ip_address": "127.0.0.1",
                                     "public_id": new_id()})
        return who

    department(root_id, None, school_name, DepartmentKind.department, 0)
    grades = min(6, m)
    grade_ids = [new_id() for _ in range(grades)]
    for g, grade_id in enumerate(grade_ids, start=1):
        department(grade_id, root_id, f"Grade {g}", DepartmentKind.grade, g)
    classes: list[ClassRoom] = []
    for c in range(m):
        grade = c % grades
        class_id, conversation_id = new_id(), new_id()
        name = f"Grade {grade + 1} Class {c // grades + 1}"
        department(class_id, grade_ids[grade], name, DepartmentKind.klass, c // grades + 1)
        teacher = person(f"Teacher {c + 1:04d}", f"t{c + 1:04d}", f"T{c + 1:04d}", Role.teacher, class_id, True)
        classes.append(ClassRoom(c, name, class_id, conversation_id, teacher))
        # The class group as a teacher makes it (tack/chat/service.py create_department_group):
        # they own it; the class's people are in it because they belong to the class.
        rows["conversations"].append({"org_id": org_id, "id": conversation_id, "kind": ConversationKind.klass.value,
                                      "name": name, "announcement": None, "owner_id": teacher.member_id,
                                      "department_id": class_id, "direct_key": None,
                                      "created_by": teacher.member_id, "created_at": now, "last_seq": 0,
                                      "last_message_id": None, "last_activity_at": now})
        rows["conversation_members"].append(_seat(org_id, conversation_id, teacher.member_id,
                                                  ConversationRole.owner.value, MemberSource.manual.value, now))
    signing_in = set(rng.sample(range(n), round(n * config.sign_in_share)))
    dropping = set(rng.sample(range(n), round(n * config.drop_share)))
    students: list[Student] = []
    for i in range(n):
        classroom = classes[i % m]
        who = person(f"Student {i + 1:05d}", f"s{i + 1:05d}", f"S{i + 1:05d}", Role.student,
                     classroom.department_id, i not in signing_in)
        rows["conversation_members"].append(_seat(org_id, classroom.conversation_id, who.member_id,
                                                  ConversationRole.member.value, MemberSource.department.value, now))
        students.append(Student(index=i, person=who, classroom=classroom, signs_in=i in signing_in,
                                drops=i in dropping, at=rng.uniform(0, config.window)))
    tables = (
        (Account, rows["accounts"]), (Organization, rows["orgs"]), (Department, rows["departments"]),
        (Membership, rows["members"]), (MemberRole, rows["roles"]), (MemberDepartment, rows["member_departments"]),
        (Conversation, rows["conversations"]), (ConversationMember, rows["conversation_members"]),
        (SignInSession, rows["sessions"]),
    )
    total = sum(len(items) for _, items in tables)
    progress(f"Writing the school into {_database_where(config.database_url)}: {len(rows['accounts']):,} accounts, "
             f"{m} classes, {total:,} rows...")
    settings = Settings(database_url=config.database_url)
    _check_sqlite_file(settings.database_url)
    database = Database(settings)
    written, last_report = 0, time.monotonic()
    try:
        async with database.session() as session:
            # A writing transaction (on SQLite: BEGIN IMMEDIATE, queued behind the server's writers).
            await session.connection(execution_options={"tack_write": True})
            for model, items in tables:
                for chunk in range(0, len(items), 2000):
                    await session.execute(insert(model), items[chunk : chunk + 2000])
                    written += len(items[chunk : chunk + 2000])
                    if time.monotonic() - last_report > 2:
                        last_report = time.monotonic()
                        progress(f"  {written:,}/{total:,} rows")
            # The organization's event log, so 10,000 first connections do not all race to make it.
            await ensure_streams(session, [org_id])
            await session.commit()
    except Exception as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's words, without the SQL and its rows
        raise BenchError(f"Could not write the school into {_database_where(config.database_url)}: "
                         f"{type(cause).__name__}: {str(cause)[:300]}. It must be the database of the server "
                         f"at {config.url}, migrated (tack migrate).") from None
    finally:
        await database.dispose()
    progress(f"Wrote {total:,} rows in {time.perf_counter() - started:.1f} s "
             f"({len(signing_in):,} students will sign in during the storm, {len(dropping):,} will drop and rejoin).")
    return School(org_id=org_id, name=school_name, classes=classes, students=students)


def _seat(org_id: str, conversation_id: str, member_id: str, role: str, source: str, now: Any) -> dict[str, Any]:
    return {"org_id": org_id, "conversation_id": conversation_id, "member_id": member_id, "role": role,
            "source": source, "read_seq": 0, "read_at": None, "joined_at": now}


def _check_sqlite_file(url: str) -> None:
    """SQLite would quietly create a missing file: say that it is not the server's database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        if not os.path.exists(parsed.database):
            raise BenchError(f"There is no SQLite database at {parsed.database}: --database-url must be the "
                             "database of the server the bench drives.")


def _database_where(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return "the database"
    if parsed.drivername.startswith("sqlite"):
        return f"SQLite {parsed.database}"
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


# ---- the storm ----------------------------------------------------------------------------------


class JoinStorm:
    def __init__(self, config: JoinStormConfig, *, probe_pid: int | None, progress: Progress) -> None:
        self.config = config
        self.progress = progress
        self.probe_pid = probe_pid
        self.rng = random.Random(config.seed)
        self.run_id = uuid.uuid4().hex[:8]
        parts = urlsplit(config.url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.http = HttpPool(config.url, config.http_connections or 1000)
        self.stats = StreamStats()
        self.school: School | None = None
        self.join_deadline = 0.0
        # Figures, filled in as the storm goes.
        self.join_latencies: list[float] = []
        self.rejoin_latencies: list[float] = []
        self.attempt_ok: list[float] = []  # one admitted join request: how long the server took
        self.attempt_busy: list[float] = []  # one refused join request
        self.sign_in_latencies: list[float] = []
        self.live_latencies: list[float] = []  # admitted -> stream live
        self.ready_latencies: list[float] = []  # the student's moment -> stream live (all of it)
        self.leave_latencies: list[float] = []
        self.refused = 0  # busy answers to first joins
        self.rejoin_refused = 0
        self.sign_in_refused = 0
        self.transport_errors = 0
        self.other_statuses: Counter[str] = Counter()
        self.stream_reconnects = 0
        self.stream_retries = 0
        self.started = 0
        self.background: set[asyncio.Task[None]] = set()

    # ---- helpers ------------------------------------------------------------------------------

    def _path(self, room_id: str, action: str) -> str:
        assert self.school is not None
        return f"{API}/orgs/{self.school.org_id}/rooms/{room_id}/{action}"

    @staticmethod
    def _fail(student: Student, what: str, detail: str) -> None:
        if not student.failure:
            student.failure, student.failure_detail = what, detail[:400]

    async def _stream(self, person: Person, on_lost: Callable[[StreamClient], None] | None = None) -> StreamClient:
        headers = {"Cookie": f"{SESSION_COOKIE}={person.session}", "Origin": self.origin}
        return await StreamClient.connect(self.host, self.port, f"{API}/stream", headers, self.stats, on_lost)

    # ---- set-up -------------------------------------------------------------------------------

    async def check_server(self) -> None:
        try:
            response = await self.http.request("GET", "/readyz", within=10)
        except TransportError as exc:
            raise BenchError(f"The server at {self.config.url} cannot be reached ({exc}). Is it running?") from None
        if response.status != 200:
            raise BenchError(f"The server at {self.config.url} is not ready: /readyz answered {response.describe()}")

    async def fetch_csrf_tokens(self, people: list[Person]) -> None:
        """What the web client does when it starts with a kept session: GET /auth/session."""
        semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)
        done, last_report = 0, time.monotonic()

        async def fetch(person: Person) -> None:
            nonlocal done, last_report
            async with semaphore:
                response = await self.http.request("GET", f"{API}/auth/session",
                                                   {"Cookie": f"{SESSION_COOKIE}={person.session}"})
            if response.status == 401:
                raise BenchError(
                    f"The server at {self.config.url} does not know the sessions the bench wrote into "
                    f"{_database_where(self.config.database_url)}: --database-url must be the database "
                    "this server uses.")
            if response.status != 200:
                raise BenchError(f"GET {API}/auth/session answered {response.describe()}")
            person.csrf = response.json()["csrf_token"]
            done += 1
            if time.monotonic() - last_report > 3:
                last_report = time.monotonic()
                self.progress(f"  {done:,}/{len(people):,} signed-in clients started")

        await _gather_all(fetch(p) for p in people)

    async def start_classes(self) -> None:
        assert self.school is not None
        semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)
        org_id = self.school.org_id

        async def start(classroom: ClassRoom) -> None:
            teacher = classroom.teacher
            async with semaphore:
                body = json.dumps({"kind": "class", "conversation_id": classroom.conversation_id}).encode()
                response = await self.http.request("POST", f"{API}/orgs/{org_id}/rooms", teacher.headers(), body)
                if response.status == 404:
                    raise BenchError(f"POST {API}/orgs/{{org}}/rooms answered {response.describe()}: does the server at "
                                     f"{self.config.url} have rooms (docs/rooms.md), and is "
                                     f"{_database_where(self.config.database_url)} its database?")
                if response.status not in (200, 201):
                    raise BenchError(f"A teacher could not start their class: POST {API}/orgs/{org_id}/rooms "
                                     f"answered {response.describe()}")
                classroom.room_id = response.json()["id"]
                for _ in range(20):
                    response = await self.http.request("POST", self._path(classroom.room_id, "join"),
                                                       teacher.headers(), b"{}")
                    if response.status not in BUSY_STATUSES:
                        break
                    await asyncio.sleep(response.retry_after() + self.rng.random())
                if response.status != 200:
                    raise BenchError(f"A teacher could not join their class: {response.describe()}")
                try:
                    classroom.stream = await self._stream(teacher)
                except (StreamRefused, TransportError, TimeoutError) as exc:
                    raise BenchError(f"A teacher's stream did not go live: {exc!r}") from None

        await _gather_all(start(c) for c in self.school.classes)

    # ---- one student --------------------------------------------------------------------------

    async def student(self, s: Student, t0: float) -> None:
        try:
            delay = t0 + s.at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            s.started = time.perf_counter()
            s.deadline = self.join_deadline
            self.started += 1
            if s.signs_in and not await self._sign_in(s):
                return
            if not await self._join(s, rejoin=False):
                return
            if not await self._open_stream(s):
                return
            s.live_at = time.perf_counter()
            self.live_latencies.append(s.live_at - s.admitted)
            self.ready_latencies.append(s.live_at - s.started)
            if s.drops:
                await asyncio.sleep(self.rng.uniform(0.2, 2.0))
                await self._drop_and_rejoin(s)
        except Exception as exc:  # a bug here must cost one student, not the run
            self._fail(s, "bench", repr(exc))

    async def _sign_in(self, s: Student) -> bool:
        body = json.dumps({"login": s.person.email, "password": PASSWORD}).encode()
        began = time.perf_counter()
        while True:
            try:
                response = await self.http.request("POST", f"{API}/auth/sign-in", None, body)
            except TransportError as exc:
                self.transport_errors += 1
                if not await self._backoff(s, "sign_in", str(exc)):
                    return False
                continue
            if response.status == 200:
                session = response.cookie(SESSION_COOKIE)
                if not session:
                    self._fail(s, "sign_in", "the sign-in answer set no session cookie")
                    return False
                s.person.session, s.person.csrf = session, response.json()["csrf_token"]
                self.sign_in_latencies.append(time.perf_counter() - began)
                return True
            if response.status in BUSY_STATUSES:
                self.sign_in_refused += 1
                if not await self._wait_retry(s, "sign_in", response):
                    return False
                continue
            self.other_statuses[f"sign-in {response.status}"] += 1
            self._fail(s, "sign_in", response.describe())
            return False

    async def _join(self, s: Student, *, rejoin: bool) -> bool:
        body = json.dumps({"ticket": s.ticket}).encode() if rejoin else b"{}"
        path = self._path(s.classroom.room_id, "join")
        began = time.perf_counter()
        what = "rejoin" if rejoin else "join"
        while True:
            if not rejoin:
                s.attempts += 1
            sent = time.perf_counter()
            try:
                response = await self.http.request("POST", path, s.person.headers(), body)
            except TransportError as exc:
                self.transport_errors += 1
                if not await self._backoff(s, what, str(exc)):
                    return False
                continue
            answered = time.perf_counter()
            if response.status == 200:
                self.attempt_ok.append(answered - sent)
                try:
                    ticket = response.json()
                    s.ticket = s.ticket or ticket["ticket"]
                    rejoined = bool(ticket.get("rejoined"))
                except (ValueError, KeyError, TypeError):
                    self._fail(s, what, f"an unreadable join answer: {response.describe()}")
                    return False
                if rejoin:
                    s.rejoined = rejoined
                    self.rejoin_latencies.append(answered - began)
                    if not rejoined:
                        self._fail(s, "rejoin", "the join with the ticket answered rejoined: false")
                        return False
                else:
                    s.admitted = answered
                    self.join_latencies.append(answered - began)
                    # Whoever got in just before the deadline still gets the time to connect and rejoin.
                    s.deadline = max(s.deadline, answered + self.config.give_up)
                return True
            if response.status in BUSY_STATUSES:
                self.attempt_busy.append(answered - sent)
                if rejoin:
                    self.rejoin_refused += 1
                else:
                    self.refused += 1
                    s.refusals += 1
                if not await self._wait_retry(s, what, response):
                    return False
                continue
            self.other_statuses[f"{what} {response.status} {response.error().get('code', '')}".strip()] += 1
            self._fail(s, what, response.describe())
            return False

    async def _wait_retry(self, s: Student, what: str, response: Response) -> bool:
        return await self._wait(s, what, response.retry_after(), response.describe())

    async def _wait(self, s: Student, what: str, retry_after: float, detail: str) -> bool:
        """Wait what the server asked plus jitter, so the retries do not come back as one wave."""
        wait = retry_after + self.rng.uniform(0, max(1.0, retry_after * 0.25))
        if time.perf_counter() + wait > s.deadline:
            self._fail(s, what, f"still refused at the give-up deadline: {detail}")
            return False
        await asyncio.sleep(wait)
        return True

    async def _backoff(self, s: Student, what: str, detail: str) -> bool:
        wait = self.rng.uniform(0.5, 2.0)
        if time.perf_counter() + wait > s.deadline:
            self._fail(s, what, f"no answer until the give-up deadline: {detail}")
            return False
        await asyncio.sleep(wait)
        return True

    async def _open_stream(self, s: Student) -> bool:
        """Connect until `live`; like a real client, try again after what the protocol says is
        worth another try (a broken connection, an internal error), until the give-up deadline."""
        while True:
            try:
                s.stream = await self._stream(s.person, lambda client, s=s: self._stream_lost(s, client))
                return True
            except StreamRefused as exc:
                if exc.final:
                    self._fail(s, "stream", str(exc))
                    return False
                self.stream_retries += 1
                # A busy server says when to come back, as the web client hears it (web/src/stream).
                if exc.retry_after is not None:
                    if not await self._wait(s, "stream", exc.retry_after, str(exc)):
                        return False
                elif not await self._backoff(s, "stream", str(exc)):
                    return False
            except (TransportError, TimeoutError) as exc:
                self.stream_retries += 1
                if not await self._backoff(s, "stream", repr(exc)):
                    return False

    def _stream_lost(self, s: Student, client: StreamClient) -> None:
        """The server closed a stream we meant to keep: a real client reconnects."""
        if s.stream is not client or s.left:
            return
        self.stream_reconnects += 1

        async def again() -> None:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            if s.left or s.stream is not client:
                return
            s.deadline = max(s.deadline, time.perf_counter() + self.config.give_up)
            await self._open_stream(s)

        # Kept until done: the event loop holds only weak references to tasks.
        task = asyncio.get_running_loop().create_task(again())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _drop_and_rejoin(self, s: Student) -> None:
        """Both connections are lost at once; back, the app joins again with its ticket while the
        stream reconnects (as the web client does: the join does not wait for the stream)."""
        old, s.stream = s.stream, None
        if old is not None:
            old.closing = True
            old.abort()
        joined, streaming = await asyncio.gather(self._join(s, rejoin=True), self._open_stream(s))
        if not (joined and streaming):
            s.rejoined = False

    async def leave(self, s: Student) -> None:
        s.left = True
        began = time.perf_counter()
        # Leaving is idempotent: an app whose request got no answer (counted in transport_errors)
        # sends it again, until the give-up deadline.
        s.deadline = time.perf_counter() + self.config.give_up
        while True:
            try:
                response = await self.http.request("POST", self._path(s.classroom.room_id, "leave"),
                                                   s.person.headers())
            except TransportError as exc:
                self.transport_errors += 1
                if await self._backoff(s, "leave", str(exc)):
                    continue
            else:
                if response.status == 204:
                    self.leave_latencies.append(time.perf_counter() - began)
                else:
                    self.other_statuses[f"leave {response.status}"] += 1
                    self._fail(s, "leave", response.describe())
            break
        if s.stream is not None:
            await s.stream.close()

    # ---- the run ------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        import httpx

        cfg = self.config
        await self.check_server()
        self.school = school = await seed_school(cfg, self.rng, self.run_id, self.progress)
        signed_in = [s.person for s in school.students if s.person.session]
        try:
            self.progress(f"Starting {len(signed_in):,} signed-in students' and {len(school.classes)} teachers' "
                          "clients (GET /auth/session)...")
            await self.fetch_csrf_tokens([c.teacher for c in school.classes] + signed_in)
            self.progress(f"{len(school.classes)} teachers start their classes, join them and open their streams...")
            await self.start_classes()
        except TransportError as exc:
            raise BenchError(f"The server at {cfg.url} stopped answering during the set-up: {exc}") from None
        async with httpx.AsyncClient(timeout=10) as scraper:
            probe: ProcessProbe | MetricsProbe = (ProcessProbe(self.probe_pid) if self.probe_pid
                                                  else MetricsProbe(scraper, cfg.url))
            metrics_url = cfg.url + "/metrics"
            await asyncio.sleep(0.5)
            before = await probe.read()
            waits_before = await _scrape_waits(scraper, metrics_url)
            own_before, machine_before = _own_cpu(), machine_cpu_seconds()
            t0 = time.perf_counter() + 0.2
            self.join_deadline = t0 + cfg.window + cfg.give_up
            self.progress(f"The storm: {cfg.students:,} students join {cfg.classes} classes within {cfg.window:g} s "
                          f"(admission control {'on' if cfg.admission else 'off'})...")
            reporter = asyncio.create_task(self._report_progress(t0))
            try:
                await asyncio.gather(*(self.student(s, t0) for s in school.students))
            finally:
                reporter.cancel()
            all_in = time.perf_counter()
            storm_usage = await probe.read()
            storm_own, storm_machine = _own_cpu(), machine_cpu_seconds()
            held = sum(1 for s in school.students if s.stream is not None and not s.stream.closed.done())
            self.progress(f"Everyone is in or has given up after {all_in - t0:.1f} s; {held:,} students hold their "
                          f"stream. Holding for {cfg.hold:g} s...")
            await asyncio.sleep(min(1.0, cfg.hold))
            peak = await probe.read()
            await asyncio.sleep(max(0.0, cfg.hold - 1.0))
            waits_after = await _scrape_waits(scraper, metrics_url)
            self.progress("Everyone leaves (POST .../leave) and closes their stream...")
            leaving = [s for s in school.students if s.admitted]
            await asyncio.gather(*(self.leave(s) for s in leaving))
            await asyncio.gather(*(self._teacher_leaves(c) for c in school.classes), return_exceptions=True)
            ended = time.perf_counter()
            end_usage = await probe.read()
        self.http.close()
        return self._results(t0=t0, all_in=all_in, ended=ended, before=before, storm=storm_usage, peak=peak,
                             end=end_usage, own=(own_before, storm_own), machine=(machine_before, storm_machine),
                             waits=(waits_before, waits_after))

    async def _teacher_leaves(self, classroom: ClassRoom) -> None:
        try:
            await self.http.request("POST", self._path(classroom.room_id, "leave"), classroom.teacher.headers())
        finally:
            if classroom.stream is not None:
                await classroom.stream.close()

    async def _report_progress(self, t0: float) -> None:
        assert self.school is not None
        every = 2.0 if self.config.window <= 30 else 5.0
        students = self.school.students
        while True:
            await asyncio.sleep(every)
            admitted = sum(1 for s in students if s.admitted)
            live = sum(1 for s in students if s.live_at)
            failed = sum(1 for s in students if s.failure)
            self.progress(f"  {time.perf_counter() - t0:5.1f} s: {self.started:,} arrived, {admitted:,} admitted, "
                          f"{self.refused:,} refusals, {live:,} live, {failed:,} failed, "
                          f"{self.http.in_flight:,} requests in flight on {self.http.count:,} connections")

    # ---- figures ------------------------------------------------------------------------------

    def _results(self, *, t0: float, all_in: float, ended: float, before: Usage, storm: Usage, peak: Usage,
                 end: Usage, own: tuple[float, float], machine: tuple[float | None, float | None],
                 waits: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        assert self.school is not None
        cfg = self.config
        students = self.school.students
        failures = Counter(s.failure for s in students if s.failure)
        samples: dict[str, str] = {}
        for s in students:
            if s.failure and s.failure not in samples:
                samples[s.failure] = s.failure_detail
        rejoins = [s for s in students if s.drops and s.admitted]
        lost_rejoins = sum(1 for s in rejoins if s.rejoined is not True)
        span = max(1e-9, all_in - t0)
        cpu = _delta(before.cpu_seconds, storm.cpu_seconds)
        own_cpu = own[1] - own[0]
        machine_cpu = _delta(machine[0], machine[1])
        others = (max(0.0, machine_cpu - cpu - own_cpu)
                  if machine_cpu is not None and cpu is not None else None)
        longest, source = _longest_wait(*waits)
        for values in (self.join_latencies, self.rejoin_latencies, self.attempt_ok, self.attempt_busy,
                       self.sign_in_latencies, self.live_latencies, self.ready_latencies, self.leave_latencies):
            values.sort()
        j = self.join_latencies
        return {
            "students": cfg.students,
            "classes": cfg.classes,
            "window_s": cfg.window,
            "admission": cfg.admission,
            "admitted": sum(1 for s in students if s.admitted),
            "refused": self.refused,
            "refused_students": sum(1 for s in students if s.refusals),
            "failed": sum(1 for s in students if s.failure),
            "failures": dict(failures),
            "failure_samples": samples,
            "rejoins": len(rejoins),
            "rejoined": sum(1 for s in rejoins if s.rejoined is True),
            "lost_rejoins": lost_rejoins,
            "rejoin_refused": self.rejoin_refused,
            "p50_ms": _ms(_percentile(j, 50)),
            "p95_ms": _ms(_percentile(j, 95)),
            "p99_ms": _ms(_percentile(j, 99)),
            "max_ms": _ms(j[-1] if j else None),
            "attempt_p50_ms": _ms(_percentile(self.attempt_ok, 50)),
            "attempt_p99_ms": _ms(_percentile(self.attempt_ok, 99)),
            "busy_p50_ms": _ms(_percentile(self.attempt_busy, 50)),
            "busy_p99_ms": _ms(_percentile(self.attempt_busy, 99)),
            "rejoin_p50_ms": _ms(_percentile(self.rejoin_latencies, 50)),
            "rejoin_p99_ms": _ms(_percentile(self.rejoin_latencies, 99)),
            "live_p50_ms": _ms(_percentile(self.live_latencies, 50)),
            "live_p99_ms": _ms(_percentile(self.live_latencies, 99)),
            "ready_p50_ms": _ms(_percentile(self.ready_latencies, 50)),
            "ready_p99_ms": _ms(_percentile(self.ready_latencies, 99)),
            "sign_ins": sum(1 for s in students if s.signs_in),
            "sign_in_p50_ms": _ms(_percentile(self.sign_in_latencies, 50)),
            "sign_in_p99_ms": _ms(_percentile(self.sign_in_latencies, 99)),
            "sign_in_refused": self.sign_in_refused,
            "leave_p50_ms": _ms(_percentile(self.leave_latencies, 50)),
            "leave_p99_ms": _ms(_percentile(self.leave_latencies, 99)),
            "max_queue_wait_ms": _ms(longest),
            "max_queue_wait_source": source,
            "storm_s": round(span, 2),
            "max_attempts": max((s.attempts for s in students), default=0),
            "transport_errors": self.transport_errors,
            "other_statuses": dict(self.other_statuses),
            "stream_events": self.stats.events,
            "stream_closes": dict(self.stats.closes),
            "stream_errors": dict(self.stats.errors),
            "stream_reconnects": self.stream_reconnects,
            "stream_retries": self.stream_retries,
            "server_cpu_s": round(cpu, 2) if cpu is not None else None,
            "server_cpu_busy": round(cpu / span, 3) if cpu is not None else None,
            "server_cpu_total_s": (round(end.cpu_seconds - before.cpu_seconds, 2)
                                   if end.cpu_seconds is not None and before.cpu_seconds is not None else None),
            "server_rss_mb": round(peak.rss_bytes / 2**20, 1) if peak.rss_bytes is not None else None,
            "server_rss_before_mb": round(before.rss_bytes / 2**20, 1) if before.rss_bytes is not None else None,
            "bench_cpu_s": round(own_cpu, 2),
            "other_cpu_s": round(others, 2) if others is not None else None,
            "other_cpu_busy": round(others / span, 3) if others is not None else None,
            "http_connections_peak": self.http.peak,
            "http_connections_opened": self.http.opened,
            "http_connection_waits": self.http.waited,
            "http_connections_limit": self.http.limit,
            "http_connection_wait_max_ms": _ms(self.http.max_wait),
            "cores": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2),
            "leave_s": round(ended - all_in - cfg.hold, 2),
            "sign_in_share": cfg.sign_in_share,
            "drop_share": cfg.drop_share,
            "hold_s": cfg.hold,
            "give_up_s": cfg.give_up,
        }


async def _gather_all(coros: Any) -> None:
    """Run them all; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# ---- the admission queue's longest wait, from /metrics ------------------------------------------


async def _scrape_waits(client: Any, url: str) -> dict[str, Any]:
    """The room-join gate's longest-wait gauge and queue-wait histogram buckets ({} if unreadable)."""
    try:
        response = await client.get(url)
    except Exception:
        return {}
    if response.status_code != 200:
        return {}
    return parse_waits(response.text)


def parse_waits(text: str) -> dict[str, Any]:
    label = f'gate="{GATE}"'
    gauge: float | None = None
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if label not in line:
            continue
        name, _, rest = line.partition("{")
        labels, _, value = rest.rpartition("} ")
        try:
            number = float(value.split()[0])
        except (ValueError, IndexError):
            continue
        if name == "tack_admission_longest_wait_seconds":
            gauge = number
        elif name == "tack_admission_queue_wait_seconds_bucket":
            for part in labels.split(","):
                if part.startswith("le="):
                    buckets[float(part[3:].strip('"'))] = number
    return {"gauge": gauge, "buckets": buckets}


def _longest_wait(before: dict[str, Any], after: dict[str, Any]) -> tuple[float | None, str]:
    """The longest queue wait of this run: the gauge when this run raised it (it holds the longest
    since the server started), else the upper bound of the highest histogram bucket that filled
    during the run (the histogram only says "at most this long")."""
    gauge_before, gauge_after = before.get("gauge"), after.get("gauge")
    if gauge_after is not None and (gauge_before is None or gauge_after > gauge_before):
        return gauge_after, "gauge"
    buckets = after.get("buckets") or {}
    if not buckets:
        if gauge_after is not None:
            return gauge_after, "gauge (since the server started)"
        return None, "none"
    earlier = before.get("buckets") or {}
    grew = {le: count - earlier.get(le, 0.0) for le, count in buckets.items()}
    total = grew.get(math.inf, max(grew.values()))
    if total <= 0:
        return 0.0, "histogram (nobody waited)"
    finite = sorted(le for le in grew if le != math.inf)
    for le in finite:
        if grew[le] >= total:
            return le, "histogram bucket (at most)"
    return (finite[-1] if finite else None), "histogram bucket (more than)"


# ---- report -------------------------------------------------------------------------------------


def format_report(r: dict[str, Any], *, where: str) -> str:
    def value(key: str, unit: str = "", digits: int = 1) -> str:
        v = r.get(key)
        if v is None:
            return "n/a"
        return f"{v:,.{digits}f}{unit}" if isinstance(v, float) else f"{v:,}{unit}"

    wait_note = {"gauge": "", "none": " (admission control is off)" if not r["admission"]
                 else " (the server exports no admission figures)"}.get(
        r.get("max_queue_wait_source") or "", f" ({r.get('max_queue_wait_source')})")
    lines = [
        "",
        f"tack bench join-storm: {r['students']:,} students join {r['classes']} classes within {r['window_s']:g} s, "
        f"admission control {'on' if r['admission'] else 'OFF'}; {where}",
        "",
        f"  admitted          {value('admitted')} of {r['students']:,}   students let in by their class's room",
        f"  refused           {value('refused')}   busy answers to joins ({value('refused_students')} students "
        f"refused at least once; most attempts by one student: {r['max_attempts']})",
        f"  failed            {value('failed')}   students who did not get through: "
        + (", ".join(f"{k} {v}" for k, v in r["failures"].items()) or "none"),
        f"  join latency p50  {value('p50_ms', ' ms')}   first join attempt to being let in, retries and waits included",
        f"  join latency p95  {value('p95_ms', ' ms')}",
        f"  join latency p99  {value('p99_ms', ' ms')}   (max {value('max_ms', ' ms')}; one admitted request: p50 "
        f"{value('attempt_p50_ms', ' ms')}, p99 {value('attempt_p99_ms', ' ms')}; one refusal p50 "
        f"{value('busy_p50_ms', ' ms')})",
        f"  rejoins           {value('rejoined')} of {value('rejoins')} back in with their ticket, "
        f"{value('lost_rejoins')} lost   (p50 {value('rejoin_p50_ms', ' ms')}, p99 {value('rejoin_p99_ms', ' ms')})",
        f"  longest queue wait {value('max_queue_wait_ms', ' ms')}   in the server's admission queue{wait_note}",
        f"  server CPU        {value('server_cpu_s', ' s', 2)}   during the storm of {r['storm_s']:g} s "
        f"({_percent(r.get('server_cpu_busy'))} of one core)",
        f"  server memory     {value('server_rss_mb', ' MB')}   resident, with everyone in "
        f"(before the storm {value('server_rss_before_mb', ' MB')})",
        "",
        f"  sign-ins {r['sign_ins']:,} (p50 {value('sign_in_p50_ms', ' ms')}, p99 {value('sign_in_p99_ms', ' ms')}, "
        f"{r['sign_in_refused']} refused); stream live after being let in p50 {value('live_p50_ms', ' ms')}, "
        f"p99 {value('live_p99_ms', ' ms')}; arrival to live p99 {value('ready_p99_ms', ' ms')}",
        f"  leave p50 {value('leave_p50_ms', ' ms')}, p99 {value('leave_p99_ms', ' ms')}; {r['stream_events']:,} room "
        f"events received; streams the server closed {r['stream_closes'] or 'none'}, "
        f"error frames {r['stream_errors'] or 'none'}, connects tried again {r['stream_retries']}",
        f"  this bench used {r['bench_cpu_s']:.1f} s of CPU during the storm and at most "
        f"{r['http_connections_peak']:,} HTTP connections"
        + (f" (requests waited up to {value('http_connection_wait_max_ms', ' ms')} for one)"
           if r.get("http_connection_wait_max_ms") else ""),
    ]
    if r.get("other_statuses"):
        lines.append(f"  other answers: {r['other_statuses']}")
    if r.get("transport_errors"):
        lines.append(f"  requests without an answer (retried): {r['transport_errors']}")
    for what, detail in (r.get("failure_samples") or {}).items():
        lines.append(f"  first {what} failure: {detail}")
    if warning := disturbance_warning(r, "the storm"):
        lines.append(warning)
    return "\n".join(lines)


def _percent(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.0f}%"


# ---- running it ---------------------------------------------------------------------------------


def raise_open_file_limit() -> int:
    """10,000 held WebSockets need more than the usual soft limit of 1,024 descriptors; a server
    the bench starts inherits the raised limit. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            print(f"Could not raise the open-file limit above {soft}.", file=sys.stderr)
    return soft


def http_connection_limit(config: JoinStormConfig, open_files: int) -> int:
    """Each student holds a stream socket; HTTP connections get what is left (the server, on the same
    limit, holds as many sockets as the bench)."""
    room = open_files - config.students - config.classes - SPARE_FILES
    if config.http_connections:
        if config.http_connections > room:
            raise BenchError(f"--http-connections {config.http_connections} does not fit the open-file limit "
                             f"({open_files}) next to {config.students:,} stream connections; raise `ulimit -n`")
        return config.http_connections
    if room < 16:
        raise BenchError(f"The open-file limit ({open_files}) cannot hold {config.students:,} stream connections; "
                         "raise it (`ulimit -n`, up to the hard limit `ulimit -Hn`)")
    return min(room, config.students)


class JoinStormServer(LocalServer):
    """The server a join storm starts: sign-ins cost what they cost in production (real argon2;
    `tack bench chat` makes them cheap because there they are only set-up), and admission control
    can be switched off for comparison."""

    def __init__(self, *, admission: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.admission = admission

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("TACK_PASSWORD_HASHING", None)
        if os.environ.get("TACK_PASSWORD_HASHING"):  # the bench hashes the same way (tack.core.passwords)
            env["TACK_PASSWORD_HASHING"] = os.environ["TACK_PASSWORD_HASHING"]
        env["TACK_ROOM_ADMISSION"] = "on" if self.admission else "off"
        if not self.admission:  # the front door is admission control too: every request starts at once
            env["TACK_REQUESTS_PER_TURN"] = "0"
        return env


def run_join_storm(config: JoinStormConfig, *, probe_pid: int | None, progress: Progress) -> dict[str, Any]:
    """Run the storm in a fresh event loop (uvloop when installed) and return its figures."""
    config.http_connections = http_connection_limit(config, raise_open_file_limit())

    async def main() -> dict[str, Any]:
        storm = JoinStorm(config, probe_pid=probe_pid, progress=progress)
        # Bounded whatever happens: set-up (a few ms a student), the storm and its deadline, the
        # streams and rejoins of the last ones in, the leaving.
        budget = 600 + config.students * 0.05 + config.window + config.give_up + config.hold + 240
        async with asyncio.timeout(budget):
            return await storm.run()

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


__all__ = ["JoinStormConfig", "JoinStormServer", "format_report", "raise_open_file_limit", "run_join_storm"]
