"""`tack bench media`: meeting rooms with synthetic participants that really send and receive media.

Every participant is a Tack member who signs in, joins a meeting room over HTTP, asks Tack for a
media session (`POST .../rooms/{room}/media`, docs/media.md) and then talks to Janus directly over
its WebSocket API, as a browser does: create (with the core token), attach the VideoRoom, join with
the feed id and join token Tack handed out. Publishers send a generated picture (colour bars that
move, VP8) and sound (a 440 Hz sine, Opus) with aiortc; subscribers join a second handle as
subscribers to every publisher of their room and decode what arrives, as a browser would.

Set-up (not timed): an owner signs up and creates an organization; the participants are added as
members with an initial password and sign in; the first publisher of each room creates a meeting
(instant, no waiting room) inviting the others. The publishers then join and publish, and the bench
waits for Janus's `webrtcup` for each of them (subscribing earlier gives Janus's 428).

Measured:
- first frame: per subscriber, from its start (the HTTP join of the room) to its first decoded video
  frame: Tack's join and media session, the Janus session, the subscription's offer and answer,
  ICE, DTLS, and the wait for a keyframe;
- then, once every subscriber has a picture (or gave up), a window of `duration` seconds: video frames
  decoded per second by each subscriber (per publisher it receives), packet loss from the subscribers'
  inbound RTP statistics, and the CPU time of Janus and of the Tack server (/proc/<pid>/stat, user +
  system, the process and its descendants) over the window, as a percentage of one core, divided by
  the participants.

aiortc encodes and decodes in this process (in threads), and on a small machine the bench's own CPU
is most of the load: the report gives it, with what the rest of the machine used.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import ipaddress
import json
import math
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.exceptions import WebSocketException

from tack.bench.chat import Account, _delta, _gather_all, _ms, _own_cpu, _percentile
from tack.bench.server import (
    BenchError,
    LocalServer,
    MetricsProbe,
    ProcessProbe,
    Progress,
    Usage,
    disturbance_warning,
    free_port,
    machine_cpu_seconds,
    tack_command,
)

API = "/api/v1"
SESSION_COOKIE = "tack_session"
PASSWORD = "bench-media-password-1"
VIDEOROOM = "janus.plugin.videoroom"
SETUP_CONCURRENCY = 8
# One Janus request, and the wait for a publisher's `webrtcup`.
JANUS_TIMEOUT = 15.0
KEEPALIVE_SECONDS = 25.0
# Seconds after the last subscriber's first frame before the window opens (the decoders settle).
SETTLE_SECONDS = 1.0
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms
VIDEO_CLOCK = 90000


@dataclass
class MediaBenchConfig:
    publishers: int = 1  # per room
    subscribers: int = 6  # per room
    rooms: int = 1
    duration: float = 20.0  # seconds of the measurement window
    width: int = 320
    height: int = 240
    fps: float = 15.0
    first_frame_timeout: float = 30.0  # seconds a subscriber waits for its first picture
    url: str = ""  # the Tack server, e.g. http://127.0.0.1:8700 (no trailing slash)

    @property
    def participants(self) -> int:
        return self.rooms * (self.publishers + self.subscribers)


# ---- generated sound and picture -------------------------------------------------------------------


class _Paced:
    """Frame numbers at a fixed rate from the first one on: a late frame goes at once, and after a
    stall of more than a second the schedule starts again rather than sending a burst."""

    def __init__(self, rate: float) -> None:
        self.period = 1.0 / rate
        self.count = 0
        self.started: float | None = None

    async def next(self) -> int:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        else:
            due = self.started + self.count * self.period
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:  # the loop stalled: start the schedule again rather than burst
                self.started = now - self.count * self.period
        n = self.count
        self.count += 1
        return n


# 75% colour bars (ITU-R BT.601, limited range): white, yellow, cyan, green, magenta, red, blue, black.
_BARS = [(180, 128, 128), (162, 44, 142), (131, 156, 44), (112, 72, 58),
         (84, 184, 198), (65, 100, 212), (35, 212, 114), (16, 128, 128)]
_BAR_SPEED = 4  # pixels per frame (even: the chroma planes move by half of it)


def make_tracks(width: int, height: int, fps: float) -> tuple[Any, Any]:
    """(audio, video) aiortc tracks: a 440 Hz sine and colour bars moving to the left."""
    import av
    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import MediaStreamError

    class SineTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            # One second of a 440 Hz tone is a whole number of periods: 50 frames of 20 ms loop seamlessly.
            tone = array.array("h", (int(0.25 * 32767 * math.sin(2 * math.pi * 440 * i / AUDIO_RATE))
                                     for i in range(AUDIO_RATE)))
            self.chunks = [tone[i : i + AUDIO_SAMPLES].tobytes() for i in range(0, AUDIO_RATE, AUDIO_SAMPLES)]
            self.pace = _Paced(AUDIO_RATE / AUDIO_SAMPLES)
            self.time_base = fractions.Fraction(1, AUDIO_RATE)

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            n = await self.pace.next()
            frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
            frame.planes[0].update(self.chunks[n % len(self.chunks)])
            frame.sample_rate = AUDIO_RATE
            frame.pts = n * AUDIO_SAMPLES
            frame.time_base = self.time_base
            return frame

    class ColourBarsTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.pace = _Paced(fps)
            self.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            probe = av.VideoFrame(width, height, "yuv420p")
            self.planes = []  # (row twice over, width, line size, rows) of Y, U, V
            for index, plane in enumerate(probe.planes):
                w = plane.width
                row = bytes(_BARS[min(7, x * 8 * (width // w) // width)][index] for x in range(w))
                self.planes.append((row + row, w, plane.line_size, plane.height))

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            n = await self.pace.next()
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane, (double, w, line_size, rows) in zip(frame.planes, self.planes, strict=True):
                shift = (n * _BAR_SPEED * w // width) % w
                line = double[shift : shift + w]
                if line_size > w:
                    line += bytes(line_size - w)
                plane.update(line * rows)
            frame.pts = int(n * VIDEO_CLOCK / fps)
            frame.time_base = self.time_base
            return frame

    return SineTrack(), ColourBarsTrack()


# ---- Janus over its WebSocket API ------------------------------------------------------------------


class JanusError(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code


class JanusSession:
    """One participant's Janus session over WebSocket (subprotocol "janus-protocol"): requests matched
    by transaction (asynchronous ones wait past the `ack` for their event), other events queued per
    handle, a keepalive every 25 s. Every request carries the core token Tack signed."""

    def __init__(self, ws: Any, core_token: str | None) -> None:
        self.ws = ws
        self.core_token = core_token
        self.id: int | None = None
        self.pending: dict[str, tuple[asyncio.Future[dict[str, Any]], bool]] = {}
        self.queues: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.keeper: asyncio.Task[None] | None = None
        self.closed_because: str | None = None
        self.version: str | None = None

    @classmethod
    async def open(cls, url: str, core_token: str | None, *, ask_version: bool = False) -> JanusSession:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        ws = await connect(url, subprotocols=[Subprotocol("janus-protocol")], open_timeout=JANUS_TIMEOUT,
                           ping_interval=None, max_size=2**22, compression=None)
        session = cls(ws, core_token)
        session.reader = asyncio.create_task(session._read())
        try:
            if ask_version:
                with contextlib.suppress(JanusError, TimeoutError):
                    session.version = (await session.send({"janus": "info"}, within=5)).get("version_string")
            created = await session.send({"janus": "create"})
            session.id = int(created["data"]["id"])
        except BaseException:
            await session.close()
            raise
        session.keeper = asyncio.create_task(session._keepalive())
        return session

    async def send(self, body: dict[str, Any], *, handle: int | None = None, wait_event: bool = False,
                   within: float = JANUS_TIMEOUT) -> dict[str, Any]:
        transaction = secrets.token_hex(8)
        message = {**body, "transaction": transaction}
        if self.core_token:
            message["token"] = self.core_token
        if self.id is not None:
            message["session_id"] = self.id
        if handle is not None:
            message["handle_id"] = handle
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[transaction] = (future, wait_event)
        try:
            if self.closed_because is not None:
                raise ConnectionError(f"the Janus connection closed ({self.closed_because})")
            await self.ws.send(json.dumps(message))
            async with asyncio.timeout(within):
                reply = await future
        except TimeoutError:
            raise TimeoutError(f"Janus did not answer {body.get('janus')} "
                               f"{(body.get('body') or {}).get('request', '')} within {within:g} s") from None
        finally:
            self.pending.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(error.get("code"), str(error.get("reason")))
        data = (reply.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusError(data.get("error_code"), str(data.get("error")))
        return reply

    async def attach(self) -> int:
        reply = await self.send({"janus": "attach", "plugin": VIDEOROOM})
        handle = int(reply["data"]["id"])
        self.queues.setdefault(handle, asyncio.Queue())
        return handle

    async def message(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A VideoRoom request; its answer's data and jsep (asynchronous requests: their event)."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        reply = await self.send(request, handle=handle, wait_event=True)
        return (reply.get("plugindata") or {}).get("data") or {}, reply.get("jsep")

    async def wait_for(self, handle: int, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        queue = self.queues.setdefault(handle, asyncio.Queue())
        async with asyncio.timeout(JANUS_TIMEOUT):
            while True:
                event = await queue.get()
                if wanted(event):
                    return event

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                waiting = self.pending.get(message.get("transaction") or "")
                if waiting is not None:
                    future, wait_event = waiting
                    if message.get("janus") == "ack" and wait_event:
                        continue
                    if not future.done():
                        future.set_result(message)
                    continue
                sender = message.get("sender")
                if sender is not None:
                    self.queues.setdefault(int(sender), asyncio.Queue()).put_nowait(message)
            self.closed_because = "closed by Janus"
        except Exception as exc:  # the connection broke
            self.closed_because = repr(exc)
        for future, _ in list(self.pending.values()):
            if not future.done():
                future.set_exception(ConnectionError(f"the Janus connection closed ({self.closed_because})"))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await self.send({"janus": "keepalive"})
            except Exception:  # the reader notices a broken connection; the measurement shows it
                return

    async def close(self) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
        if self.id is not None and self.closed_because is None:
            with contextlib.suppress(Exception):
                await self.send({"janus": "destroy"}, within=3)
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


# ---- participants ------------------------------------------------------------------------------------


@dataclass
class VideoStream:
    """One subscriber's video from one publisher."""

    frames: int = 0
    first_at: float | None = None
    at_window_start: int = 0
    at_window_end: int = 0


