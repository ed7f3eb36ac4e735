"""The `tack` command line: serve, migrate, seed the demo, manage users."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer

from tack.bench.cli import bench_app

T = TypeVar("T")

app = typer.Typer(help="Tack: a place where a company or a school works together.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema tools for developers.", no_args_is_help=True)
app.add_typer(user_app, name="user")
events_app = typer.Typer(help="The event log behind the real-time stream.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="events")
app.add_typer(bench_app, name="bench")
media_app = typer.Typer(help="Media servers (Janus) for audio and video in rooms.", no_args_is_help=True)
app.add_typer(media_app, name="media")


def _say(message: str) -> None:
    typer.echo(message)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one piece of async work, then close the database engine inside the same event loop.

    An engine left open when `asyncio.run` closes its loop warns about connections it can no longer
    close (aiosqlite) or terminates them abruptly (asyncpg).
    """

    async def main() -> T:
        from tack.core.db import get_database, set_database

        try:
            return await coro
        finally:
            await get_database().dispose()
            set_database(None)

    return asyncio.run(main())


@contextmanager
def _database_problems() -> Iterator[None]:
    """Turn "cannot reach the database" into a sentence and exit code 1 instead of a long traceback."""
    from sqlalchemy.exc import DBAPIError, IntegrityError

    try:
        yield
    except IntegrityError:
        raise  # a bug, not a set-up problem: keep the traceback
    except (OSError, DBAPIError) as exc:
        from tack.core.config import get_settings

        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _say(f"Could not use the database ({_describe(get_settings().resolved_database_url())}): {reason}")
        _say("Check TACK_DATABASE_URL and that the database server is running and reachable.")
        raise typer.Exit(1) from None


def _ensure_schema() -> None:
    """Bring the schema up to date first, quietly when it already is: a fresh machine just works."""
    from tack.core.config import get_settings
    from tack.core.migrations import head_revision

    if _current_revision(get_settings().resolved_database_url()) != head_revision():
        migrate()


