"""The `tack` command line, against a var dir and database of its own.

Commands run in-process through typer's CliRunner (a subprocess per command costs over a second of
imports); the console entry itself is started as a real process once here, and `live_server` runs
`tack migrate`, `tack demo` and `tack serve` as real processes too.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tack.core.db as core_db
from tack.cli import app
from tack.core.config import get_settings
from tests.live import fresh_database_url, run_tack, server_env


@pytest.fixture(scope="module")
def tack_env() -> Iterator[dict[str, str]]:
    var_dir = Path(tempfile.mkdtemp(prefix="tack-cli-"))
    database_url, drop = fresh_database_url(var_dir)
    yield server_env(var_dir, database_url)
    drop()
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture
def tack(tack_env):  # type: ignore[no-untyped-def]
    """Run `tack ...` as a person would; the test session's own settings and database are set aside."""
    runner = CliRunner()
    session_database = core_db._database

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in (tack_env | (env or {})).items():
                if key.startswith("TACK_"):
                    patch.setenv(key, value)
            get_settings.cache_clear()
            core_db.set_database(None)
            try:
                result = runner.invoke(app, list(args))
            finally:
                core_db.set_database(session_database)
                get_settings.cache_clear()
        output = result.output
        assert result.exit_code == code, f"tack {' '.join(args)} exited {result.exit_code}:\n{output}\n{result.exception!r}"
        if code == 0:
            assert result.exception is None, output
        else:
            assert isinstance(result.exception, SystemExit), f"{result.exception!r}\n{output}"
        return output

    return run


def test_the_console_command_starts(tack_env):
    done = run_tack(tack_env, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "migrate", "demo", "user"):
        assert command in done.stdout


def test_migrate_is_safe_to_run_again(tack):
    assert "up to date" in tack("migrate")
    assert "up to date" in tack("migrate")


def test_user_create_then_refuse_a_duplicate(tack):
    args = ("user", "create", "--name", "李雷", "--email", "LiLei@Example.com", "--password", "a good password")
    assert "Created the account 李雷 (lilei@example.com)" in tack(*args)
    assert "An account with lilei@example.com already exists." in tack(*args, code=1)


def test_user_create_explains_bad_input(tack):
    assert "--email or --mobile" in tack("user", "create", "--name", "X", "--password", "pw", code=2)
    output = tack("user", "create", "--name", "X", "--email", "x@example.com", "--password", "short", code=1)
    assert "password" in output and "8 characters" in output
    output = tack("user", "create", "--name", "X", "--email", "not-an-email", "--password", "long enough", code=1)
    assert "email" in output and "not a valid email" in output
    output = tack(
        "user", "create", "--name", "X", "--mobile", "13900001111", "--password", "long enough",
        "--role", "boss", code=1,
    )
    assert "There is no role 'boss'" in output


def test_demo_then_user_joins_an_org_by_name(tack):
    first = tack("demo")
    assert "Demo data created." in first and "admin@demo.tack.example" in first
    assert "already there" in tack("demo")
    output = tack(
        "user", "create", "--name", "韩梅梅", "--mobile", "139 0000 2222", "--password", "long enough",
        "--org", "星河科技", "--role", "admin",
    )
    assert "Created the account 韩梅梅 (13900002222) and added them to 星河科技 as admin" in output
    output = tack(
        "user", "create", "--name", "Nobody", "--email", "nobody@example.com", "--password", "long enough",
        "--org", "No Such Org", code=1,
    )
    assert "There is no organization with the id or name 'No Such Org'" in output
    # The refused command created nothing: the same account can still be made.
    assert "Created the account Nobody" in tack(
        "user", "create", "--name", "Nobody", "--email", "nobody@example.com", "--password", "long enough"
    )


def test_an_unreachable_database_is_a_sentence_not_a_traceback(tack):
    nowhere = {"TACK_DATABASE_URL": "postgresql://tack:secret@127.0.0.1:1/tack"}
    for command in (("migrate",), ("demo",)):
        output = tack(*command, code=1, env=nowhere)
        assert "Could not use the database (PostgreSQL at 127.0.0.1:1/tack)" in output
        assert "secret" not in output


def test_events_prune(tack):
    assert "Deleted 0 events older than 7 days." in tack("events", "prune")
    assert "Deleted 0 events older than 0.5 days." in tack("events", "prune", "--days", "0.5")
    assert "kept forever" in tack("events", "prune", "--days", "0")


def test_serve_listens_on_several_sockets_of_one_port():
    """Each socket takes new connections on its own; the kernel spreads them over all of them."""
    import socket

    from tack.core.serving import listening_sockets

    sockets = listening_sockets("127.0.0.1", 0, 4, backlog=16)
    assert len(sockets) == 4
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 1  # port 0: all on the port the first was given
        (port,) = ports
        clients = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(40)]
        accepted = 0
        for sock in sockets:
            sock.setblocking(False)
            while True:
                try:
                    sock.accept()[0].close()
                except BlockingIOError:
                    break
                accepted += 1
        assert accepted == 40
        for client in clients:
            client.close()
    finally:
        for sock in sockets:
            sock.close()
    (one,) = listening_sockets("127.0.0.1", 0, 1, backlog=16)
    one.close()


def test_serve_on_a_port_in_use_says_so(tack):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        output = tack("serve", "--no-migrate", "--port", str(taken.getsockname()[1]), code=1,
                      env={"TACK_LISTEN_SOCKETS": "2"})
    finally:
        taken.close()
    assert "Cannot listen on 127.0.0.1:" in output and "another server" in output
