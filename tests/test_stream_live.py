"""The stream across real server processes: resuming after a server is killed (SIGKILL) and started
again, and several processes on one PostgreSQL and Redis delivering to each other's clients.

Events are emitted through the test-only endpoint the servers mount with TACK_TESTING=1.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import BACKEND
from tests.factories import PASSWORD, check, unique
from tests.live import ServerProcess, live_database
from tests.streams import StreamClient, connect, positions

REDIS_URL = os.environ.get("TACK_REDIS_URL", "")


@dataclass
class Endpoint:
    url: str
    origin: str


def endpoint(server: ServerProcess) -> Endpoint:
    return Endpoint(url=server.ws_url, origin=server.server.url)


async def _csrf(request: httpx.Request) -> None:
    cookie = request.headers.get("cookie", "")
    for part in cookie.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "tack_csrf" and request.method not in ("GET", "HEAD"):
            request.headers["X-CSRF-Token"] = value


@asynccontextmanager
async def http_client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.server.api_url, event_hooks={"request": [_csrf]}, timeout=10) as c:
        yield c


async def signed_up_owner(http: httpx.AsyncClient) -> dict:
    body = {"name": unique("Owner "), "email": f"{unique('o')}@example.com", "password": PASSWORD}
    check(await http.post("/auth/sign-up", json=body), 201)
    return check(await http.post("/orgs", json={"name": unique("Org "), "kind": "company"}), 201)


async def emit(http: httpx.AsyncClient, org: dict, count: int = 1, channel: str = "org",
               data: dict | None = None) -> list[int]:
    body = {"channel": channel, "count": count, "data": data or {}}
    return check(await http.post(f"/orgs/{org['id']}/testing/events", json=body), 200)["positions"]


async def connected(server: ServerProcess, http: httpx.AsyncClient, cursors: dict | None = None) -> StreamClient:
    stream = await connect(endpoint(server), http)
    await stream.hello(cursors)
    return stream


async def test_resume_after_the_server_was_killed_and_started_again() -> None:
    with live_database(env={"TACK_TESTING": "1"}, migrate=False) as database:
        server = ServerProcess(database, migrate=True)  # one process start fewer
        server.start()
        try:
            async with http_client(server) as http:
                org = await signed_up_owner(http)
                stream = await connected(server, http)
                replayed = await stream.until_live()
                epoch = stream.ready["orgs"][org["id"]]["epoch"]  # type: ignore[index]
                first = await emit(http, org, 3)
                got = replayed + await stream.events(3)
                assert positions(got) == first

                # One client drops; more happens; then the server dies without a goodbye.
                await stream.close()
                missed = await emit(http, org, 2)
                watcher = await connected(server, http, {org["id"]: {"position": missed[-1], "epoch": epoch}})
                assert await watcher.until_live() == []
                server.kill()
                code, _ = await watcher.closed()
                assert code == 1006  # the connection just broke

                server.start()
                missed += await emit(http, org, 2)
                stream = await connected(server, http, {org["id"]: {"position": first[-1], "epoch": epoch}})
                assert positions(await stream.until_live()) == missed  # each once, in order
                watcher = await connected(server, http, {org["id"]: {"position": first[-1] + 2, "epoch": epoch}})
                assert positions(await watcher.until_live()) == missed[2:]
                assert stream.ready["orgs"][org["id"]]["epoch"] == epoch  # type: ignore[index]
                live = await emit(http, org, 1)
                assert positions(await stream.events(1)) == live
                assert positions(await watcher.events(1)) == live
                await stream.silent(0.2)
                # Under `tack serve` the frames went to the sockets as prebuilt bytes
                # (tack/stream/wire.py), not through a fallback.
                metrics = (await http.get(server.server.url + "/metrics")).text
                direct = [line for line in metrics.splitlines() if line.startswith("tack_stream_direct_frames_total")]
                assert direct and float(direct[0].split()[-1]) >= 2, metrics[:2000]
        finally:
            server.stop()


@pytest.mark.skipif(BACKEND != "postgres" or not REDIS_URL, reason="needs PostgreSQL and Redis (TACK_REDIS_URL)")
async def test_two_processes_on_postgresql_and_redis_behave_as_one() -> None:
    # Polling the log every minute: what arrives within a second came through Redis.
    env = {"TACK_TESTING": "1", "TACK_REDIS_URL": REDIS_URL, "TACK_STREAM_POLL_SECONDS": "60"}
    with live_database(env=env) as database:
        a, b = ServerProcess(database, name="a"), ServerProcess(database, name="b")
        a.launch()
        b.launch()
        try:
            a.wait_ready()
            b.wait_ready()
            async with http_client(a) as via_a, http_client(b) as via_b:
                org = await signed_up_owner(via_a)
                via_b.cookies = via_a.cookies  # the same person, talking to the other process
                on_a, on_b = await connected(a, via_a), await connected(b, via_b)
                for stream in (on_a, on_b):
                    await stream.until_live()

                started = time.monotonic()
                [one] = await emit(via_a, org)
                assert positions(await on_b.events(1, within=1.0)) == [one]
                [two] = await emit(via_b, org)
                assert positions(await on_a.events(2, within=1.0)) == [one, two]
                assert positions(await on_b.events(1, within=1.0)) == [two]
                assert time.monotonic() - started < 3

                # Both processes writing at once: every client sees one dense sequence, in order.
                sent = await asyncio.gather(*(emit(via, org, 5) for via in (via_a, via_b) * 10))
                expected = sorted(p for batch in sent for p in batch)
                assert expected == list(range(two + 1, two + 1 + 100))
                for stream in (on_a, on_b):
                    assert positions(await stream.events(100, within=5)) == expected
                    await stream.silent(0.2)

                # Too big to announce through Redis: announced by position, read from the log.
                [big] = await emit(via_a, org, data={"blob": "x" * 300_000})
                [event] = await on_b.events(1, within=2.0)
                assert event["position"] == big and len(event["data"]["blob"]) == 300_000
        finally:
            a.stop()
            b.stop()
