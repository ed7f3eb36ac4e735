"""The hub: this process's connections, and the dispatch of each event to the ones that may see it.

For every organization with local clients the hub keeps an `OrgState`: the highest position it has
dispatched (`dispatched`), and its subscriptions indexed by channel. Announcements from the broker
are dispatched strictly in position order, each once per process: the event's frame (serialised once)
is appended to the send queue of every subscription whose channel set holds the event's channel. An
announcement that arrives ahead of a gap is held back while the gap is read from the database; the
log is also polled every few seconds for organizations with clients, in case an announcement was
lost. Nothing here awaits a socket: a frame is written at once when the socket can take it, and
otherwise waits in the connection's bounded queue; a connection whose queue overflows is closed
with 4008 (it resumes from its position).

A subscription that is replaying (just connected, reading what it missed from the database) holds
every live event of its organization aside, and applies them after the replay; see
tack/stream/service.py for the hello and the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy import select

from tack.core.auth import Principal, resolve_bearer
from tack.core.broker import Announcement, Broker, get_broker
from tack.core.config import Settings, get_settings
from tack.core.db import Database, get_database, utcnow
from tack.core.events import prune_events, read_events, stream_infos
from tack.identity.models import Account, ApiToken, SignInSession
from tack.orgs.models import Membership, MemberStatus
from tack.stream import schemas
from tack.stream.errors import HeartbeatTimeout, SessionEnded, StreamError, TooSlow
from tack.stream.wire import DirectWriter, text_frame

log = structlog.get_logger(__name__)

CONNECTIONS = Gauge("tack_stream_connections", "Open stream connections in this process.")
DELIVERIES = Counter("tack_stream_deliveries_total", "Event frames queued to stream connections.")
DIRECT = Counter(
    "tack_stream_direct_frames_total", "Event frames written to the socket as prebuilt bytes (tack/stream/wire.py)."
)
DROPPED = Counter("tack_stream_dropped_total", "Stream connections closed by the server.", ["code"])
RESYNCS = Counter("tack_stream_resyncs_total", "Resync answers sent to clients.", ["reason"])

# Announcements held back while a gap before them is read; beyond this they are read back too.
PENDING_LIMIT = 10_000
CATCH_UP_PAGE = 500
# A heartbeat round this many seconds later than its interval judges nobody silent (Hub.heartbeat).
HEARTBEAT_LATE_S = 5.0


@dataclass(frozen=True)
class StreamConfig:
    ping_seconds: float = 20.0
    send_queue: int = 2000
    max_replay: int = 1000
    retention_days: float = 7.0
    poll_seconds: float = 3.0
    recheck_seconds: float = 30.0
    hello_timeout: float = 10.0
    # How long an organization's state stays warm after its last client left (reconnects are cheap).
    idle_org_seconds: float = 60.0
    # A process this far behind an organization's log tells its clients to resync instead.
    max_catch_up: int = 20_000
    prune_every_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamConfig:
        return cls(
            ping_seconds=settings.stream_ping_seconds,
            send_queue=settings.stream_send_queue,
            max_replay=settings.stream_max_replay,
            retention_days=settings.stream_retention_days,
            poll_seconds=settings.stream_poll_seconds,
            recheck_seconds=settings.stream_recheck_seconds,
        )

    def with_changes(self, **changes: Any) -> StreamConfig:
        return replace(self, **changes)


class Connection:
    """One client's WebSocket: its subscriptions (one per organization) and its send queue.

    Frames are written eagerly: `push` runs the ASGI send at once, and it finishes without waiting
    whenever the socket can take the frame (its transport is below the high-water mark), which is
    almost always. Only a send that has to wait becomes a task, and frames pushed meanwhile queue
    up behind it (bounded). So a fan-out to 500 connections is 500 writes in one pass, with no task
    switch per connection, and a slow socket never holds up the dispatcher.
    """

    def __init__(self, hub: Hub, websocket: Any, principal: Principal, *, bearer: str | None = None) -> None:
        self.hub = hub
        self.websocket = websocket
        self.principal = principal
        # Kept only for application tokens, which are checked again by their resolver.
        self.bearer = bearer if principal.kind == "app" else None
        self.queue: deque[str] = deque()
        self.limit = hub.config.send_queue
        self.subs: dict[str, Subscription] = {}
        self.error: StreamError | None = None
        # The caller's context per organization for calls over this connection, with what it was
        # made of (tack/stream/calls.py).
        self.call_contexts: dict[str, tuple[Any, Any]] = {}
        self.last_heard = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._sending: asyncio.Task[None] | None = None
        self._gone = False
        # Writes prebuilt frames straight to the socket when the server allows (tack/stream/wire.py).
        self.direct = DirectWriter.for_scope(websocket.scope)
        # Done when nothing more will be written: the close was sent, or the client is gone.
        self.finished: asyncio.Future[None] = self._loop.create_future()

    def _send(self, frame: str) -> Any:
        return self.websocket.send({"type": "websocket.send", "text": frame})

    def push(self, frame: str, wire: bytes | None = None) -> bool:
        """Send or queue a frame; never waits. A full queue ends the connection as too slow.
        `wire` is the frame's WebSocket bytes when the caller built them once for many. True when
        the frame went straight to the socket as those bytes."""
        if self.error is not None or self._gone:
            return False
        if self._sending is not None:
            if len(self.queue) >= self.limit:
                self.fail(TooSlow())
                return False
            self.queue.append(frame)
            return False
        if self.direct is not None and self.direct.write(text_frame(frame) if wire is None else wire):
            return True
        self._start(self._send(frame))
        return False

    def _start(self, coro: Any) -> None:
        """Run a send coroutine until it finishes or has to wait; if it waits, finish it in a task."""
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except Exception:
            self._lost()
            return
        self._sending = self._loop.create_task(_resume(coro, waiting_on))
        self._sending.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending = None
        if task.cancelled() or task.exception() is not None:
            self._lost()
            return
        while self.queue and self._sending is None and self.error is None and not self._gone:
            self._start(self._send(self.queue.popleft()))
        if self.error is not None and self._sending is None:
            self._close()

    def _lost(self) -> None:
        """The client is gone (a send failed): stop writing; the reader sees the disconnect."""
        self._gone = True
        self.queue.clear()
        if not self.finished.done():
            self.finished.set_result(None)

    def fail(self, error: StreamError) -> None:
        """End this connection with `error`: it is sent, then the close. Safe during dispatch."""
        if self.error is not None or self._gone:
            return
        self.error = error
        self.queue.clear()
        DROPPED.labels(error.code).inc()
        # Unregistered on the next turn of the loop, not now: the caller may be iterating the
        # very sets this connection is in.
        self._loop.call_soon(self.hub.remove, self)
        if self._sending is None:
            self._close()

    def _close(self) -> None:
        self._sending = self._loop.create_task(self._send_close())

    async def _send_close(self) -> None:
        error = self.error
        assert error is not None
        with contextlib.suppress(Exception):
            # A client that reads nothing cannot take the close either; give it a while.
            async with asyncio.timeout(max(10.0, self.hub.config.ping_seconds)):
                await self._send(schemas.error_frame(error))
                await self.websocket.close(error.close_code, error.code)
        if not self.finished.done():
            self.finished.set_result(None)

    def stop(self) -> None:
        """The connection is over: stop whatever send is still waiting."""
        self._gone = True
        self.queue.clear()
        if self._sending is not None:
            self._sending.cancel()
        if not self.finished.done():
            self.finished.set_result(None)


async def _resume(coro: Any, waiting_on: Any) -> None:
    """Finish a coroutine that `Connection._start` began and that is waiting on `waiting_on` (the
    future it yielded): what a task does, for a coroutine that was started outside one."""
    while True:
        try:
            if waiting_on is None:  # a bare yield (asyncio.sleep(0)): just let the loop go round
                await asyncio.sleep(0)
            else:
                # The coroutine marked the future as "being awaited" when it yielded it; a task
                # clears that mark when it takes the future over, and so must this.
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except BaseException as exc:  # hand the outcome to the coroutine, as a task would
            try:
                waiting_on = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return


class Subscription:
    """A connection's view of one organization: who it is there and which channels it receives."""

    __slots__ = ("conn", "state", "member_id", "channels", "delivered", "held")

    def __init__(self, conn: Connection, state: OrgState, member_id: str) -> None:
        self.conn = conn
        self.state = state
        self.member_id = member_id
        self.channels: set[str] = set()
        # The highest position this connection has been given (or told to skip) in this org.
        self.delivered = 0
        # While replaying: every live event of the organization, applied after the replay.
        self.held: list[Announcement] | None = []


