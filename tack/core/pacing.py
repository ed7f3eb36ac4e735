"""The front door: at most a few requests start in each turn of the event loop.

A request rarely waits once it has started (SQLite statements run on the loop and return at once),
so requests that arrive together run one after the other in the same turn of the loop, and while
they run the loop reads nothing, sends nothing and accepts no connection. When a whole school
leaves a class at once, ten thousand requests arrive on kept-alive connections within the same
turn: the loop would serve nothing else for half a minute, heartbeats would go unread and every
stream would look silent. So `TurnPacer` lets `per_turn` requests and stream connections start per
turn; the others wait in line (a socket and a future each) and start in the next turns, in order,
leaves first: a person must always be able to go. Between two turns the loop does everything else.

Nobody waits here without an answer for long: a request that has waited `max_wait_s` is answered
429 `busy` with a Retry-After at once, from here, without any of the work behind (a few dozen
microseconds instead of a sign-in check and a refusal by admission control), so a person is told to
come back instead of waiting for a timeout; and while the line's oldest has waited `shed_after_s`,
newcomers are told so at once. Leaves and rejoins (a join with its ticket) are never turned away,
and go first. Stream connections are not turned away either: they have a gate of their own behind
(close 4503 with `retry_after`).

How many start per turn adapts to how long a turn takes: every turn the door measures how long a
callback scheduled in the turn before waited to run (what every request's next step waits); while
that is over `target_turn_s` the allowance shrinks by a third, and while it is under it grows again,
up to `per_turn`. A loop busy with answers (HTTP parsing, fan-out, the work already started) lets
fewer newcomers in, so what has started finishes, and the newcomers wait here, where they are told
when to come back, instead of running into the gates' refusals, each after a sign-in check.

The wait in this line is not counted as event-loop lag: a line that forms for a moment would
otherwise turn every newcomer away for many seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

QUEUED = Gauge("tack_front_door_queued", "Requests waiting for their turn of the event loop.")
OLDEST = Gauge("tack_front_door_oldest_wait_seconds", "How long the longest waiter at the front door has waited.")
WAITED = Histogram(
    "tack_front_door_wait_seconds", "How long requests waited for their turn of the event loop.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TURNED_AWAY = Counter("tack_front_door_turned_away_total", "Requests the front door answered busy.")
ALLOWANCE = Gauge("tack_front_door_starts_per_turn", "Requests the front door lets start per turn of the event loop now.")
# The allowance never falls below this: some work always starts.
MIN_PER_TURN = 2
# Bounds of the Retry-After of a request turned away (clients add their own jitter). A school of
# 10,000 on one small server takes minutes to let in: the last told must be told honestly.
MIN_RETRY_S, MAX_RETRY_S = 2, 120
# How fast the pace the door remembers falls each second towards the pace it sees.
RATE_DECAY = 0.9


class DoorBusy(Exception):
    """Waited too long at the front door."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class TurnCounter:
    """Counts what started in this turn of the event loop; `on_next_turn` runs when the next turn
    begins (before what this turn let in runs), with the count back at 0. `turn_latency` is how
    long that call waited after the first start of the turn before: the rest of that turn and the
    poll for I/O, i.e. what a step of any request waits for now."""

    def __init__(self, on_next_turn: Callable[[], None]) -> None:
        self.count = 0
        self.turn_latency = 0.0
        self._scheduled_at = 0.0
        self._on_next_turn = on_next_turn

    def add(self) -> None:
        if self.count == 0:
            # A callback scheduled now runs in the next turn, ahead of what is scheduled after it.
            asyncio.get_running_loop().call_soon(self._next_turn)
            self._scheduled_at = time.monotonic()
        self.count += 1

    def _next_turn(self) -> None:
        self.count = 0
        self.turn_latency = time.monotonic() - self._scheduled_at
        self._on_next_turn()


