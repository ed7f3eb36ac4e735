"""How late the event loop runs what is due: the first sign of an overloaded process.

A task sleeps `interval_s` again and again and records by how much it woke late. While the loop
keeps up, the lag is well under a millisecond; when requests, fan-out or a slow statement hold the
loop, every client of the process waits that long too. Prometheus: tack_event_loop_lag_seconds
(the worst of the last 10 seconds, for alerts) and tack_event_loop_lag_observed_seconds (all).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator

from prometheus_client import Gauge, Histogram

LAG = Gauge("tack_event_loop_lag_seconds", "The most the event loop ran a due timer late in the last 10 seconds.")
WINDOW_S = 10.0
LAG_SEEN = Histogram(
    "tack_event_loop_lag_observed_seconds", "How late the event loop ran timers that were due.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


_worst_recent = 0.0


def current_lag() -> float:
    """The worst lag of the last WINDOW_S seconds (0 when nobody watches)."""
    return _worst_recent


async def watch_loop_lag(interval_s: float = 0.5) -> None:
    global _worst_recent
    recent: deque[tuple[float, float]] = deque()  # (when, lag) of the last WINDOW_S seconds
    while True:
        expected = time.monotonic() + interval_s
        await asyncio.sleep(interval_s)
        now = time.monotonic()
        lag = max(0.0, now - expected)
        recent.append((now, lag))
        while recent and recent[0][0] < now - WINDOW_S:
            recent.popleft()
        _worst_recent = max(seen for _, seen in recent)
        LAG.set(_worst_recent)
        LAG_SEEN.observe(lag)


@contextlib.asynccontextmanager
async def loop_lag_watched(interval_s: float = 0.5) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(watch_loop_lag(interval_s), name="loop-lag")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
