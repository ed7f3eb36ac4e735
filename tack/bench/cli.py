"""The `tack bench` commands (docs/benchmarks.md)."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import typer

bench_app = typer.Typer(
    help="Load harnesses: drive a Tack server over real HTTP and WebSocket connections and measure it.",
    no_args_is_help=True,
)


def _loopback_only(url: str) -> str:
    """Benches send a lot of traffic: they only ever aim it at this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter("give the server's address, e.g. http://127.0.0.1:8700", param_hint="--url")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise typer.BadParameter(
            "the bench only drives a server on this machine (127.0.0.1, ::1 or localhost); "
            "run it on the server's machine", param_hint="--url",
        )
    return f"{parts.scheme}://{parts.netloc}"


@bench_app.command("chat")
def chat(
    receivers: int = typer.Option(20, min=1, max=5000, help="Receiving clients, one stream connection each."),
    rate: float = typer.Option(10.0, min=0.1, max=5000, help="Messages per second, in all."),
    duration: float = typer.Option(30.0, min=0.5, max=3600, help="Seconds of measured sending."),
    senders: int = typer.Option(1, min=1, max=100, help="Sending accounts; the messages go round-robin."),
    warmup: float = typer.Option(2.0, min=0, max=600, help="Seconds of sending before measuring starts."),
    send_over: str = typer.Option("stream", help="How senders send: 'stream' (a call over their own stream "
                                                 "connection, as the web client does) or 'http' (POST)."),
    drain_timeout: float = typer.Option(5.0, min=0.5, max=120,
                                        help="Seconds to wait for deliveries after the last send."),
    url: str = typer.Option(None, help="A running server, e.g. http://127.0.0.1:8700; "
                                       "without it the bench starts one with a fresh database."),
    database_url: str = typer.Option(None, help="For the server the bench starts: a PostgreSQL server "
                                                "to create a fresh database on (default: a fresh SQLite file)."),
    redis_url: str = typer.Option(None, help="For the server the bench starts: Redis for fan-out."),
    workers: int = typer.Option(1, min=1, max=64, help="For the server the bench starts: worker processes "
                                                      "(more than one needs PostgreSQL and Redis)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the report."),
) -> None:
    """One group conversation: senders post at a fixed rate, receivers measure send-to-receive latency.

    Exits with 1 when any message was lost or a send failed, 2 when the bench could not run.
    """
    # Imported here: `tack` itself starts fast, whatever the benches need.
    import httpx

    from tack.bench.chat import ChatBenchConfig, format_report, run_chat_bench
    from tack.bench.server import BenchError, LocalServer

    out = sys.stderr if as_json else sys.stdout

    def progress(line: str) -> None:
        print(line, file=out, flush=True)

    if url and (database_url or redis_url or workers != 1):
        raise typer.BadParameter("--database-url, --redis-url and --workers are for a server the bench starts, "
                                 "not with --url")
    if workers > 1 and not (database_url and redis_url):
        raise typer.BadParameter("more than one worker needs --database-url (PostgreSQL) and --redis-url",
                                 param_hint="--workers")
    if send_over not in ("stream", "http"):
        raise typer.BadParameter("say 'stream' or 'http'", param_hint="--send-over")
    config = ChatBenchConfig(receivers=receivers, senders=senders, rate=rate, duration=duration, warmup=warmup,
                             drain_timeout=drain_timeout, send_over=send_over)
    server = None
    try:
        if url:
            config.url = _loopback_only(url)
            where = f"server at {config.url} (CPU and memory from its /metrics)"
            results = run_chat_bench(config, probe_pid=None, progress=progress)
        else:
            with LocalServer(database_url=database_url, redis_url=redis_url, workers=workers,
                             progress=progress) as server:
                config.url = server.url
                assert server.process is not None
                where = f"a server it started ({server.database_description}" + (
                    ", Redis" if redis_url else "") + (f", {workers} workers" if workers > 1 else "") + ")"
                try:
                    results = run_chat_bench(config, probe_pid=server.process.pid, progress=progress)
                except BaseException:
                    if server.process is not None and server.process.poll() is not None:
                        progress(f"The server exited with {server.process.returncode}. Its log:\n"
                                 + server.log_tail())
                    raise
                results["database"] = "sqlite" if server.database_url.startswith("sqlite") else "postgresql"
                results["redis"] = bool(redis_url)
                results["workers"] = workers
    except httpx.HTTPError as exc:  # during set-up; failed sends are counted, not raised
        progress(f"The bench could not reach the server at {config.url}: {exc!r}")
        raise typer.Exit(2) from None
    except (BenchError, TimeoutError, KeyboardInterrupt) as exc:
        _stopped(exc, progress)
    _finish(results, url=config.url if url else None, as_json=as_json, report=format_report(results, where=where),
            failed=bool(results["lost"] or results["send_errors"]),
            why="messages were lost or sends failed.")