def _current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to run again)."""
    from tack.core.config import get_settings
    from tack.core.migrations import upgrade

    url = get_settings().resolved_database_url()
    _say(f"Updating the database schema ({_describe(url)})...")
    with _database_problems():
        upgrade(url)
    _say("The database is up to date.")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default TACK_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to listen on (default TACK_PORT or 8700)."),
    workers: int = typer.Option(1, help="Worker processes (needs PostgreSQL and Redis when more than 1)."),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate", help="Update the schema before serving."),
    demo_hint: bool = typer.Option(False, "--demo-hint", help="Also print the demo sign-in."),
) -> None:
    """Serve the API and the web client."""
    import uvicorn

    from tack.core.config import get_settings

    settings = get_settings()
    if migrate_first:
        migrate()
    host = host or settings.host
    port = port or settings.port
    _say(f"Tack is serving on http://{host}:{port}  (stop with Ctrl+C)")
    if demo_hint:
        from tack.demo.seed import DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD

        _say(f"Open it in a browser and sign in as {DEMO_ADMIN_LOGIN} with the password {DEMO_ADMIN_PASSWORD}")
    options: dict[str, Any] = dict(
        app="tack.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        proxy_headers=True,
        # Connections waiting to be accepted: at 8:00 thousands arrive within seconds; beyond the
        # backlog the kernel drops them and clients time out instead of hearing "busy".
        # (The kernel caps it at net.core.somaxconn.)
        backlog=16384,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # WebSocket-level pings find dead TCP connections of the stream (browsers answer them).
        ws_ping_interval=settings.stream_ping_seconds,
        ws_ping_timeout=settings.stream_ping_seconds,
        # Clients only send a hello and heartbeats.
        ws_max_size=1024 * 1024,
        # An event's frame is serialised once and the same bytes go to every connection;
        # per-connection compression would redo the work for each one.
        ws_per_message_deflate=False,
    )
    from tack.core.serving import Server, listening_sockets, run_workers

    config = uvicorn.Config(**options)
    if workers > 1:
        run_workers(config)  # uvicorn's supervisor binds one socket; each worker takes from it in bursts
        return
    try:
        sockets = listening_sockets(host, port, settings.listen_sockets, backlog=options["backlog"])
    except OSError as exc:
        _say(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Is another server using that port?")
        raise typer.Exit(1) from None
    try:
        Server(config).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


@app.command()
def demo(
    show_only: bool = typer.Option(False, "--show", help="Only print the demo sign-in."),
) -> None:
    """Create the demo school and company, unless they are already there."""
    from tack.demo.seed import DEMO_ADMIN_LOGIN, DEMO_ADMIN_PASSWORD, seed_demo

    if not show_only:
        with _database_problems():
            _ensure_schema()
            created = _run(seed_demo(progress=_say))
        _say("Demo data created." if created else "Demo data is already there.")
    _say(f"Demo sign-in: {DEMO_ADMIN_LOGIN}  password: {DEMO_ADMIN_PASSWORD}")


@user_app.command("create")
def user_create(
    name: str = typer.Option(..., help="The person's name."),
    email: str = typer.Option(None, help="Email address to sign in with."),
    mobile: str = typer.Option(None, help="Mobile number to sign in with."),
    password: str = typer.Option(None, help="Password; asked for when not given."),
    org: str = typer.Option(None, help="Organization id or exact name to add them to."),
    role: str = typer.Option("member", help="Role in that organization: owner, admin, member, teacher, ..."),
) -> None:
    """Create an account, optionally adding it to an organization."""
    from tack.demo.users import create_user

    if not email and not mobile:
        _say("Give --email or --mobile: it is what the person signs in with.")
        raise typer.Exit(2)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    from tack.core.errors import TackError

    try:
        with _database_problems():
            _ensure_schema()
            message = _run(create_user(name=name, email=email, mobile=mobile, password=password, org=org, role=role))
    except (TackError, ValueError) as exc:  # shown to a person, not a traceback
        _say(f"Could not create the account: {exc}")
        raise typer.Exit(1) from None
    _say(message)


@events_app.command("prune")
def events_prune(
    days: float = typer.Option(None, help="Keep this many days of events (default TACK_STREAM_RETENTION_DAYS)."),
) -> None:
    """Delete old events of the real-time stream; clients whose position is older get resync.

    `tack serve` does this every hour by itself; run it from cron when serving is not always on.
    """
    from datetime import timedelta

    from tack.core.config import get_settings
    from tack.core.db import get_database
    from tack.core.events import prune_events

    keep = get_settings().stream_retention_days if days is None else days
    if keep <= 0:
        _say("Events are kept forever (retention 0): nothing to prune.")
        return
    with _database_problems():
        _ensure_schema()
        deleted = _run(prune_events(get_database(), older_than=timedelta(days=keep)))
    _say(f"Deleted {deleted} events older than {keep:g} days.")


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m", help="What the migration changes.")) -> None:
    """Generate a migration from the models (compare against an up-to-date database)."""
    from alembic import command

    from tack.core.config import get_settings
    from tack.core.migrations import alembic_config

    command.revision(
        alembic_config(get_settings().resolved_database_url()), message=message, autogenerate=True
    )


def _describe(url: str) -> str:
    """Where the database is, for messages; never the password."""
    if url.startswith("sqlite"):
        return "SQLite at " + url.split("///", 1)[-1]
    if "postgresql" in url:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    return url.split(":", 1)[0]


def main() -> None:  # pragma: no cover - console entry
    app()


# ---- media servers ---------------------------------------------------------------------------------


def _local_media_folder():  # noqa: ANN202
    from tack.core.config import get_settings

    return get_settings().var_dir / "media" / "janus"


async def _register_media(**fields: str) -> None:
    from tack.core.db import get_database
    from tack.media.service import register_server

    async with get_database().session() as db:
        await db.connection(execution_options={"tack_write": True})
        await register_server(db, **fields)
        await db.commit()


@media_app.command("up")
def media_up(
    name: str = typer.Option("local", help="The name this media server is registered under."),
    http_port: int = typer.Option(8088, help="Janus's HTTP API port (Tack's requests)."),
    admin_port: int = typer.Option(7088, help="Janus's Admin API port."),
    ws_port: int = typer.Option(8188, help="Janus's WebSocket port (browsers)."),
    rtp_ports: str = typer.Option("20000-20999", help="UDP ports for media."),
    listen: str = typer.Option("127.0.0.1", help="Address Janus's WebSocket listens on (0.0.0.0: every interface)."),
    public_url: str = typer.Option("", help="Janus's WebSocket as browsers reach it (default ws://127.0.0.1:<ws-port>); "
                                            "for browsers on other machines, e.g. ws://192.168.1.20:8188."),
    install: bool = typer.Option(True, "--install/--no-install", help="Install Janus when it is missing."),
) -> None:
    """Start a Janus on this machine for audio and video, and register it (installs Janus if needed)."""
    from tack.media import local

    try:
        if install:
            local.install_janus(say=_say)
        if local.janus_binary() is None:
            _say("Janus is not installed. Run `tack media up` without --no-install, or install the package 'janus'.")
            raise typer.Exit(1)
        j = local.prepare(_local_media_folder(), http_port=http_port, admin_port=admin_port, ws_port=ws_port,
                          rtp_ports=rtp_ports, ws_listen=listen, public_url=public_url)
        _say(f"Starting Janus (media on {j.ice_address}, browsers connect to {j.public_url})...")
        pid = local.start(j)
    except local.LocalMediaError as exc:
        _say(str(exc))
        raise typer.Exit(1) from None
    migrate()
    with _database_problems():
        _run(_register_media(name=name, api_url=j.api_url, public_url=j.public_url, admin_url=j.admin_url,
                             admin_secret=j.admin_secret, admin_key=j.admin_key, token_secret=j.token_secret))
    _say(f"Janus is running (process {pid}; log {j.logfile}) and registered as '{name}'.")
    _say("Rooms now have audio and video; `tack media down` stops it.")


@media_app.command("down")
def media_down() -> None:
    """Stop the Janus that `tack media up` started."""
    from tack.media import local

    j = local.load(_local_media_folder())
    if j is None or not local.stop(j):
        _say("No Janus started by `tack media up` is running.")
        return
    _say("Janus stopped. Rooms keep working without audio and video.")


@media_app.command("add")
def media_add(
    name: str = typer.Option(..., help="A name for this media server, e.g. janus-1."),
    api_url: str = typer.Option(..., help="Janus's HTTP API as Tack reaches it, e.g. http://10.0.0.5:8088/janus."),
    public_url: str = typer.Option(..., help="Janus's WebSocket API as browsers reach it, e.g. wss://media1.example.org."),
    admin_url: str = typer.Option("", help="Janus's Admin API, e.g. http://10.0.0.5:7088/admin."),
    admin_secret: str = typer.Option("", help="Janus's admin_secret."),
    admin_key: str = typer.Option("", help="The VideoRoom plugin's admin_key."),
    token_secret: str = typer.Option("", help="Janus's token_auth_secret (token_auth = true)."),
) -> None:
    """Register a media server running elsewhere (or update the one of that name)."""
    with _database_problems():
        _run(_register_media(name=name, api_url=api_url, public_url=public_url, admin_url=admin_url,
                             admin_secret=admin_secret, admin_key=admin_key, token_secret=token_secret))
    _say(f"Media server '{name}' registered. Tack checks it every few seconds and places new rooms on it.")


@media_app.command("list")
def media_list() -> None:
    """The registered media servers, whether they answer, and their load."""
    from tack.core.db import get_database
    from tack.media.service import servers

    async def fetch():  # noqa: ANN202
        async with get_database().session() as db:
            return await servers(db)

    with _database_problems():
        found = _run(fetch())
    if not found:
        _say("No media servers. `tack media up` starts one on this machine.")
        return
    for server in found:
        seen = server.last_seen_at.strftime("%Y-%m-%d %H:%M:%S") if server.last_seen_at else "never"
        _say(f"{server.name}: {server.status}, {server.rooms} rooms, {server.participants} people, "
             f"browsers use {server.public_url}, last answered {seen}"
             + (f" (last error: {server.last_error})" if server.last_error else ""))


if __name__ == "__main__":  # pragma: no cover (last: every command above is registered by then)
    sys.exit(app())
