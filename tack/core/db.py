"""Database plumbing: one engine per process, one session and one transaction per request.

The request owns the transaction (see `TransactionalRoute`): services only add and flush; the route
wrapper commits once when the handler succeeded and rolls back otherwise. Side effects (events to
clients, webhooks) are registered with `after_commit` and run only once the commit went through, so a
rolled-back request leaks nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from tack.core.config import Settings, get_settings

log = structlog.get_logger(__name__)

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
        if not self.is_sqlite:
            kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        # Let SQLAlchemy, not the driver, say when a transaction begins (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front. A deferred one that reads and then
        # writes can fail at once with "database is locked" when another writer got there first;
        # an immediate one waits its turn (busy_timeout) instead.
        if conn.get_execution_options().get("tack_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


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

        async def route_handler(request: Request) -> Any:
            database = get_database()
            async with database.session() as session:
                request.state.db = session
                is_write = request.method in WRITE_METHODS
                if is_write:
                    await session.connection(execution_options={"tack_write": True})
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


async def _commit_bookkeeping(session: AsyncSession) -> None:
    """Commit what a read request touched in passing (a session's last-seen time).

    A read answers even if this fails: on SQLite a read transaction cannot always take the write lock,
    and losing a last-seen refresh is better than failing the read.
    """
    if not (session.dirty or session.new or session.deleted):
        await session.rollback()
        return
    try:
        await session.commit()
    except OperationalError:
        log.info("bookkeeping_commit_skipped")
        await session.rollback()


def get_db(request: Request) -> AsyncSession:
    """FastAPI dependency: the session the route wrapper opened for this request."""
    return request.state.db
