"""SQLite driven from the event loop's own thread, with one writer at a time per process.

Why not aiosqlite as it comes: it runs every call on a thread of its own, and SQLAlchemy makes three
or four such calls per statement (cursor, execute, fetch, close), each a hand-over between threads
and a wake-up of the event loop. For the small indexed statements Tack makes, that hand-over costs
ten times the query. SQLite answers such queries in microseconds from its page cache, so Tack calls
it directly, the way SQLAlchemy's synchronous pysqlite dialect does, behind the interface
SQLAlchemy's aiosqlite dialect expects (`InlineConnection`). A slow statement (a long search) now
holds the loop for its duration, as any CPU work in the process would.

What that changes about locking: SQLite has one writer at a time. A waiting writer used to wait in
its thread (busy_timeout); on the loop's thread it would block the very loop the current writer
needs to finish. So writers queue in-process on an asyncio lock first (`WriteGate`, fair and
without polling) and only then take SQLite's write lock with BEGIN IMMEDIATE; the busy timeout is
short and only another process (a CLI command, a second worker) can still make BEGIN wait, which
`begin_immediate` does by sleeping on the loop between tries rather than blocking it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import await_

# How long a statement may block the loop waiting for another process's lock before it fails;
# writers never meet this in-process (see WriteGate).
BUSY_TIMEOUT_MS = 50
# How long a writer keeps trying to begin while another process holds the write lock.
BEGIN_DEADLINE_S = 10.0


class InlineCursor:
    """An aiosqlite-shaped cursor whose calls run at once on the calling thread."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> InlineCursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy uses to set isolation_level."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    """An aiosqlite-shaped connection over a plain sqlite3 connection (see the module docstring)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection  # SQLAlchemy checks it is open
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (tack/core/prepared.py runs hot statements on it)."""
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_connector(path: str) -> Callable[[], Any]:
    """The `async_creator` for create_async_engine: opens `path` for use on the loop's thread."""

    async def connect() -> InlineConnection:
        # check_same_thread: the pool may hand a connection to another loop in tests; it is only
        # ever used by one task at a time.
        return InlineConnection(sqlite3.connect(path, check_same_thread=False, isolation_level=None))

    return connect


class WriteGate:
    """One writing transaction at a time in this process, queued fairly on the event loop.

    An asyncio lock belongs to one event loop; tests and CLI commands run several loops one after
    another in a process, so each loop gets its own.
    """

    def __init__(self) -> None:
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            for old in [known for known in self._locks if known.is_closed()]:
                del self._locks[old]
            lock = self._locks[loop] = asyncio.Lock()
        return lock


def begin(connection: Any, sql: str = "BEGIN") -> None:
    """Run BEGIN (or BEGIN IMMEDIATE) on a SQLAlchemy connection's driver directly: every
    transaction runs it, and SQLAlchemy's statement execution costs far more than SQLite's BEGIN."""
    driver = connection.connection.driver_connection
    if not isinstance(driver, InlineConnection):
        connection.exec_driver_sql(sql)
        return
    try:
        driver.sqlite.execute(sql)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, (), error, sqlite3.Error) from error


def begin_immediate(connection: Any) -> None:
    """BEGIN IMMEDIATE, waiting on the loop (not in SQLite's busy handler) while another process
    holds the write lock. Called inside SQLAlchemy's greenlet, so it can await."""
    deadline = time.monotonic() + BEGIN_DEADLINE_S
    pause = 0.005
    while True:
        try:
            begin(connection, "BEGIN IMMEDIATE")
            return
        except Exception as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        await_(asyncio.sleep(pause))
        pause = min(pause * 2, 0.1)


class Checkpointer:
    """Copies the write-ahead log back into the database file off the event loop.

    By default the transaction whose commit fills the log past 1,000 pages does that copy, with an
    fsync, on its own connection: on the loop's thread here, where it held up every request and
    stream delivery for tens of milliseconds every few thousand writes. While a server runs, its
    connections leave checkpoints to this task, which runs a PASSIVE one (it never waits for
    readers or writers) every `every_s` seconds on a worker thread with a connection of its own.
    """

    def __init__(self, path: str, every_s: float = 1.0) -> None:
        self.path = path
        self.every_s = every_s

    async def run(self) -> None:
        connection = await asyncio.to_thread(sqlite3.connect, self.path, check_same_thread=False)
        try:
            while True:
                await asyncio.sleep(self.every_s)
                await asyncio.to_thread(self._checkpoint, connection, "PASSIVE")
        finally:
            # Leaving: shrink the log if nobody else is using the database any more.
            with contextlib.suppress(sqlite3.Error):
                await asyncio.to_thread(self._checkpoint, connection, "TRUNCATE")
            connection.close()

    @staticmethod
    def _checkpoint(connection: sqlite3.Connection, mode: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next round does it
            connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
