"""Announcing committed events (and ephemeral signals) to every server process.

The event log in the database is the truth; announcements only wake the processes that have
clients to serve. An announcement names (org_id, position) and usually carries the event's frame,
already serialised. Positions are dense per organization, so a process that hears position p while
it has dispatched up to q < p - 1 reads (q, p) from the database: a lost or late announcement
delays delivery but never loses an event (and the stream hub also polls the log as a safety net).

Two implementations of one interface:
- `LocalBroker` (default): one process; announcements go straight to this process's hub.
- `RedisBroker` (TACK_REDIS_URL set): each organization has a pub/sub channel `tack:stream:<org_id>`,
  which a process subscribes to while it has clients in that organization. A publisher hands its own
  announcements to its hub directly and skips its own echo.

Ephemeral signals (typing indicators) go the same way but are not logged: `publish_ephemeral` reaches
the clients connected right now and nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from tack.core.events import (
    CHANNEL_PATTERN,
    KIND_PATTERN,
    Control,
    EventRecord,
    control_of,
    dumps,
    format_time,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Announcement:
    """A committed event named by its position; `frame` is None when the receiver must read it."""

    org_id: str
    position: int
    channel: str
    frame: str | None
    control: Control | None

    @classmethod
    def of(cls, record: EventRecord) -> Announcement:
        return cls(record.org_id, record.position, record.channel, record.frame, record.control)


class BrokerListener(Protocol):
    """What a broker tells this process's stream hub. Called on the event loop; must not block."""

    def on_event(self, announcement: Announcement) -> None: ...

    def on_signal(self, org_id: str, channel: str, frame: str) -> None: ...

    def on_broker_reconnected(self) -> None:
        """Announcements may have been missed while the broker was away: read the log now."""


class Broker(Protocol):
    listener: BrokerListener | None

    async def publish_events(self, records: Sequence[EventRecord]) -> None: ...

    async def publish_signal(self, org_id: str, channel: str, frame: str) -> None: ...

    async def watch(self, org_id: str) -> None:
        """Start hearing this organization's announcements (returns once they are flowing)."""

    async def unwatch(self, org_id: str) -> None: ...

    async def close(self) -> None: ...


def _hand_over(broker: LocalBroker | RedisBroker, records: Sequence[EventRecord]) -> None:
    """Give committed events to this process's hub on the next turn of the event loop: the writing
    request's response goes out first, and the fan-out (which writes to every socket at once) does
    not make the sender wait."""

    def deliver() -> None:
        listener = broker.listener
        if listener is not None:
            for record in records:
                listener.on_event(Announcement.of(record))

    if broker.listener is not None:
        asyncio.get_running_loop().call_soon(deliver)


class LocalBroker:
    """One process: the hub hears announcements as soon as the writing request has committed."""

    def __init__(self) -> None:
        self.listener: BrokerListener | None = None

    async def publish_events(self, records: Sequence[EventRecord]) -> None:
        _hand_over(self, records)

    async def publish_signal(self, org_id: str, channel: str, frame: str) -> None:
        if self.listener is not None:
            self.listener.on_signal(org_id, channel, frame)

    async def watch(self, org_id: str) -> None:
        return None

    async def unwatch(self, org_id: str) -> None:
        return None

    async def close(self) -> None:
        self.listener = None


# Frames above this size are announced by position only; receivers read them from the database
# rather than pushing large payloads through every process.
MAX_ANNOUNCED_FRAME = 256 * 1024
CHANNEL_PREFIX = "tack:stream:"
# Always subscribed, so the pub/sub connection has something to listen to with no clients.
CONTROL_CHANNEL = "tack:stream:-"
SUBSCRIBE_TIMEOUT = 2.0