@dataclass
class Participant:
    account: Account
    room: int  # index of the bench's room
    publishes: bool
    session: dict[str, Any] = field(default_factory=dict)  # Tack's media session
    janus: JanusSession | None = None
    pc: Any = None
    video: Any = None  # a publisher's generated video track
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    streams: list[VideoStream] = field(default_factory=list)
    started: float = 0.0
    joined_at: float | None = None  # Tack answered the join
    session_at: float | None = None  # Tack answered the media session
    offer_at: float | None = None  # Janus's offer of the subscription arrived
    subscribed_at: float | None = None  # Janus answered `start`
    first_frame_at: float | None = None
    published_ms: float | None = None  # a publisher: from its join to Janus's webrtcup
    error: str | None = None
    # (RTP packets received, RTP packets lost, bytes received) at the window's start and end
    stats_start: tuple[int, int, int] = (0, 0, 0)
    stats_end: tuple[int, int, int] = (0, 0, 0)
    sent_at_start: int = 0
    sent_at_end: int = 0
    got_picture: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class BenchRoom:
    index: int
    id: str = ""
    host: Participant | None = None
    people: list[Participant] = field(default_factory=list)

    @property
    def publishers(self) -> list[Participant]:
        return [p for p in self.people if p.publishes]

    @property
    def subscribers(self) -> list[Participant]:
        return [p for p in self.people if not p.publishes]


