"""Admission control: a bounded amount of expensive work in flight, a fair queue behind it with a
deadline, and an honest answer beyond that.

At 8:00 a whole school joins its classes within a minute. What kills a server then is not the rate
of requests but the work in flight: every join that is started competes with every other for the
same CPU and database, until none of them finishes in time and the clients' retries pile on. So an
`AdmissionGate` lets at most `max_in_flight` pieces of work run at once; the rest wait in a queue,
ordered by priority and, within a priority, by arrival (the DESIGN rule: leave, then rejoin, then
host or teacher, then attendees, then initial state loads). A waiter that cannot start within
`max_wait_s`, or that would queue behind `max_queue` others, is refused at once with its place in
the line and how long to wait (`Busy`: 429 with Retry-After), never left to time out. Leaving is
never refused and never waits for joins: a person must always be able to go. Leaves have a lane of
their own, though, with a bound of its own (`max_leaves_in_flight`): when a whole school leaves at
once, ten thousand leaves arrive in the same turn of the event loop, and run one after the other
without letting it turn (their SQLite statements do not wait), so nothing else (heartbeats,
deliveries, new connections) would be served for half a minute. A rejoin (a held seat) waits at the
front of the line and is never refused.

One gate guards one process's resources; each `tack serve` process has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import IntEnum

from prometheus_client import Counter, Gauge, Histogram

from tack.core.errors import TackError
from tack.core.loop_lag import current_lag
from tack.core.pacing import TurnCounter

# Waits shorter than this are not worth remembering for warnings.
RECENT_WAIT_FLOOR_S = 0.05


class Priority(IntEnum):
    """Lower goes first."""

    leave = 0
    rejoin = 1
    host = 2
    attendee = 3
    state = 4


class Busy(TackError):
    """The server is at capacity for this kind of work: try again after `retry_after` seconds."""

    # 429, not 503: being told to wait one's turn is an answer, not a failure of the server (and
    # proxies and monitors count 5xx as errors).
    status_code = 429
    code = "busy"
    message = "Many people are joining right now. You are in line; trying again shortly."

    def __init__(self, *, gate: str, reason: str, position: int, retry_after: int) -> None:
        super().__init__(
            details={"reason": reason, "position": position, "retry_after": retry_after, "gate": gate},
            headers={"Retry-After": str(retry_after)},
        )
        self.position = position
        self.retry_after = retry_after


@dataclass(frozen=True)
class AdmissionConfig:
    max_in_flight: int = 32
    max_queue: int = 2000
    max_wait_s: float = 10.0
    # Bounds of the Retry-After a refused caller is given (clients add their own jitter).
    min_retry_s: int = 2
    max_retry_s: int = 60
    # When the process's event loop already runs this late (seconds), new attendees and state
    # loads are turned away at once: the work in flight is more than the loop can carry, whatever
    # the gate counted (HTTP parsing, sign-in checks and fan-out share the loop with joins).
    shed_at_lag_s: float = 1.0
    # Leaves running at once (their own lane: they never wait for the other work).
    max_leaves_in_flight: int = 16
    # Work that may start in one turn of the event loop (0: as many as may run at once).
    max_starts_per_turn: int = 0


ADMITTED = Counter("tack_admission_admitted_total", "Work admitted by an admission gate.", ["gate", "priority"])
REFUSED = Counter("tack_admission_refused_total", "Work refused by an admission gate.", ["gate", "reason"])
IN_FLIGHT = Gauge("tack_admission_in_flight", "Work running under an admission gate.", ["gate"])
QUEUED = Gauge("tack_admission_queued", "Work waiting at an admission gate.", ["gate"])
LONGEST_WAIT = Gauge(
    "tack_admission_longest_wait_seconds",
    "The longest wait of admitted work at an admission gate since start (state loads not counted).",
    ["gate"],
)
QUEUE_WAIT = Histogram(
    "tack_admission_queue_wait_seconds", "How long admitted work waited at an admission gate.", ["gate"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


@dataclass(order=True)
class _Waiter:
    priority: int
    order: int
    future: asyncio.Future[None] = field(compare=False)
    queued_at: float = field(compare=False)
    # True until it is let in or gives up (its future may be cancelled before the gate hears of it).
    waiting: bool = field(default=True, compare=False)


class AdmissionGate:
    """See the module docstring. Use as `async with gate.admit(Priority.attendee): ...`."""

    def __init__(self, name: str, config: AdmissionConfig | None = None) -> None:
        self.name = name
        self.config = config or AdmissionConfig()
        self.in_flight = 0
        self.longest_wait_s = 0.0
        self._queue: list[_Waiter] = []
        # Waiters still waiting, by priority. The heap may also hold waiters that gave up (they are
        # dropped when they reach its top); these counts let a crowd of thousands be told its place
        # without a walk through the whole line for each newcomer.
        self._waiting = [0] * len(Priority)
        self._order = itertools.count()
        # Work started in this turn of the event loop. Work under a gate rarely waits (SQLite
        # statements run on the loop and return at once), so a crowd that arrived in one turn would
        # all run in that turn, and the loop would serve nothing else meanwhile: at most
        # max_in_flight start per turn; the others wait for the next one.
        self._turn = TurnCounter(self._wake)
        # The leaves' lane: patient, never refused; a line of its own (see the module docstring).
        self._leaving: AdmissionGate | None = None
        if self.config.max_leaves_in_flight:
            self._leaving = AdmissionGate(f"{name}_leaving", AdmissionConfig(
                max_in_flight=self.config.max_leaves_in_flight, max_queue=0, max_leaves_in_flight=0))
        # (when, how long) of recent waits worth telling anyone about, for early warnings.
        self._recent_waits: deque[tuple[float, float]] = deque(maxlen=10_000)
        # Completions per second, smoothed: how fast the line moves, for Retry-After.
        self._rate = 0.0
        self._last_done = time.monotonic()

    def longest_recent_wait(self, within_s: float = 60.0) -> float:
        """The longest wait of work admitted in the last `within_s` seconds."""
        horizon = time.monotonic() - within_s
        while self._recent_waits and self._recent_waits[0][0] < horizon:
            self._recent_waits.popleft()
        return max((waited for _, waited in self._recent_waits), default=0.0)

    @property
    def queued(self) -> int:
        return sum(self._waiting)

    @contextlib.asynccontextmanager
    async def admit(self, priority: Priority) -> AsyncIterator[None]:
        if priority == Priority.leave and self._leaving is not None:
            # Never refused, and not counted against the others' capacity: a lane of its own.
            async with self._leaving.admit(priority):
                yield
            return
        await self._enter(priority)
        try:
            yield
        finally:
            self._leave()

    async def _enter(self, priority: Priority) -> None:
        config = self.config
        if priority >= Priority.attendee and current_lag() >= config.shed_at_lag_s:
            self._refuse("overloaded", self._ahead_of(priority) + 1)
        if self.in_flight < config.max_in_flight and not self._ahead_of(priority) and self._turn_open():
            self._turn.add()
            self._start(priority, waited=0.0)
            return
        position = self._ahead_of(priority) + 1
        # A rejoin holds a seat already: it goes to the front of the line and is never turned away
        # (it costs little, and a person who dropped must get back in).
        patient = priority <= Priority.rejoin
        if self.queued >= config.max_queue and not patient:
            self._refuse("queue_full", position)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(int(priority), next(self._order), loop.create_future(), time.monotonic())
        heapq.heappush(self._queue, waiter)
        self._waiting[priority] += 1
        QUEUED.labels(self.name).set(self.queued)
        try:
            async with asyncio.timeout(None if patient else config.max_wait_s):
                await waiter.future
        except TimeoutError:
            if not (waiter.future.done() and not waiter.future.cancelled()):
                position = self._ahead_of(priority, before=waiter) + 1
                self._forget(waiter)
                self._refuse("queue_timeout", position)
            # Let in just as the wait ran out: the place is ours.
        except BaseException:
            # Cancelled while waiting, or just as it was let in: give the place on.
            if waiter.future.done() and not waiter.future.cancelled():
                self.in_flight -= 1
                self._wake()
            self._forget(waiter)
            raise
        self._start(priority, waited=time.monotonic() - waiter.queued_at, counted=True)

    def _start(self, priority: Priority, *, waited: float, counted: bool = False) -> None:
        if not counted:
            self.in_flight += 1
        IN_FLIGHT.labels(self.name).set(self.in_flight)
        ADMITTED.labels(self.name, priority.name).inc()
        QUEUE_WAIT.labels(self.name).observe(waited)
        if priority == Priority.state:
            return  # the longest wait and the early warnings are about people getting in
        if waited >= RECENT_WAIT_FLOOR_S:
            self._recent_waits.append((time.monotonic(), waited))
        if waited > self.longest_wait_s:
            self.longest_wait_s = waited
            LONGEST_WAIT.labels(self.name).set(waited)

    def _leave(self) -> None:
        self.in_flight -= 1
        now = time.monotonic()
        # An exponentially weighted rate over roughly the last second of completions.
        gap = max(now - self._last_done, 1e-6)
        weight = min(1.0, gap)
        self._rate = (1 - weight) * self._rate + weight * (1.0 / gap)
        self._last_done = now
        self._wake()
        IN_FLIGHT.labels(self.name).set(self.in_flight)

    def _wake(self) -> None:
        """Let the first waiters in, as far as capacity and this turn allow; the place is taken for
        them now, so nobody who arrives meanwhile can jump the line."""
        while self._queue and self.in_flight < self.config.max_in_flight and self._turn_open():
            waiter = heapq.heappop(self._queue)
            if not waiter.waiting or waiter.future.done():
                self._stop_waiting(waiter)
                continue
            self._stop_waiting(waiter)
            self.in_flight += 1
            self._turn.add()
            waiter.future.set_result(None)
        QUEUED.labels(self.name).set(self.queued)

    def _turn_open(self) -> bool:
        return self._turn.count < (self.config.max_starts_per_turn or self.config.max_in_flight)

    def _stop_waiting(self, waiter: _Waiter) -> None:
        if waiter.waiting:
            waiter.waiting = False
            self._waiting[waiter.priority] -= 1

    def _forget(self, waiter: _Waiter) -> None:
        """A waiter gives up; it stays in the heap until it reaches the top."""
        if not waiter.future.done():
            waiter.future.cancel()
        self._stop_waiting(waiter)
        QUEUED.labels(self.name).set(self.queued)
        if len(self._queue) > 2 * self.queued + 64:
            # Mostly waiters that gave up: compact, so the heap stays the size of the line.
            self._queue = [w for w in self._queue if w.waiting]
            heapq.heapify(self._queue)

    def _ahead_of(self, priority: Priority, before: _Waiter | None = None) -> int:
        """How many waiters go before a newcomer of this priority (or before `before`, which waits)."""
        if before is not None:
            # Everyone of a more urgent priority, and about the share of its own priority that
            # arrived before it (exact would mean a walk through the line).
            ahead = sum(self._waiting[: before.priority])
            same = self._waiting[before.priority]
            return ahead + max(0, same - 1)
        return sum(self._waiting[: priority + 1])

    def _refuse(self, reason: str, position: int) -> None:
        config = self.config
        rate = self._rate if self._rate > 0 else config.max_in_flight / max(config.max_wait_s, 1.0)
        # Come back when the line as it is now has been served: a refused caller rejoins at its end,
        # and a herd told "1 s" would only come back as a herd.
        line = max(position, self.queued + self.in_flight)
        retry = math.ceil(line / rate) if rate > 0 else config.max_retry_s
        if reason == "overloaded":
            retry = max(retry, math.ceil(current_lag() * 4))
        retry_after = max(config.min_retry_s, min(config.max_retry_s, retry))
        REFUSED.labels(self.name, reason).inc()
        raise Busy(gate=self.name, reason=reason, position=position, retry_after=retry_after)


_gates: dict[str, AdmissionGate] = {}
ROOM_JOIN = "room_join"
STREAM_OPEN = "stream_open"
STREAM_OPEN_STARTS_PER_TURN = 32


def process_gate(name: str = ROOM_JOIN) -> AdmissionGate | None:
    """This process's gate of one kind of surge work: room joins ("room_join"), or the opening of
    stream connections ("stream_open": their replay is an initial state load, and a reconnect storm
    after a network blip is one too). None when TACK_ROOM_ADMISSION is off."""
    from tack.core.config import get_settings

    settings = get_settings()
    if not settings.room_admission:
        return None
    gate = _gates.get(name)
    if gate is None:
        shed = settings.admission_shed_at_lag_seconds or math.inf
        if name == STREAM_OPEN:
            # An opening waits on the loop several times (the organizations' state, the replay,
            # the first frames), so under load it spans several turns of a busy loop: many may be
            # under way at once, but only a few start per turn.
            config = AdmissionConfig(max_in_flight=settings.stream_opens_in_flight,
                                     max_starts_per_turn=STREAM_OPEN_STARTS_PER_TURN,
                                     max_queue=settings.stream_open_queue,
                                     max_wait_s=settings.stream_open_wait_seconds,
                                     shed_at_lag_s=shed if settings.stream_open_shed_at_lag else math.inf)
        else:
            config = AdmissionConfig(max_in_flight=settings.room_joins_in_flight,
                                     max_queue=settings.room_join_queue,
                                     max_wait_s=settings.room_join_wait_seconds, shed_at_lag_s=shed)
        gate = _gates[name] = AdmissionGate(name, config)
    return gate


@contextlib.asynccontextmanager
async def admitted(priority: Priority, gate_name: str = ROOM_JOIN) -> AsyncIterator[None]:
    """`async with admitted(Priority.attendee): ...` through a process gate (or at once when off)."""
    gate = process_gate(gate_name)
    if gate is None:
        yield
        return
    async with gate.admit(priority):
        yield