class OrgState:
    __slots__ = (
        "org_id", "epoch", "dispatched", "known_max", "initialised", "ready", "subs", "replaying",
        "by_channel", "pending", "catch_up", "idle_since", "present",
    )

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.epoch = ""
        self.dispatched = 0
        self.known_max = 0
        self.initialised = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.subs: set[Subscription] = set()
        self.replaying: set[Subscription] = set()
        self.by_channel: dict[str, set[Subscription]] = {}
        self.pending: dict[int, Announcement] = {}
        self.catch_up: asyncio.Task[None] | None = None
        self.idle_since: float | None = time.monotonic()
        # Connections per member in this process: presence changes when a count leaves or reaches 0.
        self.present: dict[str, int] = {}


PresenceListener = Callable[[str, str, bool], None]
"""(org_id, member_id, present): a member's first connection in this process opened (True), or their
last one closed (False). Called on the event loop; must not block (queue the work)."""

_presence_listeners: list[PresenceListener] = []


def add_presence_listener(listener: PresenceListener) -> None:
    _presence_listeners.append(listener)


def _tell_presence(org_id: str, member_id: str, present: bool) -> None:
    for listener in _presence_listeners:
        try:
            listener(org_id, member_id, present)
        except Exception:  # a listener's bug must not break the stream
            log.exception("presence_listener_failed")


