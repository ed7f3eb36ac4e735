"""A real Tack server for tests that need real HTTP: contract tests, browser tests.

`live_server` (session-scoped) starts `tack serve` in a subprocess on a free port of 127.0.0.1, with
a database of its own (a fresh SQLite file, or a fresh PostgreSQL database when TACK_TEST_DB=postgres),
migrated and seeded with the demo data through the real `tack migrate` and `tack demo` commands first.
Tests that change much may start a private one with `run_live_server()`; tests that kill and restart
servers, or run several on one database, use `live_database()` and `ServerProcess`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, PG_ADMIN_URL, _pg_admin, _run_in_thread

READY_TIMEOUT = 30.0
PASSED_THROUGH = {"TACK_WEB_DIST", "TACK_LOG_JSON"}
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LiveServer:
    url: str  # e.g. http://127.0.0.1:41234, without a trailing slash
    database_url: str
    var_dir: Path
    log_path: Path

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def log(self, last: int = 8000) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database_url(var_dir: Path) -> tuple[str, Callable[[], None]]:
    """A new, empty database for one server or command run, and how to drop it afterwards."""
    if BACKEND != "postgres":
        return f"sqlite+aiosqlite:///{var_dir / 'tack.db'}", lambda: None
    name = f"tack_live_{uuid.uuid4().hex[:12]}"
    _run_in_thread(lambda: asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"')))

    def drop() -> None:
        _run_in_thread(lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))

    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", drop


def server_env(var_dir: Path, database_url: str) -> dict[str, str]:
    """The environment of a subprocess Tack: the test run's settings, its own var dir and database."""
    # The test run's own TACK_DATABASE_URL and friends must not leak in; what only shapes the
    # output (where the web client is, log format) may.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TACK_") or k in PASSED_THROUGH}
    env.update(
        TACK_VAR_DIR=str(var_dir),
        TACK_DATABASE_URL=database_url,
        TACK_SECRET_KEY="live-server-" + uuid.uuid4().hex,
        TACK_PASSWORD_HASHING="cheapest",
        TACK_LOG_LEVEL="info",
        PYTHONUNBUFFERED="1",
    )
    # TACK_REDIS_URL is left out on purpose: the contract test fuzzes sign-in, and failed sign-ins
    # counted in the shared Redis would throttle 127.0.0.1 for the in-process tests too.
    return env


def tack_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tack.cli", *args]


def run_tack(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tack_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class LiveDatabase:
    """A fresh, migrated database with a var dir, and the environment servers on it run with."""

    var_dir: Path
    database_url: str
    env: dict[str, str]


@contextmanager
def live_database(*, seed_demo: bool = False, migrate: bool = True,
                  env: dict[str, str] | None = None) -> Iterator[LiveDatabase]:
    """A database for one or more server processes (`ServerProcess`); `env` adds settings. With
    `migrate=False` it stays empty, for a server that migrates it as it starts."""
    var_dir = Path(tempfile.mkdtemp(prefix="tack-live-"))
    database_url, drop = fresh_database_url(var_dir)
    full_env = {**server_env(var_dir, database_url), **(env or {})}
    steps = [("migrate",)] if migrate else []
    if seed_demo:
        steps.append(("demo",))
    try:
        for step in steps:
            done = run_tack(full_env, *step)
            if done.returncode != 0:
                pytest.fail(f"`tack {' '.join(step)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        yield LiveDatabase(var_dir=var_dir, database_url=database_url, env=full_env)
    finally:
        drop()
        shutil.rmtree(var_dir, ignore_errors=True)


class ServerProcess:
    """`tack serve` on a database of `live_database()`, on a port of its own that it keeps when it is
    killed (SIGKILL, as a crash) and started again. Several may share one database."""

    def __init__(self, database: LiveDatabase, *, name: str = "server", env: dict[str, str] | None = None,
                 migrate: bool = False, workers: int = 1) -> None:
        self.env = {**database.env, **(env or {})}
        self.migrate = migrate
        self.workers = workers
        self.port = free_port()
        self.server = LiveServer(
            url=f"http://127.0.0.1:{self.port}", database_url=database.database_url, var_dir=database.var_dir,
            log_path=database.var_dir / f"{name}.log",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/stream"

    def launch(self) -> None:
        """Start the process without waiting for it (see `wait_ready`), so several start at once."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.server.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                tack_command(
                    "serve", "--migrate" if self.migrate else "--no-migrate", "--host", "127.0.0.1",
                    "--port", str(self.port), "--workers", str(self.workers),
                ),
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> LiveServer:
        assert self.process is not None
        _wait_until_ready(self.server, self.process)
        return self.server

    def start(self) -> LiveServer:
        self.launch()
        return self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to clients, as when the machine or the process dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


@contextmanager
def run_live_server(*, seed_demo: bool = True) -> Iterator[LiveServer]:
    with live_database(seed_demo=seed_demo) as database:
        process = ServerProcess(database)
        try:
            yield process.start()
        finally:
            process.stop()


def _wait_until_ready(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The live server exited with {process.returncode} before it was ready:\n{server.log()}")
        try:
            response = httpx.get(f"{server.url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.1)
    pytest.fail(f"The live server was not ready within {READY_TIMEOUT:.0f}s (last: {last}). Its log:\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """A running Tack with the demo data, shared by the whole test session; don't wreck the demo."""
    with run_live_server() as server:
        yield server