class TurnPacer:
    def __init__(self, per_turn: int, max_wait_s: float = 10.0, shed_after_s: float = 0.0,
                 target_turn_s: float = 0.0) -> None:
        self.per_turn = per_turn
        # What may start this turn: per_turn at most, less while turns take longer than target_turn_s
        # (0: always per_turn).
        self.allowance = float(per_turn)
        self.target_turn_s = target_turn_s
        ALLOWANCE.set(per_turn)
        self.max_wait_s = max_wait_s
        # While the line's oldest has waited this long, newcomers who may be turned away are told
        # `busy` at once instead of joining it (0: they always join it).
        self.shed_after_s = shed_after_s
        self.turned_away = 0
        # Requests let through in the last second, and when that second began: how fast the line
        # moves, for Retry-After.
        self._released = 0
        self._rate = float(per_turn)
        self._second = time.monotonic()
        # The moment the last person turned away was told to come back at.
        self._next_return = 0.0
        self._turn = TurnCounter(self._next_turn)
        # (since, future): the urgent line (leaves, rejoins, stream connections) goes first.
        self._urgent: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._line: deque[tuple[float, asyncio.Future[None]]] = deque()

    @property
    def queued(self) -> int:
        return len(self._urgent) + len(self._line)

    def oldest_wait(self) -> float:
        """How long the longest waiter has waited (0 when nobody waits)."""
        oldest = min((line[0][0] for line in (self._urgent, self._line) if line), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    @property
    def starts_per_turn(self) -> int:
        return max(min(MIN_PER_TURN, self.per_turn), int(self.allowance))

    async def turn(self, *, urgent: bool = False) -> None:
        """Return when the caller may start: at once, or in a later turn."""
        if self._turn.count < self.starts_per_turn and not self._urgent and (urgent or not self._line):
            self._turn.add()
            self._released += 1
            return
        since = time.monotonic()
        if not urgent and self.shed_after_s and self._line and since - self._line[0][0] > self.shed_after_s:
            raise self._turn_away()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._line).append((since, future))
        QUEUED.set(self.queued)
        await future  # cancelled (the client left): the marker skips it
        WAITED.observe(time.monotonic() - since)

    def _adapt(self) -> None:
        if not self.target_turn_s:
            return
        if self._turn.turn_latency > self.target_turn_s:
            self.allowance = max(float(min(MIN_PER_TURN, self.per_turn)), self.allowance * 2 / 3)
        else:
            self.allowance = min(float(self.per_turn), self.allowance + 1 + self.allowance / 8)
        ALLOWANCE.set(self.starts_per_turn)

    def _next_turn(self) -> None:
        now = time.monotonic()
        self._adapt()
        if now - self._second >= 1.0:
            # The pace of the last second, or a little below the pace seen before, whichever is
            # higher: told too early, people wait in line again (and are told anew); told too late,
            # the server idles while they wait.
            self._rate = max(1.0, self._released / (now - self._second), self._rate * RATE_DECAY)
            self._released, self._second = 0, now
        allowance = self.starts_per_turn
        for line in (self._urgent, self._line):
            while line and self._turn.count < allowance:
                _, future = line.popleft()
                if future.done():
                    continue
                self._turn.add()
                self._released += 1
                future.set_result(None)
        # Whoever has waited too long is answered now (the oldest are at the front of the line).
        line = self._line
        while line and now - line[0][0] > self.max_wait_s:
            _, future = line.popleft()
            if not future.done():
                future.set_exception(self._turn_away())
        QUEUED.set(self.queued)

    def _turn_away(self) -> DoorBusy:
        self.turned_away += 1
        TURNED_AWAY.inc()
        return DoorBusy(self.retry_after())

    def retry_after(self) -> int:
        """When to come back, in whole seconds (2 to 120): each person turned away is given a moment
        of their own, after those told before, one after the other at the pace the line moves now,
        so that they come back spread out at the pace the server takes people in. (All told the
        same would come back together, wait in line together, and leave the server idle before.)"""
        now = time.monotonic()
        self._next_return = min(now + MAX_RETRY_S, max(self._next_return, now + MIN_RETRY_S) + 1 / self._rate)
        return max(MIN_RETRY_S, min(MAX_RETRY_S, math.ceil(self._next_return - now)))


async def _urgency(scope: dict[str, Any], receive: Any) -> tuple[bool, Any]:
    """Whether the request goes first (a leave, a rejoin with its ticket, a stream connection, which
    has a gate of its own), and the `receive` the application is to read the request from."""
    if scope["type"] == "websocket":
        return True, receive
    if scope.get("method") != "POST":
        return False, receive
    path = scope.get("path", "")
    if path.endswith("/leave"):
        return True, receive
    if not path.endswith("/join"):
        return False, receive
    # A join with a ticket is a rejoin: its seat is held, and it must get back in. The body is a
    # few bytes, read here and handed on unchanged.
    messages: list[dict[str, Any]] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body") or len(body) > 8192:
            break

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    try:
        ticket = json.loads(body).get("ticket") if body else None
    except (ValueError, AttributeError):
        ticket = None  # the application answers what is wrong with it
    return bool(ticket), replay


class FrontDoor:
    """ASGI middleware, in front of all of ours: every request and stream connection waits for its
    turn."""

    def __init__(self, app: Any, per_turn: int, max_wait_s: float = 10.0, shed_after_s: float = 0.0,
                 target_turn_s: float = 0.0) -> None:
        self.app = app
        self.pacer = TurnPacer(per_turn, max_wait_s, shed_after_s, target_turn_s) if per_turn > 0 else None
        if self.pacer is not None:
            OLDEST.set_function(self.pacer.oldest_wait)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.pacer is not None and scope["type"] in ("http", "websocket"):
            urgent, receive = await _urgency(scope, receive)
            try:
                await self.pacer.turn(urgent=urgent)
            except DoorBusy as busy:
                await _answer_busy(send, busy.retry_after)
                return
        await self.app(scope, receive, send)


_BUSY_MESSAGE = "The server is very busy right now. You are in line; trying again shortly."


async def _answer_busy(send: Any, retry_after: int) -> None:
    """The envelope of `busy` (tack/core/admission.py), written straight to the client."""
    body = json.dumps({"error": {"code": "busy", "message": _BUSY_MESSAGE, "details": {
        "reason": "front_door", "retry_after": retry_after, "gate": "front_door"}}}).encode()
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
