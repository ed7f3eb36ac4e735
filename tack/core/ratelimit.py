"""Fixed-window counters for throttling: in-process by default, Redis when TACK_REDIS_URL is set.

With Redis the counters are shared by every server process, so throttling holds across a cluster.
"""

from __future__ import annotations

import time
from typing import Protocol


class Counter(Protocol):
    async def get(self, key: str, window: int) -> tuple[int, int]:
        """Return (count in the current window, seconds until the window ends)."""

    async def incr(self, key: str, window: int) -> tuple[int, int]: ...

    async def reset(self, key: str) -> None: ...


class MemoryCounter:
    # Bounded: the oldest windows are dropped first when there are too many keys.
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def _current(self, key: str, window: int) -> tuple[float, int]:
        now = time.monotonic()
        started, count = self._windows.get(key, (now, 0))
        if now - started >= window:
            started, count = now, 0
        return started, count

    async def get(self, key: str, window: int) -> tuple[int, int]:
        started, count = self._current(key, window)
        return count, max(1, int(window - (time.monotonic() - started)))

    async def incr(self, key: str, window: int) -> tuple[int, int]:
        started, count = self._current(key, window)
        if key not in self._windows and len(self._windows) >= self.MAX_KEYS:
            self._windows.pop(next(iter(self._windows)))
        self._windows[key] = (started, count + 1)
        return count + 1, max(1, int(window - (time.monotonic() - started)))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisCounter:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    async def get(self, key: str, window: int) -> tuple[int, int]:
        value, ttl = await self._redis.get(f"tack:rl:{key}"), await self._redis.ttl(f"tack:rl:{key}")
        return int(value or 0), max(1, ttl if ttl and ttl > 0 else window)

    async def incr(self, key: str, window: int) -> tuple[int, int]:
        full = f"tack:rl:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            pipe.expire(full, window, nx=True)
            pipe.ttl(full)
            count, _, ttl = await pipe.execute()
        return int(count), max(1, ttl if ttl and ttl > 0 else window)

    async def reset(self, key: str) -> None:
        await self._redis.delete(f"tack:rl:{key}")

    async def close(self) -> None:
        await self._redis.aclose()


_counter: Counter | None = None


def get_counter() -> Counter:
    global _counter
    if _counter is None:
        from tack.core.config import get_settings

        url = get_settings().redis_url
        _counter = RedisCounter(url) if url else MemoryCounter()
    return _counter


def set_counter(counter: Counter | None) -> None:
    global _counter
    _counter = counter