def _video_codec(sdp: str) -> str | None:
    """The codec of the first video section of an SDP (the one Janus chose for the room)."""
    in_video, first = False, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            if in_video:
                break
            in_video = line.startswith("m=video")
            parts = line.split()
            first = parts[3] if in_video and len(parts) > 3 else None
        elif in_video and line.startswith(f"a=rtpmap:{first} "):
            return line.split()[1].split("/")[0]
    return None


def _local_addresses() -> set[str]:
    from tack.media.local import _ipv4_addresses

    return {address for _, address in _ipv4_addresses()}


def _is_here(host: str, local: set[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return address.is_loopback or host in local


class MediaBench:
    def __init__(self, config: MediaBenchConfig, *, tack_pid: int | None, janus_pid: int | None,
                 progress: Progress) -> None:
        self.config = config
        self.tack_pid = tack_pid
        self.janus_pid = janus_pid
        self.progress = progress
        self.run_id = uuid.uuid4().hex[:8]
        self.org_id = ""
        self.owner: Account | None = None
        self.rooms: list[BenchRoom] = []
        self.local_addresses = _local_addresses()
        self.janus_version: str | None = None
        self.video_codec: str | None = None
        self.max_loop_lag = 0.0
        self.setup_loop_lag = 0.0

    # ---- HTTP ------------------------------------------------------------------------------------------

    @staticmethod
    async def _call(client: httpx.AsyncClient, method: str, path: str, account: Account | None = None,
                    expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if account is not None:
            headers = {**account.headers(), **headers}
        response = await client.request(method, API + path, headers=headers, **kwargs)
        if response.status_code not in expect:
            raise BenchError(f"{method} {API}{path} answered {response.status_code}: {response.text[:500]}")
        return response

    @staticmethod
    def _keep_session(account: Account, response: httpx.Response) -> None:
        account.session = response.cookies[SESSION_COOKIE]
        account.csrf = response.json()["csrf_token"]

    async def set_up(self, client: httpx.AsyncClient) -> None:
        cfg = self.config
        domain = f"bench-media-{self.run_id}.example.com"
        owner = self.owner = Account(name="Bench Media Owner", email=f"owner@{domain}")
        response = await self._call(client, "POST", "/auth/sign-up", json={
            "name": owner.name, "email": owner.email, "password": PASSWORD})
        self._keep_session(owner, response)
        org = (await self._call(client, "POST", "/orgs", owner,
                                json={"name": f"Bench media {self.run_id}", "kind": "company"})).json()
        self.org_id = org["id"]
        owner.member_id = org["member_id"]
        for r in range(cfg.rooms):
            room = BenchRoom(index=r)
            for i in range(cfg.publishers):
                room.people.append(Participant(Account(name=f"Room {r + 1} Publisher {i + 1}",
                                                       email=f"r{r + 1}-pub{i + 1}@{domain}"), r, True))
            for i in range(cfg.subscribers):
                room.people.append(Participant(Account(name=f"Room {r + 1} Subscriber {i + 1}",
                                                       email=f"r{r + 1}-sub{i + 1}@{domain}"), r, False))
            self.rooms.append(room)
        everyone = [p for room in self.rooms for p in room.people]
        self.progress(f"Adding {len(everyone)} members and signing them in...")
        semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def add(p: Participant) -> None:
            async with semaphore:
                member = (await self._call(client, "POST", f"/orgs/{self.org_id}/members", owner, json={
                    "display_name": p.account.name, "email": p.account.email, "initial_password": PASSWORD,
                })).json()
                p.account.member_id = member["id"]
                response = await self._call(client, "POST", "/auth/sign-in",
                                            json={"login": p.account.email, "password": PASSWORD})
                self._keep_session(p.account, response)

        await _gather_all(add(p) for p in everyone)
        for room in self.rooms:
            # The first publisher hosts the meeting (hosts publish); everyone else is invited.
            room.host = room.people[0]
            created = (await self._call(client, "POST", f"/orgs/{self.org_id}/rooms", room.host.account, json={
                "kind": "meeting", "title": f"Bench media {self.run_id} room {room.index + 1}",
                "invitee_ids": [p.account.member_id for p in room.people[1:]],
            })).json()
            room.id = created["id"]
        self.progress(f"Created {len(self.rooms)} meeting room(s) of {cfg.publishers + cfg.subscribers} people.")

    async def _media_session(self, client: httpx.AsyncClient, p: Participant) -> dict[str, Any]:
        """Join the room in Tack, then ask for the media session (docs/media.md)."""
        room = self.rooms[p.room]
        path = f"/orgs/{self.org_id}/rooms/{room.id}"
        ticket = (await self._call(client, "POST", path + "/join", p.account, json={})).json()
        p.joined_at = time.perf_counter()
        token = (ticket.get("media") or {}).get("token")
        session = (await self._call(client, "POST", path + "/media", p.account, json={"token": token})).json()
        if session.get("mode") != "interactive":
            raise BenchError(f"Tack gave {p.account.name} no interactive media session: mode "
                             f"{session.get('mode')!r}, reason {session.get('reason')!r}"
                             + (" (no media server registered or answering: `tack media list`)"
                                if session.get("reason") == "no_media_server" else ""))
        server = session.get("server") or ""
        parts = urlsplit(server)
        if parts.scheme not in ("ws", "wss") or not parts.hostname or not _is_here(parts.hostname,
                                                                                    self.local_addresses):
            raise BenchError(f"The media server's address {server!r} is not on this machine; the bench only "
                             "sends media to this machine")
        p.session = session
        return session

    def _check_candidates(self, sdp: str) -> None:
        """Janus's ICE candidates must be addresses of this machine: media never leaves it."""
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                fields = line.split()
                if len(fields) > 4 and not _is_here(fields[4], self.local_addresses):
                    raise BenchError(f"Janus offered an ICE candidate at {fields[4]}, not on this machine; "
                                     "the bench only sends media to this machine")

    def _peer_connection(self) -> Any:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

        # No ICE servers at all: without a configuration aiortc would ask a public STUN server.
        # max-bundle, as Janus bundles everything: with aiortc's default (balanced), a subscription
        # to two publishers left the second video on a transport of its own that never connected,
        # and its packets went to the first video's receiver.
        return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))

    async def _join_janus(self, p: Participant) -> tuple[JanusSession, int, dict[str, Any]]:
        s = p.session
        janus = p.janus = await JanusSession.open(s["server"], s.get("core_token"),
                                                  ask_version=self.janus_version is None)
        self.janus_version = self.janus_version or janus.version
        handle = await janus.attach()
        try:
            joined, _ = await janus.message(handle, {
                "request": "join", "ptype": "publisher", "room": s["room"], "id": s["feed_id"],
                "display": s.get("display") or p.account.name, "token": s["join_token"]})
        except JanusError as exc:
            if exc.code == 433:
                raise BenchError(f"Janus refused {p.account.name}'s join token (433: not on the room's "
                                 "allow-list)") from None
            raise
        return janus, handle, joined

    # ---- publishing --------------------------------------------------------------------------------

    async def publish(self, client: httpx.AsyncClient, p: Participant) -> None:
        from aiortc import RTCSessionDescription

        started = time.perf_counter()
        await self._media_session(client, p)
        if not p.session.get("may_publish"):
            raise BenchError(f"Tack does not let {p.account.name} publish in the meeting (may_publish false)")
        janus, handle, _ = await self._join_janus(p)
        p.pc = pc = self._peer_connection()
        audio, p.video = make_tracks(self.config.width, self.config.height, self.config.fps)
        pc.addTrack(audio)  # audio first: it is mid "0", the one Tack's mutes act on
        pc.addTrack(p.video)
        await pc.setLocalDescription(await pc.createOffer())
        _, jsep = await janus.message(handle, {"request": "configure", "audio": True, "video": True},
                                      jsep={"type": "offer", "sdp": pc.localDescription.sdp})
        if jsep is None:
            raise BenchError(f"Janus answered {p.account.name}'s offer without an SDP answer")
        self._check_candidates(jsep["sdp"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        try:
            await janus.wait_for(handle, lambda e: e.get("janus") == "webrtcup")
        except TimeoutError:
            raise BenchError(f"{p.account.name}'s media never connected to Janus (no webrtcup within "
                             f"{JANUS_TIMEOUT:g} s; ICE state {pc.iceConnectionState})") from None
        p.published_ms = (time.perf_counter() - started) * 1000

    # ---- subscribing -------------------------------------------------------------------------------

    async def subscribe(self, client: httpx.AsyncClient, p: Participant, feeds: list[int]) -> None:
        """Everything a person joining late does before they see the others; failures are recorded
        on the participant (a subscriber without a picture is a result, not a crash)."""
        p.started = time.perf_counter()
        try:
            async with asyncio.timeout(self.config.first_frame_timeout):
                await self._subscribe(client, p, feeds)
                await p.got_picture.wait()
        except TimeoutError:
            p.error = (f"no picture within {self.config.first_frame_timeout:g} s"
                       + (f" (ICE {p.pc.iceConnectionState})" if p.pc is not None else ""))
        except (JanusError, BenchError, WebSocketException, httpx.HTTPError, ConnectionError, OSError) as exc:
            p.error = str(exc) or repr(exc)
        if p.error is not None:
            await self._give_up(p)

    @staticmethod
    async def _give_up(p: Participant) -> None:
        """A subscriber without a picture hangs up, as a person would: a picture that comes later
        does not count, and its streams count as 0 frames per second."""
        p.first_frame_at = None
        p.streams = []
        for task in p.tasks:
            task.cancel()
        if p.pc is not None:
            with contextlib.suppress(Exception):
                await p.pc.close()
        p.pc = None

    async def _subscribe(self, client: httpx.AsyncClient, p: Participant, feeds: list[int]) -> None:
        from aiortc import RTCSessionDescription

        await self._media_session(client, p)
        p.session_at = time.perf_counter()
        janus, _, joined = await self._join_janus(p)
        handle = await janus.attach()
        _, offer = await janus.message(handle, {
            "request": "join", "ptype": "subscriber", "room": p.session["room"],
            "streams": [{"feed": feed} for feed in feeds], "private_id": joined.get("private_id"),
            "token": p.session["join_token"]})
        if offer is None:
            raise BenchError("Janus answered the subscription without an offer")
        p.offer_at = time.perf_counter()
        self._check_candidates(offer["sdp"])
        self.video_codec = self.video_codec or _video_codec(offer["sdp"])
        p.pc = pc = self._peer_connection()

        @pc.on("track")
        def on_track(track: Any) -> None:
            stream = VideoStream() if track.kind == "video" else None
            if stream is not None:
                p.streams.append(stream)
            p.tasks.append(asyncio.create_task(self._consume(p, track, stream)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        await janus.message(handle, {"request": "start"},
                            jsep={"type": "answer", "sdp": pc.localDescription.sdp})
        p.subscribed_at = time.perf_counter()

    async def _consume(self, p: Participant, track: Any, stream: VideoStream | None) -> None:
        """Take every decoded frame (audio too: an unread track's queue only grows)."""
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            if stream is None or p.error is not None:
                continue
            stream.frames += 1
            if stream.first_at is None:
                stream.first_at = time.perf_counter()
                if p.first_frame_at is None:
                    p.first_frame_at = stream.first_at
                    p.got_picture.set()

    # ---- the run -----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(base_url=cfg.url, timeout=httpx.Timeout(30.0), cookies=no_cookies,
                                     limits=httpx.Limits(max_connections=64)) as client:
            await self.set_up(client)
            lag = asyncio.create_task(self._watch_loop())
            try:
                return await self._run(client)
            finally:
                lag.cancel()
                await self._clean_up(client)

    async def _run(self, client: httpx.AsyncClient) -> dict[str, Any]:
        cfg = self.config
        publishers = [p for room in self.rooms for p in room.publishers]
        self.progress(f"{len(publishers)} publisher(s) joining and publishing {cfg.width}x{cfg.height} at "
                      f"{cfg.fps:g} fps with Opus...")
        try:
            await _gather_all(self.publish(client, p) for p in publishers)
        except (JanusError, WebSocketException, ConnectionError, OSError, httpx.HTTPError) as exc:
            raise BenchError(f"A publisher could not publish: {exc!r}") from None
        subscribers = [p for room in self.rooms for p in room.subscribers]
        self.progress(f"Published. {len(subscribers)} subscriber(s) joining and subscribing, all at once...")
        await asyncio.gather(*(self.subscribe(client, p, [q.session["feed_id"] for q in self.rooms[p.room].publishers])
                               for p in subscribers))
        pictured = sum(1 for p in subscribers if p.first_frame_at is not None)
        self.progress(f"{pictured}/{len(subscribers)} subscriber(s) see a picture.")
        for p in subscribers:
            if p.error:
                self.progress(f"  {p.account.name}: {p.error}")
        await asyncio.sleep(SETTLE_SECONDS)

        tack_probe = ProcessProbe(self.tack_pid) if self.tack_pid else MetricsProbe(client, cfg.url)
        janus_probe = ProcessProbe(self.janus_pid) if self.janus_pid else None
        await self._mark_stats(subscribers, start=True)
        tack_start = await tack_probe.read()
        # From here to the window's start without an await: nothing moves in between.
        janus_start = janus_probe.read_now() if janus_probe else Usage(None, None)
        own_start, machine_start = _own_cpu(), machine_cpu_seconds()
        self.setup_loop_lag, self.max_loop_lag = self.max_loop_lag, 0.0
        self._mark_frames(subscribers, publishers, start=True)
        window_start = time.perf_counter()
        self.progress(f"Measuring for {cfg.duration:g} s...")
        reporter = asyncio.create_task(self._report_progress(subscribers, window_start))
        try:
            await asyncio.sleep(cfg.duration)
        finally:
            reporter.cancel()
        window = time.perf_counter() - window_start
        self._mark_frames(subscribers, publishers, start=False)
        janus_end = janus_probe.read_now() if janus_probe else Usage(None, None)
        own_cpu = _own_cpu() - own_start
        machine_cpu = _delta(machine_start, machine_cpu_seconds())
        tack_end = await tack_probe.read()
        await self._mark_stats(subscribers, start=False)
        return self._results(window=window, tack=(tack_start, tack_end), janus=(janus_start, janus_end),
                             own_cpu=own_cpu, machine_cpu=machine_cpu)

    async def _mark_stats(self, subscribers: list[Participant], *, start: bool) -> None:
        for p in subscribers:
            counts = await self._rtp_counts(p)
            if start:
                p.stats_start = counts
            else:
                p.stats_end = counts

    @staticmethod
    def _mark_frames(subscribers: list[Participant], publishers: list[Participant], *, start: bool) -> None:
        for p in subscribers:
            for s in p.streams:
                if start:
                    s.at_window_start = s.frames
                else:
                    s.at_window_end = s.frames
        for p in publishers:
            sent = p.video.pace.count if p.video is not None else 0
            if start:
                p.sent_at_start = sent
            else:
                p.sent_at_end = sent

    @staticmethod
    async def _rtp_counts(p: Participant) -> tuple[int, int, int]:
        """Packets received and lost over the participant's inbound RTP streams (audio and video), and
        the bytes its transport received."""
        if p.pc is None:
            return 0, 0, 0
        received = lost = size = 0
        try:
            report = await p.pc.getStats()
        except Exception:  # a connection that closed
            return 0, 0, 0
        for stats in report.values():
            kind = getattr(stats, "type", None)
            if kind == "inbound-rtp":
                received += stats.packetsReceived or 0
                lost += max(0, stats.packetsLost or 0)
            elif kind == "transport":  # one, bundled
                size += stats.bytesReceived or 0
        return received, lost, size

    async def _report_progress(self, subscribers: list[Participant], started: float) -> None:
        while True:
            await asyncio.sleep(5)
            elapsed = time.perf_counter() - started
            rates = sorted((s.frames - s.at_window_start) / elapsed for p in subscribers for s in p.streams)
            median = _percentile(rates, 50)
            self.progress(f"  {elapsed:4.0f} s: {len(rates)} video stream(s) received, median "
                          f"{median or 0:.1f} fps, slowest {rates[0] if rates else 0:.1f} fps")

    async def _watch_loop(self) -> None:
        """How late the event loop runs (aiortc and the bench share it): a starved bench shows here."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.1)
            self.max_loop_lag = max(self.max_loop_lag, time.perf_counter() - before - 0.1)

    async def _clean_up(self, client: httpx.AsyncClient) -> None:
        everyone = [p for room in self.rooms for p in room.people]
        for p in everyone:
            for task in p.tasks:
                task.cancel()
        await asyncio.gather(*(p.pc.close() for p in everyone if p.pc is not None), return_exceptions=True)
        await asyncio.gather(*(p.janus.close() for p in everyone if p.janus is not None), return_exceptions=True)
        await asyncio.gather(*(t for p in everyone for t in p.tasks), return_exceptions=True)

        async def leave(p: Participant) -> None:
            if p.session:
                room = self.rooms[p.room]
                with contextlib.suppress(Exception):
                    await self._call(client, "POST", f"/orgs/{self.org_id}/rooms/{room.id}/leave", p.account,
                                     expect=(204,))

        await asyncio.gather(*(leave(p) for p in everyone), return_exceptions=True)
        for room in self.rooms:
            if room.id and room.host is not None:
                with contextlib.suppress(Exception):  # ends the VideoRoom on Janus too
                    await self._call(client, "POST", f"/orgs/{self.org_id}/rooms/{room.id}/end", room.host.account)

    # ---- figures -------------------------------------------------------------------------------------

    def _figures(self, subscribers: list[Participant], window: float) -> dict[str, Any]:
        first = sorted(p.first_frame_at - p.started for p in subscribers if p.first_frame_at is not None)
        rates = sorted((s.at_window_end - s.at_window_start) / window for p in subscribers for s in p.streams)
        # Every subscriber should receive every publisher of its room; a missing stream counts as 0 fps.
        expected = sum(len(self.rooms[p.room].publishers) for p in subscribers)
        rates = sorted([0.0] * max(0, expected - len(rates)) + rates)
        received = sum(p.stats_end[0] - p.stats_start[0] for p in subscribers)
        lost = sum(max(0, p.stats_end[1] - p.stats_start[1]) for p in subscribers)
        kbps = sorted((p.stats_end[2] - p.stats_start[2]) * 8 / 1000 / window for p in subscribers
                      if p.error is None)
        return {
            "first_frame_ms_p50": _ms(_percentile(first, 50)),
            "first_frame_ms_p95": _ms(_percentile(first, 95)),
            "first_frame_ms_max": _ms(first[-1] if first else None),
            "fps_p50": round(_percentile(rates, 50), 2) if rates else None,
            "fps_min": round(rates[0], 2) if rates else None,
            "loss_pct": round(lost / (received + lost) * 100, 3) if received + lost else None,
            "packets_received": received,
            "packets_lost": lost,
            # What one subscriber received (audio and video of every publisher, with SRTP's overhead).
            "kbps_p50": round(_percentile(kbps, 50), 1) if kbps else None,
            "no_picture": sum(1 for p in subscribers if p.first_frame_at is None),
        }

    def _results(self, *, window: float, tack: tuple[Usage, Usage], janus: tuple[Usage, Usage], own_cpu: float,
                 machine_cpu: float | None) -> dict[str, Any]:
        cfg = self.config
        subscribers = [p for room in self.rooms for p in room.subscribers]
        publishers = [p for room in self.rooms for p in room.publishers]
        participants = cfg.participants
        results = self._figures(subscribers, window)

        def busy(cpu: float | None) -> float | None:
            return None if cpu is None else cpu / window * 100

        janus_cpu = _delta(janus[0].cpu_seconds, janus[1].cpu_seconds)
        tack_cpu = _delta(tack[0].cpu_seconds, tack[1].cpu_seconds)
        janus_pct, tack_pct, bench_pct = busy(janus_cpu), busy(tack_cpu), busy(own_cpu)

        def phase(later: Callable[[Participant], float | None], earlier: Callable[[Participant], float | None]
                  ) -> float | None:
            spans = sorted(b - a for p in subscribers
                           if (a := earlier(p)) is not None and (b := later(p)) is not None)
            return _ms(_percentile(spans, 50))

        sent = sorted((p.sent_at_end - p.sent_at_start) / window for p in publishers)
        results.update({
            "janus_cpu_pct": _round(janus_pct, 2),
            "janus_cpu_pct_per_participant": _round(janus_pct / participants if janus_pct is not None else None, 3),
            "tack_cpu_pct": _round(tack_pct, 2),
            "tack_cpu_pct_per_participant": _round(tack_pct / participants if tack_pct is not None else None, 3),
            "janus_rss_mb": _round(janus[1].rss_bytes / 2**20 if janus[1].rss_bytes is not None else None, 1),
            "tack_rss_mb": _round(tack[1].rss_bytes / 2**20 if tack[1].rss_bytes is not None else None, 1),
            "participants": participants,
            "rooms": cfg.rooms,
            "publishers": cfg.publishers,
            "subscribers": cfg.subscribers,
            "duration_s": round(window, 2),
            "width": cfg.width,
            "height": cfg.height,
            "fps": cfg.fps,
            "sent_fps_min": round(sent[0], 2) if sent else None,
            "publish_ms_p50": _ms(_percentile(sorted(p.published_ms / 1000 for p in publishers
                                                     if p.published_ms is not None), 50)),
            # Where a subscriber's first-frame time goes (p50 of each step).
            "session_ms_p50": phase(lambda p: p.session_at, lambda p: p.started),
            "join_ms_p50": phase(lambda p: p.joined_at, lambda p: p.started),
            "media_session_ms_p50": phase(lambda p: p.session_at, lambda p: p.joined_at),
            "janus_offer_ms_p50": phase(lambda p: p.offer_at, lambda p: p.session_at),
            "subscribed_ms_p50": phase(lambda p: p.subscribed_at, lambda p: p.offer_at),
            "picture_ms_p50": phase(lambda p: p.first_frame_at, lambda p: p.subscribed_at),
            "errors": sorted({p.error for p in subscribers if p.error}),
            "per_room": [
                {"room": room.index + 1, **self._figures(room.subscribers, window)} for room in self.rooms
            ],
            "bench_cpu_pct": _round(bench_pct, 1),
            # How late the bench's event loop ran during the window (and while everyone connected).
            "max_loop_lag_ms": round(self.max_loop_lag * 1000, 1),
            "max_loop_lag_setup_ms": round(self.setup_loop_lag * 1000, 1),
            "janus_version": self.janus_version,
            "video_codec": self.video_codec,
            "cores": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2),
        })
        if machine_cpu is not None and janus_cpu is not None and tack_cpu is not None:
            others = max(0.0, machine_cpu - janus_cpu - tack_cpu - own_cpu)
            results["other_cpu_busy"] = round(others / window, 3)
        else:
            results["other_cpu_busy"] = None
        return results


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# ---- report --------------------------------------------------------------------------------------------


def format_report(r: dict[str, Any], *, where: str) -> str:
    def value(key: str, unit: str = "", digits: int = 1, source: dict[str, Any] = r) -> str:
        v = source.get(key)
        if v is None:
            return "n/a"
        return f"{v:,.{digits}f}{unit}" if isinstance(v, float) else f"{v:,}{unit}"

    lines = [
        "",
        f"tack bench media: {r['rooms']} room(s) of {r['publishers']} publisher(s) and {r['subscribers']} "
        f"subscriber(s) ({r['participants']} participants), {r['width']}x{r['height']} at {r['fps']:g} fps + Opus, "
        f"measured for {r['duration_s']:g} s, {where}",
        "",
        f"  first frame p50   {value('first_frame_ms_p50', ' ms')}   from a subscriber's join to its first decoded "
        f"picture (p95 {value('first_frame_ms_p95', ' ms')}, max {value('first_frame_ms_max', ' ms')})",
        f"  frames/s p50      {value('fps_p50', '', 2)}   video frames decoded per second per subscriber and "
        f"publisher (slowest {value('fps_min', '', 2)}; sent {value('sent_fps_min', '', 2)}; "
        f"{r.get('video_codec') or '?'}, {value('kbps_p50', ' kbit/s')} per subscriber)",
        f"  packet loss       {value('loss_pct', ' %', 3)}   of the RTP packets the subscribers expected "
        f"({r['packets_lost']:,} of {r['packets_received'] + r['packets_lost']:,})",
        f"  Janus CPU         {value('janus_cpu_pct_per_participant', ' %', 3)} of a core per participant   "
        f"({value('janus_cpu_pct', ' %', 2)} in all; memory {value('janus_rss_mb', ' MB')})",
        f"  Tack CPU          {value('tack_cpu_pct_per_participant', ' %', 3)} of a core per participant   "
        f"({value('tack_cpu_pct', ' %', 2)} in all; memory {value('tack_rss_mb', ' MB')})",
        "",
        f"  a first frame's steps (p50): Tack join and media session {value('session_ms_p50', ' ms')} "
        f"({value('join_ms_p50', ' ms')} + {value('media_session_ms_p50', ' ms')}), "
        f"Janus session and subscription offer {value('janus_offer_ms_p50', ' ms')}, answer and start "
        f"{value('subscribed_ms_p50', ' ms')}, ICE, DTLS and a keyframe {value('picture_ms_p50', ' ms')}",
        f"  publishers: join to webrtcup p50 {value('publish_ms_p50', ' ms')}; Janus {r.get('janus_version') or '?'}",
        f"  this bench process (aiortc's encoders and decoders) used {value('bench_cpu_pct', ' %')} of a core; "
        f"its event loop ran up to {value('max_loop_lag_ms', ' ms')} late",
    ]
    if len(r.get("per_room") or []) > 1:
        lines.append("")
        for room in r["per_room"]:
            lines.append(f"  room {room['room']}: first frame p50 {value('first_frame_ms_p50', ' ms', source=room)}, "
                         f"p95 {value('first_frame_ms_p95', ' ms', source=room)}; "
                         f"{value('fps_p50', ' fps', 2, source=room)} p50; loss {value('loss_pct', ' %', 3, source=room)}")
    if warning := disturbance_warning(r, "the window"):
        lines.append(warning)
    for error in r.get("errors") or []:
        lines.append(f"  a subscriber failed: {error}")
    return "\n".join(lines)


# ---- a private Janus for a run -------------------------------------------------------------------------


class PrivateJanus:
    """A Janus of the bench's own (tack.media.local, free ports, its own folder), stopped afterwards."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.folder = Path(tempfile.mkdtemp(prefix="tack-bench-janus-"))
        self.j: Any = None
        self.pid: int | None = None

    def __enter__(self) -> PrivateJanus:
        from tack.media import local

        if local.janus_binary() is None:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise BenchError("Janus is not installed (`tack media up` installs it, or apt-get install janus)")
        # 200 UDP ports of a block nobody else here uses (`tack media up`: 20000-20999, the test
        # suite: 24000-24199, broadcasts: 25000-25999).
        first = 26000 + 200 * random.randrange(20)
        try:
            self.j = local.prepare(self.folder, http_port=free_port(), admin_port=free_port(), ws_port=free_port(),
                                   rtp_ports=f"{first}-{first + 199}")
            self.progress(f"Starting a Janus of its own ({self.j.public_url}, media on {self.j.ice_address})...")
            self.pid = local.start(self.j)
        except local.LocalMediaError as exc:
            self.__exit__(None, None, None)
            raise BenchError(str(exc)) from None
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from tack.media import local

        try:
            if self.j is not None:
                local.stop(self.j)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def register(self, server: LocalServer) -> None:
        """Register this Janus in the started server's database, as an operator would."""
        j = self.j
        done = subprocess.run(
            tack_command("media", "add", "--name", f"bench-janus-{uuid.uuid4().hex[:6]}", "--api-url", j.api_url,
                         "--public-url", j.public_url, "--admin-url", j.admin_url, "--admin-secret", j.admin_secret,
                         "--admin-key", j.admin_key, "--token-secret", j.token_secret),
            env=server.env(), capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise BenchError(f"`tack media add` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def check_media_libraries() -> None:
    try:
        import aiortc  # noqa: F401
        import av  # noqa: F401
    except ImportError:
        raise BenchError("the media bench needs aiortc (pip install 'aiortc>=1.9', in the dev extras)") from None


def run_media_bench(config: MediaBenchConfig, *, tack_pid: int | None, janus_pid: int | None,
                    progress: Progress) -> dict[str, Any]:
    """Run the bench in a fresh event loop (asyncio's own: aiortc's UDP transports are tried there)."""

    async def main() -> dict[str, Any]:
        bench = MediaBench(config, tack_pid=tack_pid, janus_pid=janus_pid, progress=progress)
        budget = 300 + config.participants * 5 + config.first_frame_timeout + config.duration
        async with asyncio.timeout(budget):
            return await bench.run()

    return asyncio.run(main())


__all__ = ["MediaBenchConfig", "PrivateJanus", "check_media_libraries", "format_report", "run_media_bench"]
