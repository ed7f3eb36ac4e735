"""`tack bench chat`: one group conversation, N receivers on the stream, senders at a fixed rate.

Set-up (not timed): a sender signs up and creates an organization; the receivers (and any further
senders) are added to it as members with an initial password and sign in; the first sender creates
one group with everyone in it. Each receiver opens one WebSocket on /api/v1/stream (docs/stream.md)
and says hello; it counts as connected when the server says `live`.

Run: messages are sent on an open-loop schedule (message i at start + i / rate, whether or not
earlier ones were delivered or even answered), so a slow server shows up as latency and not as a
politely slower sender. Each message carries a client_msg_id holding its number and a send
timestamp in its text. The send start time and each receiver's receive time are both taken with
time.perf_counter() in this process: one clock, no clock skew.

Latency = receive time - send start time, for every (message, receiver) delivery; it includes the
HTTP request, the database transaction, the fan-out and the WebSocket write. Messages of the warm-up
are checked for loss but kept out of the figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import httpx

from tack.bench.server import (
    BenchError,
    MetricsProbe,
    ProcessProbe,
    Progress,
    Usage,
    disturbance_warning,
    machine_cpu_seconds,
)
from tack.bench.wsclient import HandshakeFailed, WebSocketConnection

API = "/api/v1"
SESSION_COOKIE = "tack_session"
PONG = '{"type":"pong"}'
PASSWORD = "bench-password-1"
SETUP_CONCURRENCY = 8
CONNECT_CONCURRENCY = 50
# How many POSTs may be outstanding before the schedule is declared impossible: far more than a
# healthy server ever has, few enough that a stalled one cannot make the bench eat the machine.
MAX_IN_FLIGHT = 2000
RECONNECT_DELAY = 0.5


@dataclass
class ChatBenchConfig:
    receivers: int = 20
    senders: int = 1
    rate: float = 10.0
    duration: float = 30.0
    warmup: float = 2.0
    drain_timeout: float = 5.0
    url: str = ""  # the server, e.g. http://127.0.0.1:8700 (no trailing slash)
    # "stream": each sender sends over its own stream connection (a "chat.send" call), as the web
    # client does while it is connected; "http": POST .../messages, as clients without a stream do.
    send_over: str = "stream"


@dataclass
class Account:
    name: str
    email: str
    member_id: str = ""
    session: str = ""  # the session cookie's value
    csrf: str = ""

    def headers(self) -> dict[str, str]:
        # Sent by hand rather than through a cookie jar: one HTTP client acts for many people.
        return {"Cookie": f"{SESSION_COOKIE}={self.session}", "X-CSRF-Token": self.csrf} if self.session else {}


@dataclass
class SendRecord:
    scheduled: float
    started: float = 0.0
    answered: float = 0.0
    status: int = 0  # 0: no answer (yet)
    error: str = ""


# ---- senders over the stream --------------------------------------------------------------------


async def open_stream(ws_url: str, account: Account, origin: str, cursors: dict[str, Any],
                      on_message: Callable[[float, str], None],
                      on_close: Callable[[int | None, str], None]) -> WebSocketConnection:
    """A stream connection the web client's way (the session cookie, from a page of the server's
    own origin) that has said hello; the caller waits for `live`."""
    headers = {"Cookie": account.headers()["Cookie"], "Origin": origin}
    connection = await WebSocketConnection.open(ws_url, headers=headers, on_message=on_message, on_close=on_close)
    connection.send_json({"type": "hello", "cursors": cursors})
    return connection


class StreamSender:
    """A sender's stream connection: "chat.send" calls out, their results back (docs/stream.md).
    Like a real client it also receives the events of the conversation, its own messages included;
    the bench does not count those as deliveries."""

    def __init__(self, account: Account, ws_url: str, origin: str) -> None:
        self.account = account
        self.ws_url = ws_url
        self.origin = origin
        self.connection: WebSocketConnection | None = None
        self.ready: asyncio.Future[None] | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.closing = False

    async def connect(self) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        self.connection = await open_stream(self.ws_url, self.account, self.origin, {}, self._frame, self._closed)
        async with asyncio.timeout(30):
            await self.ready

    def call(self, call_id: str, org_id: str, params: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self.connection is None or not self.connection.is_open:
            future.set_exception(ConnectionError("the sender's stream connection is closed"))
            return future
        self.waiting[call_id] = future
        self.connection.send_json({"type": "call", "id": call_id, "action": "chat.send", "org_id": org_id,
                                   "params": params})
        return future

    async def close(self) -> None:
        self.closing = True
        if self.connection is not None:
            await self.connection.close()

    def _frame(self, received_at: float, text: str) -> None:
        if text.startswith('{"type":"event"'):
            return  # the conversation's events, its own messages among them
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "result":
            future = self.waiting.pop(str(frame.get("id")), None)
            if future is not None and not future.done():
                future.set_result(frame)
        elif kind == "ping" and self.connection is not None:
            self.connection.send_text(PONG)
        elif kind == "live" and self.ready is not None and not self.ready.done():
            self.ready.set_result(None)

    def _closed(self, code: int | None, reason: str) -> None:
        error = ConnectionError(f"the sender's stream closed ({code} {reason})")
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(error)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(error)
        self.waiting.clear()


# ---- receivers ----------------------------------------------------------------------------------


class Receiver:
    """One receiving client: a stream connection, its positions, and when each message arrived."""

    def __init__(self, index: int, account: Account, ws_url: str, origin: str, prefix: str, total: int) -> None:
        self.index = index
        self.account = account
        self.ws_url = ws_url
        self.origin = origin
        self.prefix = prefix
        self.prefix_len = len(prefix)
        # Receive time of message i (0.0: not yet), and how many extra copies arrived.
        self.received = [0.0] * total
        self.count = 0
        self.duplicates = 0
        self.cursors: dict[str, dict[str, Any]] = {}
        self.connection: WebSocketConnection | None = None
        self.ready: asyncio.Future[None] | None = None
        self.closing = False
        self.reconnects = 0
        self.resyncs = 0
        self.closes: list[int | None] = []
        self.errors: list[str] = []
        self.on_delivery: Callable[[], None] = lambda: None

    async def connect(self) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        self.connection = await open_stream(self.ws_url, self.account, self.origin, self.cursors, self._frame,
                                            self._closed)
        async with asyncio.timeout(30):
            await self.ready

    async def close(self) -> None:
        self.closing = True
        if self.connection is not None:
            await self.connection.close()

    # Runs once per frame: keep it small (one json.loads, a few dict lookups). Protocol: docs/stream.md.
    def _frame(self, received_at: float, text: str) -> None:
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "event":
            self._event(received_at, frame)
        elif kind == "ping":
            self._advance(frame.get("positions"))
            if self.connection is not None:
                self.connection.send_text(PONG)
        elif kind == "ready":
            for org_id, info in (frame.get("orgs") or {}).items():
                cursor = self.cursors.setdefault(org_id, {"position": info.get("position", 0)})
                cursor["epoch"] = info.get("epoch")
        elif kind == "live":
            self._advance(frame.get("positions"))
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
        elif kind == "resync":
            # A gap the server will not replay: a real client refetches over REST. The bench only
            # follows the new position; whatever it did not receive is counted as lost.
            self.resyncs += 1
            org_id = frame.get("org_id")
            if org_id:
                self.cursors[org_id] = {"position": frame.get("position", 0), "epoch": frame.get("epoch")}
        elif kind == "error":
            self.errors.append(frame.get("code") or "?")
            if self.ready is not None and not self.ready.done():
                self.ready.set_exception(BenchError(f"The stream refused receiver {self.index}: {text[:300]}"))

    def _advance(self, positions: dict[str, int] | None) -> None:
        """Positions in ping and live frames: nothing up to there was for this client."""
        for org_id, position in (positions or {}).items():
            cursor = self.cursors.get(org_id)
            if cursor is not None and position > cursor["position"]:
                cursor["position"] = position

    def _event(self, received_at: float, event: dict[str, Any]) -> None:
        org_id = event.get("org_id")
        position = event.get("position")
        if org_id and isinstance(position, int):
            cursor = self.cursors.get(org_id)
            if cursor is None:
                self.cursors[org_id] = {"position": position}
            elif position > cursor["position"]:
                cursor["position"] = position
        if event.get("kind") != "message.created":
            return
        client_msg_id = ((event.get("data") or {}).get("message") or {}).get("client_msg_id") or ""
        if not client_msg_id.startswith(self.prefix):
            return
        number = int(client_msg_id[self.prefix_len :])
        if self.received[number]:
            self.duplicates += 1
        else:
            self.received[number] = received_at
            self.count += 1
            self.on_delivery()

    def _closed(self, code: int | None, reason: str) -> None:
        self.closes.append(code)
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(BenchError(
                f"The stream closed receiver {self.index}'s connection before it was ready ({code} {reason})"
            ))
            return
        if not self.closing:
            # A real client resumes from its positions; so does the bench, and counts it.
            self.reconnects += 1
            asyncio.get_running_loop().call_later(RECONNECT_DELAY, self._reconnect)

    def _reconnect(self) -> None:
        if self.closing:
            return

        async def again() -> None:
            try:
                await self.connect()
            except Exception:
                if not self.closing:
                    self.reconnects += 1
                    asyncio.get_running_loop().call_later(RECONNECT_DELAY * 2, self._reconnect)

        asyncio.get_running_loop().create_task(again())


# ---- the run ------------------------------------------------------------------------------------


class ChatBench:
    def __init__(self, config: ChatBenchConfig, *, probe_pid: int | None, progress: Progress) -> None:
        self.config = config
        self.progress = progress
        self.probe_pid = probe_pid
        parts = urlsplit(config.url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.ws_url = ("wss" if parts.scheme == "https" else "ws") + f"://{parts.netloc}{API}/stream"
        self.run_id = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{self.run_id}-"
        self.warmup_count = math.ceil(config.warmup * config.rate)
        self.measured_count = max(1, round(config.duration * config.rate))
        self.total = self.warmup_count + self.measured_count
        self.sends = [SendRecord(scheduled=0.0) for _ in range(self.total)]
        self.receivers: list[Receiver] = []
        self.senders: list[Account] = []
        self.stream_senders: list[StreamSender] = []
        self.org_id = ""
        self.conversation_id = ""
        self.deliveries = 0
        self.in_flight = 0
        self.overloaded = False

    # ---- HTTP helpers -------------------------------------------------------------------------

    @staticmethod
    async def _call(client: httpx.AsyncClient, method: str, path: str, account: Account | None = None,
                    expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if account is not None:
            headers = {**account.headers(), **headers}
        response = await client.request(method, API + path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise BenchError(f"{method} {API}{path} answered {response.status_code}: {response.text[:500]}")
        return response

    async def _sign_in(self, client: httpx.AsyncClient, account: Account) -> None:
        response = await self._call(client, "POST", "/auth/sign-in",
                                    json={"login": account.email, "password": PASSWORD})
        self._keep_session(account, response)

    @staticmethod
    def _keep_session(account: Account, response: httpx.Response) -> None:
        account.session = response.cookies[SESSION_COOKIE]
        account.csrf = response.json()["csrf_token"]

    # ---- set-up -------------------------------------------------------------------------------

    async def set_up(self, client: httpx.AsyncClient) -> None:
        cfg = self.config
        domain = f"bench-{self.run_id}.example.com"
        owner = Account(name="Bench Sender 1", email=f"sender1@{domain}")
        response = await self._call(client, "POST", "/auth/sign-up", json={
            "name": owner.name, "email": owner.email, "password": PASSWORD,
        })
        self._keep_session(owner, response)
        org = (await self._call(client, "POST", "/orgs", owner,
                                json={"name": f"Bench {self.run_id}", "kind": "company"})).json()
        self.org_id = org["id"]
        owner.member_id = org["member_id"]
        self.senders = [owner] + [
            Account(name=f"Bench Sender {i + 1}", email=f"sender{i + 1}@{domain}") for i in range(1, cfg.senders)
        ]
        receiving = [Account(name=f"Bench Receiver {i + 1}", email=f"receiver{i + 1}@{domain}")
                     for i in range(cfg.receivers)]
        people = self.senders[1:] + receiving
        self.progress(f"Adding {len(people)} members to the bench organization and signing them in...")
        semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)
        done = 0
        last_report = time.monotonic()

        async def add(account: Account) -> None:
            nonlocal done, last_report
            async with semaphore:
                member = (await self._call(client, "POST", f"/orgs/{self.org_id}/members", owner, json={
                    "display_name": account.name, "email": account.email, "initial_password": PASSWORD,
                })).json()
                account.member_id = member["id"]
                await self._sign_in(client, account)
            done += 1
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                self.progress(f"  {done}/{len(people)} members ready")

        await _gather_all(add(a) for a in people)
        conversation = (await self._call(client, "POST", f"/orgs/{self.org_id}/conversations", owner, json={
            "kind": "group", "name": f"Bench group {self.run_id}",
            "member_ids": [a.member_id for a in people],
        })).json()
        self.conversation_id = conversation["id"]
        self.progress(f"Created a group of {conversation.get('member_count', len(people) + 1)} members.")
        self.receivers = [
            Receiver(i, account, self.ws_url, self.origin, self.prefix, self.total)
            for i, account in enumerate(receiving)
        ]

    async def _connect(self, receiver: Receiver) -> None:
        try:
            await receiver.connect()
        except HandshakeFailed as exc:
            raise BenchError(f"The stream refused receiver {receiver.index}: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise BenchError(f"Receiver {receiver.index} could not connect to {self.ws_url}: {exc!r}") from None

    async def connect_receivers(self) -> None:
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def connect(receiver: Receiver) -> None:
            async with semaphore:
                await self._connect(receiver)

        await _gather_all(connect(r) for r in self.receivers)

    async def warm_up_stream(self) -> None:
        """Open and close one stream connection, so lazy start-up work is not counted per client."""
        if not self.receivers:
            return
        spare = Receiver(-1, self.receivers[0].account, self.ws_url, self.origin, self.prefix, self.total)
        await self._connect(spare)
        await spare.close()

    # ---- sending ------------------------------------------------------------------------------

    async def connect_senders(self) -> None:
        """With send_over "stream": one stream connection per sender."""
        if self.config.send_over != "stream":
            return
        self.stream_senders = [StreamSender(account, self.ws_url, self.origin) for account in self.senders]
        for sender in self.stream_senders:
            try:
                await sender.connect()
            except HandshakeFailed as exc:
                raise BenchError(f"The stream refused a sender: {exc}") from None
            except (OSError, TimeoutError) as exc:
                raise BenchError(f"A sender could not connect to {self.ws_url}: {exc!r}") from None

    async def _send(self, client: httpx.AsyncClient, number: int) -> None:
        record = self.sends[number]
        sender = self.senders[number % len(self.senders)]
        client_msg_id = f"{self.prefix}{number}"
        message = {"client_msg_id": client_msg_id, "body": f"bench message {number}, sent at {time.time():.6f}"}
        self.in_flight += 1
        record.started = time.perf_counter()
        try:
            if self.stream_senders:
                stream_sender = self.stream_senders[number % len(self.stream_senders)]
                future = stream_sender.call(str(number), self.org_id,
                                            {"conversation_id": self.conversation_id, "message": message})
                async with asyncio.timeout(30):
                    result = await future
                if result.get("ok"):
                    record.status = 201 if result["data"].get("created") else 200
                else:
                    record.status = int(result.get("status") or 500)
                    record.error = json.dumps(result.get("error"))[:300]
            else:
                path = f"{API}/orgs/{self.org_id}/conversations/{self.conversation_id}/messages"
                response = await client.post(path, headers=sender.headers(), json=message)
                record.status = response.status_code
                if response.status_code not in (200, 201):
                    record.error = response.text[:300]
        except (httpx.HTTPError, ConnectionError, TimeoutError) as exc:
            record.error = repr(exc)
        finally:
            record.answered = time.perf_counter()
            self.in_flight -= 1

    async def send_all(self, client: httpx.AsyncClient, on_measured_start: Callable[[], Any]) -> list[asyncio.Task]:
        """Send every message on its schedule; returns the request tasks (some may still run)."""
        rate = self.config.rate
        tasks: list[asyncio.Task] = []
        start = time.perf_counter() + 0.05
        for number in range(self.total):
            scheduled = start + number / rate
            self.sends[number].scheduled = scheduled
            if number == self.warmup_count:
                await on_measured_start()
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.in_flight >= MAX_IN_FLIGHT:
                self.overloaded = True
                self.progress(f"More than {MAX_IN_FLIGHT} sends are waiting for an answer: the server cannot "
                              "keep up with this rate; stopping the schedule here.")
                break
            tasks.append(asyncio.create_task(self._send(client, number)))
        return tasks

    # ---- the whole run ------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        # A jar that keeps nothing: each request carries the session of the person it is sent as.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(base_url=cfg.url, limits=limits, timeout=httpx.Timeout(30.0),
                                     cookies=no_cookies) as client:
            probe = ProcessProbe(self.probe_pid) if self.probe_pid else MetricsProbe(client, cfg.url)
            await self.set_up(client)
            await self.warm_up_stream()
            await asyncio.sleep(0.5)
            before_connect = await probe.read()
            self.progress(f"Connecting {cfg.receivers} receivers to {self.ws_url}...")
            await self.connect_receivers()
            await asyncio.sleep(0.5)  # let the server finish what connecting started
            after_connect = await probe.read()
            self.progress(f"{cfg.receivers} receivers connected.")
            try:
                await self.connect_senders()
                return await self._measure(client, probe, before_connect, after_connect)
            finally:
                await asyncio.gather(*(r.close() for r in [*self.receivers, *self.stream_senders]),
                                     return_exceptions=True)

    async def _measure(self, client: httpx.AsyncClient, probe: ProcessProbe | MetricsProbe,
                       before_connect: Usage, after_connect: Usage) -> dict[str, Any]:
        cfg = self.config
        all_delivered = asyncio.Event()
        # Every delivery of every message, until the answers tell how many sends were accepted.
        target = self.total * cfg.receivers

        def on_delivery() -> None:
            self.deliveries += 1
            if self.deliveries >= target:
                all_delivered.set()

        for receiver in self.receivers:
            receiver.on_delivery = on_delivery
        marks: dict[str, Any] = {}

        async def measured_start() -> None:
            marks["usage"] = await probe.read()
            marks["cpu"] = _own_cpu()
            marks["machine"] = machine_cpu_seconds()
            marks["at"] = time.perf_counter()

        if cfg.warmup > 0:
            self.progress(f"Warming up for {cfg.warmup:g} s at {cfg.rate:g} messages/s...")
        reporter = asyncio.create_task(self._report_progress())
        try:
            tasks = await self.send_all(client, measured_start)
            if "usage" not in marks:
                await measured_start()
            last_scheduled = time.perf_counter()
            # Bounded: every answer and every delivery gets drain_timeout after the last send.
            deadline = last_scheduled + cfg.drain_timeout
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.1, deadline - time.perf_counter()))
            target = sum(1 for s in self.sends if s.status in (200, 201)) * cfg.receivers
            if self.deliveries >= target:
                all_delivered.set()
            try:
                async with asyncio.timeout(max(0.1, deadline - time.perf_counter())):
                    await all_delivered.wait()
            except TimeoutError:
                pass
            ended_at = time.perf_counter()
            usage_end = await probe.read()
            own_cpu = _own_cpu() - marks["cpu"]
            machine_cpu = _delta(marks["machine"], machine_cpu_seconds())
            for task in tasks:
                task.cancel()
        finally:
            reporter.cancel()
        results = self._results(marks["usage"], usage_end, before_connect, after_connect,
                                marks["at"], ended_at, own_cpu)
        # What the rest of the machine did meanwhile: on a shared machine, figures taken while
        # other work competed for the cores say more about that work than about Tack.
        server_cpu = results["server_cpu_s"]
        span = ended_at - marks["at"]
        if machine_cpu is not None and server_cpu is not None and span > 0:
            others = max(0.0, machine_cpu - server_cpu - own_cpu)
            results["other_cpu_s"] = round(others, 2)
            results["other_cpu_busy"] = round(others / span, 3)
        else:
            results["other_cpu_s"] = results["other_cpu_busy"] = None
        results["cores"] = os.cpu_count()
        results["load_1m"] = round(os.getloadavg()[0], 2)
        return results

    async def _report_progress(self) -> None:
        cfg = self.config
        started = time.perf_counter()
        while True:
            await asyncio.sleep(5)
            sent = sum(1 for s in self.sends if s.started)
            self.progress(f"  {time.perf_counter() - started:4.0f} s: {sent}/{self.total} sent, "
                          f"{self.deliveries}/{sent * cfg.receivers} deliveries, {self.in_flight} sends in flight")

    # ---- figures ------------------------------------------------------------------------------

    def _results(self, usage_start: Usage, usage_end: Usage, before_connect: Usage, after_connect: Usage,
                 started_at: float, ended_at: float, own_cpu: float) -> dict[str, Any]:
        cfg = self.config
        ok = [s.status in (200, 201) for s in self.sends]
        attempted = sum(1 for s in self.sends if s.started)
        send_errors = [s for s in self.sends if s.started and s.status not in (200, 201)]
        expected = sum(ok) * cfg.receivers
        received_ok = sum(1 for r in self.receivers for n in range(self.total) if ok[n] and r.received[n])
        # Deliveries of messages whose send failed (the server made them but the answer was lost).
        received_unconfirmed = sum(1 for r in self.receivers for n in range(self.total) if not ok[n] and r.received[n])
        latencies: list[float] = []
        last_receive = started_at
        for n in range(self.warmup_count, self.total):
            if not ok[n]:
                continue
            sent_at = self.sends[n].started
            for r in self.receivers:
                got = r.received[n]
                if got:
                    latencies.append(got - sent_at)
                    last_receive = max(last_receive, got)
        latencies.sort()
        measured_sent = sum(1 for n in range(self.warmup_count, self.total) if ok[n])
        window = max(1e-9, last_receive - started_at)
        measured_deliveries = len(latencies)
        cpu = _delta(usage_start.cpu_seconds, usage_end.cpu_seconds)
        rss_growth = _delta(before_connect.rss_bytes, after_connect.rss_bytes)
        lags = sorted(s.started - s.scheduled for s in self.sends if s.started)
        answers = sorted(s.answered - s.started for s in self.sends if s.status in (200, 201))
        return {
            "p50_ms": _ms(_percentile(latencies, 50)),
            "p95_ms": _ms(_percentile(latencies, 95)),
            "p99_ms": _ms(_percentile(latencies, 99)),
            "max_ms": _ms(latencies[-1] if latencies else None),
            "mean_ms": _ms(sum(latencies) / len(latencies) if latencies else None),
            "deliveries_per_s": round(measured_deliveries / window, 1),
            "server_cpu_s_per_1k": (round(cpu / measured_deliveries * 1000, 4)
                                    if cpu is not None and measured_deliveries else None),
            "server_cpu_s": round(cpu, 3) if cpu is not None else None,
            "server_cpu_busy": round(cpu / window, 3) if cpu is not None else None,
            "server_rss_kb_per_client": (round(rss_growth / 1024 / cfg.receivers, 1)
                                         if rss_growth is not None and cfg.receivers else None),
            "server_rss_mb": (round(after_connect.rss_bytes / 2**20, 1)
                              if after_connect.rss_bytes is not None else None),
            "server_rss_end_mb": (round(usage_end.rss_bytes / 2**20, 1)
                                  if usage_end.rss_bytes is not None else None),
            "lost": expected - received_ok,
            "duplicates": sum(r.duplicates for r in self.receivers),
            "sent": attempted,
            "send_errors": len(send_errors),
            "send_error_sample": send_errors[0].error or f"HTTP {send_errors[0].status}" if send_errors else None,
            "unconfirmed_delivered": received_unconfirmed,
            "expected": expected,
            "received": received_ok,
            "measured_messages": measured_sent,
            "measured_deliveries": measured_deliveries,
            "warmup_messages": self.warmup_count,
            "receivers": cfg.receivers,
            "senders": cfg.senders,
            "send_over": cfg.send_over,
            "rate": cfg.rate,
            "duration": cfg.duration,
            "warmup": cfg.warmup,
            "window_s": round(window, 3),
            "send_p50_ms": _ms(_percentile(answers, 50)),
            "send_p99_ms": _ms(_percentile(answers, 99)),
            "max_send_lag_ms": _ms(lags[-1] if lags else None),
            "schedule_abandoned": self.overloaded,
            "reconnects": sum(r.reconnects for r in self.receivers),
            "resyncs": sum(r.resyncs for r in self.receivers),
            # Error frames the server sent before closing a connection, by code (e.g. too_slow).
            "stream_errors": dict(Counter(code for r in self.receivers for code in r.errors)),
            "bench_cpu_s": round(own_cpu, 3),
        }


async def _gather_all(coros: Any) -> None:
    """Run them all; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _delta(before: float | int | None, after: float | int | None) -> Any:
    if before is None or after is None:
        return None
    return after - before


