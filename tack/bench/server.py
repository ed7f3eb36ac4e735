"""The server a bench measures: one it starts itself, or one already running at --url.

A started server is a `tack serve` subprocess on a free port of 127.0.0.1 with a database of its
own (a fresh SQLite file in a temporary directory, or a fresh database created on the PostgreSQL
server that --database-url names, dropped afterwards), migrated with `tack migrate` first. Its CPU
time and memory are read from /proc for the process and all its descendants (uvicorn workers).
A server at --url is measured through the default process metrics of its /metrics page instead;
with several workers that is only the worker that answered the scrape.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT = 60.0
# Settings that would point a started server at someone's real data or address; everything else
# a person set (stream tuning, log level) passes through to the server the bench starts.
_NOT_PASSED = {"TACK_VAR_DIR", "TACK_DATABASE_URL", "TACK_REDIS_URL", "TACK_SECRET_KEY", "TACK_HOST", "TACK_PORT"}


Progress = Callable[[str], None]
# Cores' worth of CPU used by other processes during a run beyond which a report warns.
OTHERS_WARNING = 0.15


def disturbance_warning(r: dict[str, Any], during: str) -> str | None:
    """The report's warning when other processes kept the machine busy during the run."""
    if r.get("other_cpu_busy") is None or r["other_cpu_busy"] <= OTHERS_WARNING:
        return None
    return (f"  WARNING: other processes kept {r['other_cpu_busy']:.1f} of the machine's {r['cores']} cores busy "
            f"during {during} (load average {r['load_1m']:.1f}); these figures are disturbed.")


class BenchError(Exception):
    """A set-up problem told to the person running the bench, without a traceback."""


@dataclass
class Usage:
    cpu_seconds: float | None
    rss_bytes: int | None


# ---- measuring ----------------------------------------------------------------------------------


class ProcessProbe:
    """CPU time and resident memory of a process and its descendants, read from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._ticks = os.sysconf("SC_CLK_TCK")

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        return tree

    async def read(self) -> Usage:
        return self.read_now()

    def read_now(self) -> Usage:
        cpu_ticks, rss = 0, 0
        for pid in self._tree():
            try:
                fields = _stat_fields(pid)
                # utime, stime, and the children's that were waited for (fields 14-17 of stat(5))
                cpu_ticks += sum(int(v) for v in fields[11:15])
                rss += _rss_bytes(pid)
            except (OSError, ValueError, IndexError):
                continue  # a process that just ended
        return Usage(cpu_seconds=cpu_ticks / self._ticks, rss_bytes=rss)


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state first), which may hold spaces."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read().decode(errors="replace")
    return raw[raw.rindex(")") + 2 :].split()


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class MetricsProbe:
    """The Prometheus default process metrics of a server we did not start (GET /metrics)."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/metrics"

    async def read(self) -> Usage:
        try:
            response = await self.client.get(self.url, timeout=10)
        except httpx.HTTPError:
            return Usage(None, None)
        if response.status_code != 200:
            return Usage(None, None)
        cpu = rss = None
        for line in response.text.splitlines():
            if line.startswith("process_cpu_seconds_total "):
                cpu = float(line.split()[1])
            elif line.startswith("process_resident_memory_bytes "):
                rss = int(float(line.split()[1]))
        return Usage(cpu, rss)


def machine_cpu_seconds() -> float | None:
    """CPU time used by everything on this machine so far (all cores, idle and I/O wait excluded)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


# ---- starting one -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tack_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tack.cli", *args]


class LocalServer:
    """`tack serve` in a subprocess with a fresh database; a context manager that cleans up."""

    def __init__(self, *, database_url: str | None, redis_url: str | None, workers: int,
                 progress: Callable[[str], None]) -> None:
        self.requested_database_url = database_url
        self.redis_url = redis_url
        self.workers = workers
        self.progress = progress
        self.var_dir = Path(tempfile.mkdtemp(prefix="tack-bench-"))
        self.log_path = self.var_dir / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self._drop: Callable[[], None] = lambda: None

    @property
    def database_description(self) -> str:
        if self.database_url.startswith("sqlite"):
            return "SQLite (a fresh file)"
        return "PostgreSQL (a fresh database)"

    def log_tail(self, last: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalServer:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            try:
                self._drop()
            finally:
                shutil.rmtree(self.var_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The environment the server runs with (also for commands run against its database)."""
        env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
        env.update(
            TACK_VAR_DIR=str(self.var_dir),
            TACK_DATABASE_URL=self.database_url,
            TACK_SECRET_KEY="bench-" + uuid.uuid4().hex,
            # The bench's own accounts: their sign-in is set-up, not what is measured.
            TACK_PASSWORD_HASHING="cheapest",
            PYTHONUNBUFFERED="1",
        )
        env.setdefault("TACK_LOG_LEVEL", "warning")
        if self.redis_url:
            env["TACK_REDIS_URL"] = self.redis_url
        return env

    def _start(self) -> None:
        self.database_url, self._drop = _fresh_database(self.requested_database_url, self.var_dir)
        env = self.env()
        self.progress(f"Starting a server on {self.url} with {self.database_description}"
                      + (f" and Redis at {_redis_where(self.redis_url)}" if self.redis_url else "") + "...")
        done = subprocess.run(tack_command("migrate"), env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        if done.returncode != 0:
            raise BenchError(f"`tack migrate` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        args = ["serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(tack_command(*args), env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"The server exited with {self.process.returncode} before it was ready:\n"
                                 + self.log_tail())
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise BenchError(f"The server was not ready within {READY_TIMEOUT:.0f}s (last: {last}):\n" + self.log_tail())

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # Its own session: the kill reaches uvicorn's workers too, and nothing else.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _redis_where(url: str | None) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


def _fresh_database(url: str | None, var_dir: Path) -> tuple[str, Callable[[], None]]:
    """A new, empty database for this run and how to drop it; PostgreSQL needs CREATEDB."""
    if not url or url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{var_dir / 'tack.db'}", lambda: None
    from sqlalchemy.engine import make_url

    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if not parsed.drivername.startswith("postgresql"):
        raise BenchError(f"--database-url must be a PostgreSQL URL (postgresql://...), not {parsed.drivername}")
    name = f"tack_bench_{uuid.uuid4().hex[:12]}"
    admin = parsed.set(drivername="postgresql", database=parsed.database or "postgres")
    admin_dsn = admin.render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise BenchError(f"Could not create a database for the bench on {parsed.host}:{parsed.port or 5432} "
                         f"({exc}). The role needs CREATEDB, or start a server yourself and use --url.") from None

    def drop() -> None:
        try:
            asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # a leftover database is worth a line, not a failed run
            print(f"Could not drop the bench database {name}: {exc}", file=sys.stderr)

    fresh = parsed.set(drivername="postgresql+asyncpg", database=name)
    return fresh.render_as_string(hide_password=False), drop
