"""The event loop's lag (tack/core/loop_lag.py) shows when something holds the loop."""

from __future__ import annotations

import asyncio
import time

from tack.core.loop_lag import LAG, loop_lag_watched


async def test_a_blocked_loop_shows_as_lag() -> None:
    async with loop_lag_watched(interval_s=0.02):
        await asyncio.sleep(0.1)
        assert LAG._value.get() < 0.25  # an idle loop is on time (the gauge has no public reader)
        time.sleep(0.4)  # noqa: ASYNC251 - on purpose: something holds the loop
        await asyncio.sleep(0.05)
        assert LAG._value.get() >= 0.3