def _percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# ---- report -------------------------------------------------------------------------------------


def format_report(r: dict[str, Any], *, where: str) -> str:
    def value(key: str, unit: str = "", digits: int = 1) -> str:
        v = r.get(key)
        if v is None:
            return "n/a"
        return f"{v:,.{digits}f}{unit}" if isinstance(v, float) else f"{v:,}{unit}"

    lines = [
        "",
        f"tack bench chat: {r['receivers']} receivers, {r['senders']} sender(s) sending over "
        f"{'their stream' if r.get('send_over') == 'stream' else 'HTTP'}, {r['rate']:g} messages/s "
        f"for {r['duration']:g} s (+{r['warmup']:g} s warm-up), {where}",
        "",
        f"  latency p50      {value('p50_ms', ' ms')}   half of the deliveries arrived within this time of the send starting",
        f"  latency p95      {value('p95_ms', ' ms')}   95% within this",
        f"  latency p99      {value('p99_ms', ' ms')}   99% within this (max {value('max_ms', ' ms')})",
        f"  deliveries/s     {value('deliveries_per_s')}   messages x receivers delivered per second of the run",
        f"  server CPU       {value('server_cpu_s_per_1k', ' s', 3)} per 1,000 deliveries   "
        f"CPU time the server used per thousand deliveries ({value('server_cpu_s', ' s', 2)} in all, "
        f"{_percent(r.get('server_cpu_busy'))} of one core)",
        f"  server memory    {value('server_rss_kb_per_client', ' KB')} per client   "
        "growth of the server's resident memory from before to after connecting the receivers, per receiver",
        f"  lost             {value('lost')}   deliveries expected ({r['expected']:,}) but never received; must be 0",
        f"  duplicates       {value('duplicates')}   copies of a message a receiver got more than once",
        "",
        f"  sent {r['sent']:,} messages ({r['warmup_messages']} in the warm-up, kept out of the figures), "
        f"{r['send_errors']} refused or failed; send answered in p50 {value('send_p50_ms', ' ms')}, "
        f"p99 {value('send_p99_ms', ' ms')}; the sender ran at most {value('max_send_lag_ms', ' ms')} behind schedule",
        f"  reconnects {r['reconnects']}, resyncs {r['resyncs']}, stream errors {r['stream_errors'] or 'none'}; this bench process used "
        f"{r['bench_cpu_s']:.2f} s of CPU while measuring",
    ]
    if warning := disturbance_warning(r, "the run"):
        lines.append(warning)
    if r.get("send_error_sample"):
        lines.append(f"  first send error: {r['send_error_sample']}")
    if r.get("schedule_abandoned"):
        lines.append("  The schedule was abandoned: the server could not keep up with the rate.")
    return "\n".join(lines)


def _percent(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.0f}%"


def run_chat_bench(config: ChatBenchConfig, *, probe_pid: int | None, progress: Progress) -> dict[str, Any]:
    """Run the bench in a fresh event loop (uvloop when installed) and return its figures."""
    _raise_file_limit()

    async def main() -> dict[str, Any]:
        bench = ChatBench(config, probe_pid=probe_pid, progress=progress)
        # Bounded whatever happens: set-up, the run and the drain, with generous room for set-up.
        budget = 600 + config.receivers * 2 + config.warmup + config.duration + config.drain_timeout
        async with asyncio.timeout(budget):
            return await bench.run()

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def _raise_file_limit() -> None:
    """Hundreds of sockets need more than the common soft limit of 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            print(f"Could not raise the open-file limit above {soft}.", file=sys.stderr)


__all__ = ["ChatBenchConfig", "format_report", "run_chat_bench"]
