"""Test set-up: a real database (SQLite or PostgreSQL), the real ASGI app, real HTTP clients.

The backend is chosen by TACK_TEST_DB (sqlite, the default, or postgres); `make test` runs the API
and integration tests once on each. The app commits for real, as in production; tests stay
independent because each one makes its own accounts and organizations (tenancy keeps them apart).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

os.environ.setdefault("TACK_PASSWORD_HASHING", "cheapest")
_VAR = Path(tempfile.mkdtemp(prefix="tack-test-"))
os.environ["TACK_VAR_DIR"] = str(_VAR)
os.environ.setdefault("TACK_SECRET_KEY", "test-secret-key-" + uuid.uuid4().hex)

import httpx  # noqa: E402
import pytest  # noqa: E402

from tack.core.config import get_settings  # noqa: E402

BACKEND = os.environ.get("TACK_TEST_DB", "sqlite")
# `live_server`: a real server in a subprocess, for contract and browser tests; `stream_server`: the
# app served in-process for WebSocket tests of the real-time stream; `janus` / `media_server`: a real
# Janus for the media tests.
pytest_plugins = ["tests.live", "tests.streams", "tests.janus_peer"]
PG_ADMIN_URL = os.environ.get("TACK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_report_header(config: pytest.Config) -> str:
    where = "PostgreSQL at 127.0.0.1:5432" if BACKEND == "postgres" else "SQLite (embedded)"
    redis = os.environ.get("TACK_REDIS_URL") or "in-process broker and counters"
    return f"Tack test database: {where}; Redis: {redis}"


def _make_database() -> tuple[str, Callable[[], None]]:
    if BACKEND == "sqlite":
        return f"sqlite+aiosqlite:///{_VAR / 'test.db'}", lambda: None
    if BACKEND != "postgres":
        raise RuntimeError(f"TACK_TEST_DB must be sqlite or postgres, not {BACKEND!r}")
    name = f"tack_test_{uuid.uuid4().hex[:12]}"
    _run_in_thread(lambda: asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"')))

    def drop() -> None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}", drop


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run_in_thread(fn: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="session")
def database_url() -> AsyncIterator[str]:
    url, drop = _make_database()
    os.environ["TACK_DATABASE_URL"] = url
    get_settings.cache_clear()
    from tack.core.migrations import upgrade

    _run_in_thread(lambda: upgrade(url))
    yield url
    _run_in_thread(drop)


@pytest.fixture(scope="session")
async def app(database_url: str):  # type: ignore[no-untyped-def]
    from tack.app import create_app
    from tack.core.db import Database, set_database

    database = Database(get_settings())
    set_database(database)
    if os.environ.get("TACK_REDIS_URL"):
        # Throttling counters outlive a run in Redis; each run starts from a clean test database.
        from redis.asyncio import Redis

        redis = Redis.from_url(os.environ["TACK_REDIS_URL"])
        await redis.flushdb()
        await redis.aclose()
    application = create_app()
    yield application
    await database.dispose()
    set_database(None)


def _add_csrf(request: httpx.Request) -> None:
    # The web client echoes the readable CSRF cookie in a header on writes; test clients do the same.
    if request.method not in ("GET", "HEAD", "OPTIONS") and "x-csrf-token" not in request.headers:
        cookie = request.headers.get("cookie", "")
        for part in cookie.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "tack_csrf":
                request.headers["X-CSRF-Token"] = value


@pytest.fixture
async def new_client(app):  # type: ignore[no-untyped-def]
    """Make independent clients (separate cookie jars), like separate browsers."""
    clients: list[httpx.AsyncClient] = []

    def make(*, csrf: bool = True, address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        hooks = {"request": [_async(_add_csrf)]} if csrf else {}
        client = httpx.AsyncClient(
            transport=transport, base_url="http://testserver/api/v1", event_hooks=hooks
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def _async(fn: Callable[[httpx.Request], None]):  # type: ignore[no-untyped-def]
    async def hook(request: httpx.Request) -> None:
        fn(request)

    return hook


@pytest.fixture
async def client(new_client):  # type: ignore[no-untyped-def]
    return new_client()
