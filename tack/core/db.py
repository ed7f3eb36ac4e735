"""Database plumbing: one engine per process, one session and one transaction per request.

The request owns the transaction (see `TransactionalRoute`): services only add and flush; the route
wrapper commits once when the handler succeeded and rolls back otherwise. Side effects (events to
clients, webhooks) are registered with `after_commit` and run only once the commit went through, so a
rolled-back request leaks nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import Request
from fastapi.routing import APIRoute
from prometheus_client import Histogram
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

from tack.core.config import Settings, get_settings
from tack.core.sqlite import (
    BUSY_TIMEOUT_MS,
    Checkpointer,
    WriteGate,
    begin,
    begin_immediate,
    inline_connector,
)

log = structlog.get_logger(__name__)

WRITE_WAIT = Histogram(
    "tack_db_write_wait_seconds",
    "How long a write transaction waited to begin: a pooled connection, and on SQLite its turn to write.",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


async def _begin_writing(session: AsyncSession) -> None:
    started = time.perf_counter()
    await session.connection(execution_options={"tack_write": True})
    WRITE_WAIT.observe(time.perf_counter() - started)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """The engine and session factory of this process."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url()
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        # Writers queue here before taking SQLite's write lock (tack/core/sqlite.py); PostgreSQL
        # has row locks and needs none.
        self.write_gate: WriteGate | None = None
        # Set while a server runs Checkpointer (tack/core/sqlite.py) for this database.
        self.checkpoints_in_background = False
        if self.is_sqlite:
            kwargs["async_creator"] = inline_connector(make_url(self.url).database or ":memory:")
            # Connections live in this process and cost little until used, and requests hold one
            # while they wait for the write lock: a burst of requests should not queue for the pool.
            kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size * 10)
            # The connection used last is used next: its page cache is warm. Taken in turns, each
            # connection found the others' writes in the log and read its pages again (dozens of
            # reads per chat send).
            kwargs["pool_use_lifo"] = True
            self.write_gate = WriteGate()
        else:
            kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.write_gate is not None:
            _configure_sqlite(self, self.engine, self.write_gate)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    @contextlib.asynccontextmanager
    async def background_checkpoints(self) -> AsyncIterator[None]:
        """While serving: SQLite checkpoints on a worker thread, not in committing requests.
        Call before the first connection is opened; nothing to do on PostgreSQL."""
        if not self.is_sqlite:
            yield
            return
        self.checkpoints_in_background = True
        task = asyncio.get_running_loop().create_task(
            Checkpointer(make_url(self.url).database or ":memory:").run(), name="sqlite-checkpoints"
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(database: Database, engine: AsyncEngine, gate: WriteGate) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy, not the driver, say when a transaction begins (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if database.checkpoints_in_background:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front. A deferred one that reads and then
        # writes can fail at once with "database is locked" when another writer got there first;
        # an immediate one waits its turn (busy_timeout) instead.
        if not conn.get_execution_options().get("tack_write"):
            begin(conn)
            return
        lock = gate.lock()
        await_(lock.acquire())
        conn.info[_HOLDS_WRITE_GATE] = lock
        try:
            begin_immediate(conn)
        except BaseException:
            _leave_gate(conn.info)
            raise

    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def _on_end(conn: Any) -> None:
        _leave_gate(conn.info)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        # However the transaction ended (a lost connection, a cancelled task), the next writer must
        # not wait for it.
        if record is not None:
            _leave_gate(record.info)


_HOLDS_WRITE_GATE = "tack_holds_write_gate"


def _leave_gate(info: dict[str, Any]) -> None:
    lock: asyncio.Lock | None = info.pop(_HOLDS_WRITE_GATE, None)
    if lock is not None and lock.locked():
        lock.release()


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        _database = Database(get_settings())
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` after this session's transaction commits; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # a side effect must never turn a committed write into an error
            log.exception("after_commit_failed")


WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class TransactionalRoute(APIRoute):
    """Opens the request's session, commits once on success, rolls back on any error."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Any]]:
        handler = super().get_route_handler()
        deferred = getattr(self.endpoint, "tack_deferred_write", False)

        async def route_handler(request: Request) -> Any:
            database = get_database()
            async with database.session() as session:
                request.state.db = session
                is_write = request.method in WRITE_METHODS
                if is_write and not deferred:
                    await _begin_writing(session)
                try:
                    response = await handler(request)
                except BaseException:
                    await session.rollback()
                    session.info.pop("after_commit", None)
                    raise
                if response.status_code >= 400:
                    await session.rollback()
                elif is_write:
                    await session.commit()
                    await run_after_commit(session)
                else:
                    await _commit_bookkeeping(session)
                return response

        return route_handler


def deferred_write(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a write route that begins its write transaction itself, with `begin_write`, once it has
    decided to write: a join waits for admission first, and must not hold SQLite's write lock (or
    queue for it) while it waits."""
    endpoint.tack_deferred_write = True  # type: ignore[attr-defined]
    return endpoint


async def release_connection(session: AsyncSession) -> None:
    """End what the session read so far (nothing was written) and give its connection back, before
    waiting for something else (admission): a waiting request must not hold a pooled connection."""
    if session.in_transaction():
        if session.dirty or session.new or session.deleted:
            # Bookkeeping of the sign-in check (a session's last-seen time): written under the
            # write gate, as a read request's would be.
            await _commit_bookkeeping(session)
        else:
            await session.commit()


async def commit_now(session: AsyncSession) -> None:
    """Commit the request's transaction before the route returns (and run its after-commit work),
    when what follows should not hold the transaction; the route's own commit then has nothing left."""
    await session.commit()
    await run_after_commit(session)


async def begin_write(session: AsyncSession) -> None:
    """End what the session read so far (nothing was written) and begin its write transaction."""
    await release_connection(session)
    await _begin_writing(session)


async def ensure_writing(session: AsyncSession) -> None:
    """Begin the write transaction unless the session is in one already: for services behind
    deferred-write routes that decide late whether to write (after a call to another server, say)."""
    if session.in_transaction():
        connection = await session.connection()
        if connection.sync_connection is not None and connection.sync_connection.get_execution_options().get("tack_write"):
            return
    await begin_write(session)


async def _commit_bookkeeping(session: AsyncSession) -> None:
    """Commit what a read request touched in passing (a session's last-seen time).

    A read answers even if this fails: on SQLite a read transaction cannot always take the write lock,
    and losing a last-seen refresh is better than failing the read.
    """
    if not (session.dirty or session.new or session.deleted):
        await session.rollback()
        return
    gate = get_database().write_gate
    try:
        async with gate.lock() if gate is not None else contextlib.nullcontext():
            await session.commit()
    except OperationalError:
        log.info("bookkeeping_commit_skipped")
        await session.rollback()


async def get_db(request: Request) -> AsyncSession:
    """FastAPI dependency: the session the route wrapper opened for this request.

    A coroutine on purpose: FastAPI runs a plain function dependency on a worker thread, a
    hand-over between threads on every request for a single attribute read.
    """
    return request.state.db