class RedisBroker:
    """Several processes on one Redis. Messages are newline-separated fields:

    `e <origin> <org_id> <position> <channel> <frame>` for an event (frame may be empty),
    `s <origin> <org_id> <channel> <frame>` for an ephemeral signal.
    Channels and ids never contain a newline, and JSON frames escape theirs.
    """

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.listener: BrokerListener | None = None
        self.origin = secrets.token_hex(6)
        # Publishing happens after a request's commit, inside the request: a Redis outage must cost
        # it a short timeout once, not every time (see _publish).
        self._redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._sub_redis = Redis.from_url(url, socket_connect_timeout=2.0)
        self._wanted: set[str] = set()
        self._subscribed: set[str] = set()
        self._pubsub: Any = None
        self._failing = False
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self._publish_paused_until = 0.0
        self._closed = False

    # ---- publishing ---------------------------------------------------------------------------

    async def publish_events(self, records: Sequence[EventRecord]) -> None:
        _hand_over(self, records)
        messages = []
        for r in records:
            frame = r.frame if len(r.frame) <= MAX_ANNOUNCED_FRAME else ""
            messages.append((r.org_id, f"e\n{self.origin}\n{r.org_id}\n{r.position}\n{r.channel}\n{frame}"))
        await self._publish(messages)

    async def publish_signal(self, org_id: str, channel: str, frame: str) -> None:
        if self.listener is not None:
            self.listener.on_signal(org_id, channel, frame)
        await self._publish([(org_id, f"s\n{self.origin}\n{org_id}\n{channel}\n{frame}")])

    async def _publish(self, messages: list[tuple[str, str]]) -> None:
        if not messages or time.monotonic() < self._publish_paused_until:
            return
        try:
            if len(messages) == 1:
                org_id, message = messages[0]
                await self._redis.publish(CHANNEL_PREFIX + org_id, message)
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for org_id, message in messages:
                        pipe.publish(CHANNEL_PREFIX + org_id, message)
                    await pipe.execute()
        except Exception as exc:  # other processes catch up from the log when they poll
            self._publish_paused_until = time.monotonic() + 2.0
            log.warning("broker_publish_failed", error=repr(exc))

    # ---- subscribing --------------------------------------------------------------------------

    def _ensure_reader(self) -> None:
        if self._reader is None and not self._closed:
            self._reader = asyncio.get_running_loop().create_task(self._read_forever(), name="redis-broker")

    async def watch(self, org_id: str) -> None:
        self._wanted.add(org_id)
        self._ensure_reader()
        channel = CHANNEL_PREFIX + org_id
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._confirmations.setdefault(channel, [])
        waiting.append(confirmed)
        try:
            await self._reconcile(org_id)
            if self._failing:
                return  # Redis is away: the hub's polling of the log carries the stream meanwhile
            # Until Redis confirms, announcements for this organization may not reach us; the caller
            # reads the log's position after this, so nothing published later is missed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT)
        finally:
            if confirmed in waiting:
                waiting.remove(confirmed)
            if not waiting:
                self._confirmations.pop(channel, None)

    async def unwatch(self, org_id: str) -> None:
        self._wanted.discard(org_id)
        await self._reconcile(org_id)

    async def _reconcile(self, org_id: str) -> None:
        """Make the subscription match what is wanted now (calls may interleave; this decides last)."""
        channel = CHANNEL_PREFIX + org_id
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # the reader subscribes to everything wanted when it (re)connects
            try:
                if org_id in self._wanted and org_id not in self._subscribed:
                    self._subscribed.add(org_id)
                    await pubsub.subscribe(channel)
                elif org_id not in self._wanted and org_id in self._subscribed:
                    self._subscribed.discard(org_id)
                    await pubsub.unsubscribe(channel)
            except Exception as exc:
                log.warning("broker_subscribe_failed", error=repr(exc))

    async def _read_forever(self) -> None:
        delay = 0.5
        first = True
        while not self._closed:
            pubsub = self._sub_redis.pubsub()
            try:
                async with self._lock:
                    wanted = sorted(self._wanted)
                    await pubsub.subscribe(CONTROL_CHANNEL, *(CHANNEL_PREFIX + o for o in wanted))
                    self._subscribed = set(wanted)
                    self._pubsub = pubsub
                if not first and self.listener is not None:
                    self.listener.on_broker_reconnected()
                first = False
                self._failing = False
                delay = 0.5
                async for message in pubsub.listen():
                    self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failing = True
                log.warning("broker_connection_lost", error=repr(exc))
            finally:
                self._pubsub = None
                self._subscribed = set()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if self._closed:
                return
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 10.0)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else channel
            for future in self._confirmations.pop(name, []):
                if not future.done():
                    future.set_result(None)
            return
        if kind != "message" or self.listener is None:
            return
        try:
            text = message["data"].decode()
            if text[0] == "e":
                _, origin, org_id, position, channel, frame = text.split("\n", 5)
                if origin == self.origin:
                    return
                control = None
                if frame and channel.startswith("member:"):
                    import json

                    control = control_of(channel, json.loads(frame).get("data"))
                self.listener.on_event(Announcement(org_id, int(position), channel, frame or None, control))
            elif text[0] == "s":
                _, origin, org_id, channel, frame = text.split("\n", 4)
                if origin != self.origin:
                    self.listener.on_signal(org_id, channel, frame)
        except Exception:  # a malformed message must not stop the reader
            log.exception("broker_bad_message")

    async def close(self) -> None:
        self._closed = True
        self.listener = None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None
        await self._redis.aclose()
        await self._sub_redis.aclose()


# One broker per event loop: a Redis broker's connections belong to the loop that opened them, and
# a command run in a loop of its own (tests run CLI commands that way) must not borrow the server's.
_brokers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Broker] = weakref.WeakKeyDictionary()
_loopless: Broker | None = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def get_broker() -> Broker:
    global _loopless
    loop = _running_loop()
    broker = _brokers.get(loop) if loop is not None else _loopless
    if broker is None:
        from tack.core.config import get_settings

        url = get_settings().redis_url
        broker = RedisBroker(url) if url else LocalBroker()
        if loop is not None:
            _brokers[loop] = broker
        else:
            _loopless = broker
    return broker


def set_broker(broker: Broker | None) -> None:
    """Replace (or forget, with None) the broker of the running event loop."""
    global _loopless
    loop = _running_loop()
    if loop is None:
        _loopless = broker
    elif broker is None:
        _brokers.pop(loop, None)
    else:
        _brokers[loop] = broker


async def publish_ephemeral(org_id: str, channel: str, kind: str, data: dict[str, Any]) -> None:
    """Deliver a signal (e.g. "typing") to the clients connected now that may see `channel`.

    Not logged, not replayed, not ordered with events; call it outside any transaction's fate (a
    typing indicator needs no commit). The caller checks that the sender may signal on `channel`.
    """
    if not CHANNEL_PATTERN.match(channel):
        raise ValueError(f"Not a channel name: {channel!r}")
    if not KIND_PATTERN.match(kind):
        raise ValueError(f"Not a signal kind: {kind!r}")
    from tack.core.db import utcnow

    frame = dumps(
        {"type": "signal", "org_id": org_id, "channel": channel, "kind": kind, "data": data, "at": format_time(utcnow())}
    )
    await get_broker().publish_signal(org_id, channel, frame)