class Hub:
    def __init__(self, config: StreamConfig, *, broker: Broker | None = None, database: Database | None = None):
        self.config = config
        self._broker = broker
        self._database = database
        self.orgs: dict[str, OrgState] = {}
        self.connections: set[Connection] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._poll_now = asyncio.Event()
        self.started = False
        self._last_heartbeat: float | None = None

    @property
    def broker(self) -> Broker:
        return self._broker if self._broker is not None else get_broker()

    @property
    def database(self) -> Database:
        return self._database if self._database is not None else get_database()

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        if self._broker is None:
            self._broker = get_broker()
        self._broker.listener = self
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(lambda: self.config.poll_seconds, self.poll, wake=self._poll_now)),
            loop.create_task(self._every(lambda: self.config.ping_seconds, self.heartbeat)),
            loop.create_task(self._every(lambda: self.config.recheck_seconds, self.recheck)),
        ]
        if self.config.retention_days > 0 and self.config.prune_every_seconds > 0:
            self._tasks.append(loop.create_task(self._every(lambda: self.config.prune_every_seconds, self.prune)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        for state in self.orgs.values():
            if state.catch_up is not None:
                state.catch_up.cancel()
        if self._broker is not None and self._broker.listener is self:
            self._broker.listener = None
        self.started = False

    async def _every(self, seconds: Any, work: Any, *, wake: asyncio.Event | None = None) -> None:
        while True:
            if wake is None:
                await asyncio.sleep(seconds())
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), seconds())
                wake.clear()
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again
                log.exception("stream_background_failed", work=getattr(work, "__name__", "?"))

    # ---- connections ----------------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        CONNECTIONS.set(len(self.connections))

    def remove(self, conn: Connection) -> None:
        for sub in list(conn.subs.values()):
            self.unsubscribe(sub)
        conn.subs.clear()
        if conn in self.connections:
            self.connections.discard(conn)
            CONNECTIONS.set(len(self.connections))

    async def attach(self, org_id: str) -> OrgState:
        """This process's state of an organization, set up (and its announcements heard) if new."""
        state = self.orgs.get(org_id)
        if state is not None:
            await asyncio.shield(state.ready)
            return state
        state = self.orgs[org_id] = OrgState(org_id)
        try:
            await self.broker.watch(org_id)
            # Read after watching: whatever commits later is announced to us.
            async with self.database.session() as db:
                info = (await stream_infos(db, [org_id])).get(org_id)
        except BaseException as exc:
            if self.orgs.get(org_id) is state:
                del self.orgs[org_id]
            state.ready.set_exception(exc)
            state.ready.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        state.epoch = info.epoch if info else ""
        state.dispatched = info.last_position if info else 0
        state.known_max = max(state.known_max, state.dispatched)
        state.initialised = True
        self._drain_pending(state)
        if state.known_max > state.dispatched:
            self._schedule_catch_up(state)
        state.ready.set_result(None)
        return state

    def subscribe(self, state: OrgState, conn: Connection, member_id: str) -> Subscription:
        """Register a connection in replay mode: every event from now on is held for it."""
        sub = Subscription(conn, state, member_id)
        state.subs.add(sub)
        count = state.present.get(member_id, 0) + 1
        state.present[member_id] = count
        if count == 1:
            _tell_presence(state.org_id, member_id, True)
        state.replaying.add(sub)
        state.idle_since = None
        conn.subs[state.org_id] = sub
        return sub

    def go_live(self, sub: Subscription, channels: set[str], delivered: int) -> None:
        """End a replay that delivered up to `delivered` with `channels`: apply what was held, then
        receive events as they are dispatched."""
        state = sub.state
        held = sub.held or []
        sub.held = None
        state.replaying.discard(sub)
        if sub.conn.error is not None or sub not in state.subs:
            return
        sub.delivered = max(sub.delivered, delivered)
        sub.channels = set()
        for channel in channels:
            self._add_channel(sub, channel)
        for announcement in held:
            if sub.held is not None or sub not in state.subs:
                break
            if announcement.position <= sub.delivered:
                continue
            self._deliver_one(sub, announcement)

    def _deliver_one(self, sub: Subscription, ann: Announcement) -> None:
        control = ann.control
        if control is not None and ann.channel in sub.channels:
            for channel in control.join:
                self._add_channel(sub, channel)
        if ann.channel in sub.channels and ann.frame is not None:
            sub.conn.push(ann.frame)
        sub.delivered = ann.position
        if control is not None and ann.channel in sub.channels:
            self._apply_leave(sub, control)

    def _add_channel(self, sub: Subscription, channel: str) -> None:
        if channel not in sub.channels:
            sub.channels.add(channel)
            sub.state.by_channel.setdefault(channel, set()).add(sub)

    def _remove_channel(self, sub: Subscription, channel: str) -> None:
        sub.channels.discard(channel)
        subs = sub.state.by_channel.get(channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del sub.state.by_channel[channel]

    def _apply_leave(self, sub: Subscription, control: Any) -> None:
        for channel in control.leave:
            self._remove_channel(sub, channel)
        if control.leave_org:
            sub.conn.push(schemas.left_frame(sub.state.org_id, "membership_removed"))
            self.unsubscribe(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        state = sub.state
        for channel in list(sub.channels):
            self._remove_channel(sub, channel)
        if sub in state.subs:
            count = state.present.get(sub.member_id, 1) - 1
            if count > 0:
                state.present[sub.member_id] = count
            else:
                state.present.pop(sub.member_id, None)
                _tell_presence(state.org_id, sub.member_id, False)
        state.subs.discard(sub)
        state.replaying.discard(sub)
        if sub.conn.subs.get(state.org_id) is sub:
            del sub.conn.subs[state.org_id]
        if not state.subs:
            state.idle_since = time.monotonic()

    def position_of(self, sub: Subscription) -> int:
        """Where this connection may resume from: everything up to it was given to it or not for it."""
        return max(sub.delivered, sub.state.dispatched)

    # ---- announcements (BrokerListener) ---------------------------------------------------------

    def on_event(self, ann: Announcement) -> None:
        state = self.orgs.get(ann.org_id)
        if state is None:
            return
        position = ann.position
        if position > state.known_max:
            state.known_max = position
        if not state.initialised:
            if ann.frame is not None and len(state.pending) < PENDING_LIMIT:
                state.pending[position] = ann
            return
        if position <= state.dispatched:
            return
        if position == state.dispatched + 1 and ann.frame is not None:
            self._dispatch(state, ann)
            if state.pending:
                self._drain_pending(state)
            return
        if ann.frame is not None and len(state.pending) < PENDING_LIMIT:
            state.pending[position] = ann
        self._schedule_catch_up(state)

    def on_signal(self, org_id: str, channel: str, frame: str) -> None:
        state = self.orgs.get(org_id)
        if state is None:
            return
        subs = state.by_channel.get(channel)
        if subs:
            wire = text_frame(frame)
            for sub in subs:
                sub.conn.push(frame, wire)

    def on_broker_reconnected(self) -> None:
        self._poll_now.set()

    def _dispatch(self, state: OrgState, ann: Announcement) -> None:
        """Give one event, the next in order, to every subscription that may see it."""
        state.dispatched = ann.position
        subs = state.by_channel.get(ann.channel)
        control = ann.control
        targets = list(subs) if (control is not None and subs) else None
        if targets:
            for sub in targets:
                for channel in control.join:  # type: ignore[union-attr]
                    self._add_channel(sub, channel)
        if subs:
            position = ann.position
            frame = ann.frame
            assert frame is not None
            wire = text_frame(frame)  # once for every connection (tack/stream/wire.py)
            count = direct = 0
            for sub in subs:
                if position > sub.delivered:
                    sub.delivered = position
                    direct += sub.conn.push(frame, wire)
                    count += 1
            DELIVERIES.inc(count)
            DIRECT.inc(direct)
        if targets:
            for sub in targets:
                self._apply_leave(sub, control)
        if state.replaying:
            for sub in state.replaying:
                held = sub.held
                if held is None:
                    continue
                if len(held) >= sub.conn.limit:
                    sub.conn.fail(TooSlow())
                else:
                    held.append(ann)

    def _drain_pending(self, state: OrgState) -> None:
        pending = state.pending
        while pending:
            ann = pending.pop(state.dispatched + 1, None)
            if ann is None:
                break
            self._dispatch(state, ann)
        if pending:
            for position in [p for p in pending if p <= state.dispatched]:
                del pending[position]
            if pending:
                self._schedule_catch_up(state)

    def _schedule_catch_up(self, state: OrgState) -> None:
        if state.catch_up is None and state.initialised and self.orgs.get(state.org_id) is state:
            state.catch_up = asyncio.get_running_loop().create_task(self._catch_up(state), name="stream-catch-up")

    async def _catch_up(self, state: OrgState) -> None:
        """Read the events this process has not dispatched yet from the log, and dispatch them."""
        try:
            while state.dispatched < state.known_max and self.orgs.get(state.org_id) is state:
                if state.known_max - state.dispatched > self.config.max_catch_up:
                    await self._jump(state, "server_behind")
                    return
                async with self.database.session() as db:
                    records = await read_events(
                        db, state.org_id, after=state.dispatched, upto=state.known_max, limit=CATCH_UP_PAGE
                    )
                if not records:
                    return  # not visible yet; the next poll tries again
                for record in records:
                    if record.position <= state.dispatched:
                        continue
                    if record.position != state.dispatched + 1:
                        # A hole in the log: pruned while this process lagged behind.
                        await self._jump(state, "expired")
                        return
                    self._dispatch(state, Announcement.of(record))
                self._drain_pending(state)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream_catch_up_failed", org_id=state.org_id)
        finally:
            state.catch_up = None

    async def _jump(self, state: OrgState, reason: str, *, epoch: str | None = None) -> None:
        """Skip this process ahead to the log's end; every client of the org is told to resync."""
        async with self.database.session() as db:
            info = (await stream_infos(db, [state.org_id])).get(state.org_id)
        target = info.last_position if info else state.known_max
        state.epoch = epoch or (info.epoch if info else state.epoch)
        state.dispatched = max(state.dispatched, target) if epoch is None else target
        state.known_max = state.dispatched
        state.pending.clear()
        frame = schemas.resync_frame(state.org_id, reason, state.epoch, state.dispatched)
        RESYNCS.labels(reason).inc(len(state.subs))
        log.warning("stream_org_resync", org_id=state.org_id, reason=reason, clients=len(state.subs))
        for sub in list(state.subs):
            if sub.held is not None:
                sub.held.clear()
            sub.delivered = state.dispatched
            sub.conn.push(frame)

    # ---- background work ------------------------------------------------------------------------

    async def poll(self) -> None:
        """The safety net: catch up on whatever the broker did not announce; forget idle orgs."""
        now = time.monotonic()
        for org_id, state in list(self.orgs.items()):
            if (
                state.initialised
                and not state.subs
                and state.idle_since is not None
                and now - state.idle_since > self.config.idle_org_seconds
            ):
                del self.orgs[org_id]
                if state.catch_up is not None:
                    state.catch_up.cancel()
                await self.broker.unwatch(org_id)
        org_ids = [org_id for org_id, state in self.orgs.items() if state.initialised]
        if not org_ids:
            return
        async with self.database.session() as db:
            infos = await stream_infos(db, org_ids)
        for org_id, info in infos.items():
            state = self.orgs.get(org_id)
            if state is None or not state.initialised:
                continue
            if state.epoch and info.epoch != state.epoch:
                await self._jump(state, "epoch_changed", epoch=info.epoch)
            elif info.last_position > state.dispatched:
                state.known_max = max(state.known_max, info.last_position)
                self._schedule_catch_up(state)

    async def heartbeat(self) -> None:
        """Ping every connection (with its positions, so idle clients' cursors move on) and drop the
        ones not heard from for about two intervals."""
        limit = 2 * self.config.ping_seconds + 5
        now = time.monotonic()
        # A round that comes late means the loop was held (a burst of work, a long statement): the
        # clients' answers to the last ping may still sit unread in their sockets, so this round
        # judges nobody. The next one, on time, does.
        previous, self._last_heartbeat = self._last_heartbeat, now
        judge = previous is None or now - previous < self.config.ping_seconds + HEARTBEAT_LATE_S
        for conn in list(self.connections):
            if conn.error is not None:
                continue
            if judge and now - conn.last_heard > limit:
                conn.fail(HeartbeatTimeout())
                continue
            positions = {o: self.position_of(s) for o, s in conn.subs.items() if s.held is None}
            conn.push(schemas.ping_frame(positions))

    async def recheck(self) -> None:
        """End what is no longer allowed: revoked or expired sessions and tokens, deactivated
        accounts, removed memberships. Batched: a few queries for all connections."""
        conns = [c for c in self.connections if c.error is None]
        if not conns:
            return
        now = utcnow()
        session_ids = {c.principal.session_id for c in conns if c.principal.kind == "session" and c.principal.session_id}
        token_ids = {c.principal.token_id for c in conns if c.principal.kind == "token" and c.principal.token_id}
        pairs = {(o, s.member_id) for c in conns for o, s in c.subs.items()}
        valid_sessions: set[str] = set()
        valid_tokens: set[str] = set()
        active_pairs: set[tuple[str, str]] = set()
        app_ok: dict[Connection, bool] = {}
        async with self.database.session() as db:
            for chunk in _chunks(sorted(session_ids)):
                rows = await db.execute(
                    select(SignInSession.id)
                    .join(Account, Account.id == SignInSession.account_id)
                    .where(
                        SignInSession.id.in_(chunk),
                        SignInSession.revoked_at.is_(None),
                        SignInSession.expires_at > now,
                        Account.is_active.is_(True),
                    )
                )
                valid_sessions.update(rows.scalars())
            for chunk in _chunks(sorted(token_ids)):
                rows = await db.execute(
                    select(ApiToken.id)
                    .join(Account, Account.id == ApiToken.account_id)
                    .where(ApiToken.id.in_(chunk), ApiToken.revoked_at.is_(None), Account.is_active.is_(True))
                )
                valid_tokens.update(rows.scalars())
            for chunk in _chunks(sorted(pairs)):
                # Two plain INs on the primary key's columns, which both engines answer from the
                # index (SQLite scans the table for a row-value IN); pairs outside the chunk that
                # the cross product lets through are dropped here.
                rows = await db.execute(
                    select(Membership.org_id, Membership.id).where(
                        Membership.org_id.in_(sorted({o for o, _ in chunk})),
                        Membership.id.in_(sorted({m for _, m in chunk})),
                        Membership.status == MemberStatus.active,
                    )
                )
                active_pairs.update((o, m) for o, m in rows if (o, m) in pairs)
            for conn in conns:
                if conn.principal.kind == "app" and conn.bearer:
                    principal = await resolve_bearer(db, conn.bearer)
                    app_ok[conn] = principal is not None and principal.account_id == conn.principal.account_id
            await db.rollback()
        for conn in conns:
            principal = conn.principal
            ok = (
                (principal.kind == "session" and principal.session_id in valid_sessions)
                or (principal.kind == "token" and principal.token_id in valid_tokens)
                or app_ok.get(conn, False)
            )
            if not ok:
                conn.fail(SessionEnded())
                continue
            for org_id, sub in list(conn.subs.items()):
                if (org_id, sub.member_id) not in active_pairs:
                    conn.push(schemas.left_frame(org_id, "membership_removed"))
                    self.unsubscribe(sub)

    async def prune(self) -> None:
        await prune_events(self.database, older_than=timedelta(days=self.config.retention_days))


def _chunks(items: list[Any], size: int = 400) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_hub: Hub | None = None


def get_hub() -> Hub:
    """This process's hub, started on first use (in the serving event loop)."""
    global _hub
    if _hub is None:
        _hub = Hub(StreamConfig.from_settings(get_settings()))
    if not _hub.started:
        _hub.start()
    return _hub


def set_hub(hub: Hub | None) -> None:
    global _hub
    _hub = hub


async def close_hub() -> None:
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.close()