@bench_app.command("join-storm")
def join_storm(
    students: int = typer.Option(10000, min=1, max=100000, help="Students, each with their own connections."),
    classes: int = typer.Option(330, min=1, max=10000, help="Classes: one teacher and students/classes students each."),
    window: float = typer.Option(10.0, min=0.1, max=3600, help="Seconds within which every student arrives "
                                                              "(each at a uniformly random moment)."),
    sign_in_share: float = typer.Option(0.05, min=0.0, max=1.0, help="Share of students not signed in beforehand: "
                                                                     "they sign in with their password first."),
    drop_share: float = typer.Option(0.10, min=0.0, max=1.0, help="Share of students whose connection drops once "
                                                                  "they are in; they rejoin with their ticket."),
    hold: float = typer.Option(5.0, min=0.0, max=3600, help="Seconds everyone holds their connections once all "
                                                            "are in, before they leave."),
    give_up: float = typer.Option(600.0, min=1.0, max=3600, help="Seconds after the window a refused student "
                                                                 "keeps trying before counting as failed."),
    no_admission: bool = typer.Option(False, "--no-admission",
                                      help="Compare without admission control: a server the bench starts gets "
                                           "TACK_ROOM_ADMISSION=off and TACK_REQUESTS_PER_TURN=0 (no gates, no "
                                           "front door); with --url this only labels the run (start that server "
                                           "with both yourself)."),
    http_connections: int = typer.Option(0, min=0, max=100000, help="Most HTTP connections at once (0: as many "
                                                                    "as the open-file limit leaves room for)."),
    seed: int = typer.Option(None, help="Random seed of the arrival moments and of who signs in or drops."),
    url: str = typer.Option(None, help="A running server, e.g. http://127.0.0.1:8700; without it the bench starts "
                                       "one with a fresh database."),
    database_url: str = typer.Option(None, help="With --url (required): the database that server uses; the bench "
                                                "writes the school straight into it. Without --url: a PostgreSQL "
                                                "server to create the started server's fresh database on."),
    redis_url: str = typer.Option(None, help="For the server the bench starts: Redis for fan-out."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the report."),
) -> None:
    """A school's 8:00: every student joins their class's room within the window, holds the stream, a
    share drops and rejoins, then all leave.

    Exits with 1 when a join or a rejoin was lost (or anything else failed), 2 when the bench could not run.
    """
    from tack.bench.joinstorm import JoinStormConfig, JoinStormServer, format_report, run_join_storm
    from tack.bench.server import BenchError

    out = sys.stderr if as_json else sys.stdout

    def progress(line: str) -> None:
        print(line, file=out, flush=True)

    if url and not database_url:
        raise typer.BadParameter(
            "with --url, say which database that server uses: the bench writes the school (accounts, classes, "
            "sessions) straight into it, because creating thousands of accounts through the API would cost "
            "thousands of deliberately slow password hashes", param_hint="--database-url")
    if url and redis_url:
        raise typer.BadParameter("--redis-url is for a server the bench starts, not with --url")
    if classes > students:
        raise typer.BadParameter("fewer students than classes", param_hint="--classes")
    config = JoinStormConfig(students=students, classes=classes, window=window, sign_in_share=sign_in_share,
                             drop_share=drop_share, hold=hold, give_up=give_up, admission=not no_admission,
                             http_connections=http_connections, seed=seed)
    try:
        if url:
            config.url = _loopback_only(url)
            config.database_url = database_url
            where = f"server at {config.url} (CPU and memory from its /metrics)"
            results = run_join_storm(config, probe_pid=None, progress=progress)
        else:
            # Before the server starts: it inherits the raised open-file limit.
            from tack.bench.joinstorm import raise_open_file_limit

            raise_open_file_limit()
            with JoinStormServer(admission=not no_admission, database_url=database_url, redis_url=redis_url,
                                 workers=1, progress=progress) as server:
                config.url = server.url
                config.database_url = server.database_url
                assert server.process is not None
                where = f"a server it started ({server.database_description}" + (", Redis" if redis_url else "") + ")"
                try:
                    results = run_join_storm(config, probe_pid=server.process.pid, progress=progress)
                except BaseException:
                    if server.process is not None and server.process.poll() is not None:
                        progress(f"The server exited with {server.process.returncode}. Its log:\n" + server.log_tail())
                    raise
    except (BenchError, TimeoutError, KeyboardInterrupt) as exc:
        _stopped(exc, progress)
    _finish(results, url=config.url if url else None, as_json=as_json, report=format_report(results, where=where),
            failed=bool(results["failed"] or results["lost_rejoins"]),
            why="joins or rejoins were lost, or students did not get through (see above).")


@bench_app.command("media")
def media(
    publishers: int = typer.Option(1, min=1, max=16, help="Publishers per room (generated picture and sound)."),
    subscribers: int = typer.Option(6, min=0, max=200, help="Subscribers per room (they decode every publisher)."),
    rooms: int = typer.Option(1, min=1, max=100, help="Meeting rooms, each with its own publishers and subscribers."),
    duration: float = typer.Option(20.0, min=1, max=3600, help="Seconds of the measurement window, once every "
                                                               "subscriber sees a picture."),
    width: int = typer.Option(320, min=16, max=1920, help="Width of the published video."),
    height: int = typer.Option(240, min=16, max=1080, help="Height of the published video."),
    fps: float = typer.Option(15.0, min=1, max=60, help="Frames per second of the published video."),
    first_frame_timeout: float = typer.Option(30.0, min=1, max=600, help="Seconds a subscriber waits for its "
                                                                         "first picture before counting as failed."),
    url: str = typer.Option(None, help="A running server, e.g. http://127.0.0.1:8700, with a media server "
                                       "registered; without it the bench starts one with a fresh database and a "
                                       "Janus of its own."),
    janus_pid: int = typer.Option(None, help="With --url: the process id of the Janus that server uses, for its "
                                             "CPU and memory (without it they are reported as null)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the report."),
) -> None:
    """Meeting rooms with synthetic participants (aiortc): publishers send moving colour bars and a sine,
    subscribers decode; first-frame time, frames per second, packet loss, and Janus's and Tack's CPU.

    Exits with 1 when a subscriber never got a picture, 2 when the bench could not run.
    """
    from tack.bench.media import (
        MediaBenchConfig,
        PrivateJanus,
        check_media_libraries,
        format_report,
        run_media_bench,
    )
    from tack.bench.server import BenchError, LocalServer

    out = sys.stderr if as_json else sys.stdout

    def progress(line: str) -> None:
        print(line, file=out, flush=True)

    if janus_pid is not None and not url:
        raise typer.BadParameter("--janus-pid is for a server at --url; the bench measures its own Janus",
                                 param_hint="--janus-pid")
    if janus_pid is not None and not os.path.exists(f"/proc/{janus_pid}"):
        raise typer.BadParameter(f"no process {janus_pid} runs here", param_hint="--janus-pid")
    if width % 2 or height % 2:
        raise typer.BadParameter("give an even width and height (the picture is YUV 4:2:0)")
    config = MediaBenchConfig(publishers=publishers, subscribers=subscribers, rooms=rooms, duration=duration,
                              width=width, height=height, fps=fps, first_frame_timeout=first_frame_timeout)
    try:
        check_media_libraries()
        if url:
            config.url = _loopback_only(url)
            where = f"server at {config.url} (its CPU from /metrics" + (
                f", Janus process {janus_pid})" if janus_pid else "; Janus's CPU not measured: give --janus-pid)")
            results = run_media_bench(config, tack_pid=None, janus_pid=janus_pid, progress=progress)
        else:
            with LocalServer(database_url=None, redis_url=None, workers=1, progress=progress) as server, \
                    PrivateJanus(progress) as janus:
                janus.register(server)
                config.url = server.url
                assert server.process is not None
                where = f"a server it started ({server.database_description}) and a Janus of its own"
                try:
                    results = run_media_bench(config, tack_pid=server.process.pid, janus_pid=janus.pid,
                                              progress=progress)
                except BaseException:
                    if server.process is not None and server.process.poll() is not None:
                        progress(f"The server exited with {server.process.returncode}. Its log:\n"
                                 + server.log_tail())
                    raise
    except (BenchError, TimeoutError, KeyboardInterrupt) as exc:
        _stopped(exc, progress)
    _finish(results, url=config.url if url else None, as_json=as_json, report=format_report(results, where=where),
            failed=bool(results["no_picture"]), why="subscribers never got a picture (see above).")


def _stopped(exc: BaseException, progress: Callable[[str], None]) -> NoReturn:
    """How a bench that could not finish says why, and its exit status (2, or 130 when interrupted)."""
    if isinstance(exc, KeyboardInterrupt):
        progress("Interrupted.")
        raise typer.Exit(130) from None
    if isinstance(exc, TimeoutError):
        progress("The bench ran out of time (see its progress lines above) and stopped.")
    else:
        progress(f"The bench could not run: {exc}")
    raise typer.Exit(2) from None


def _finish(results: dict[str, Any], *, url: str | None, as_json: bool, report: str, failed: bool, why: str) -> None:
    """Print the results (one JSON object, or the report) and exit with 1 when the run failed."""
    results["server"] = "started" if not url else url
    if as_json:
        print(json.dumps(results, sort_keys=True))
    else:
        print(report)
    if failed:
        if not as_json:
            print(f"\nFAILED: {why}")
        raise typer.Exit(1)
