"""Per process: a look at every media server now and then (load, and failover when one dies), and
expired join tokens taken off the allow-lists."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from tack.core.config import get_settings
from tack.core.db import get_database, run_after_commit
from tack.media import broadcast, service

log = structlog.get_logger(__name__)


async def media_round() -> None:
    database = get_database()
    async with database.session() as db:
        known = await service.servers(db)
        await db.commit()
    # Janus is asked outside any transaction: a slow media server must not hold the write lock.
    probes = {server.id: await service.probe(server) for server in known}
    async with database.session() as db:
        await db.connection(execution_options={"tack_write": True})
        await service.record_probes(db, probes)
        await service.revoke_expired(db)
        await db.commit()
        await run_after_commit(db)
    async with database.session() as db:
        muted = await service.enforce_publishing(db)
        await db.commit()
    if muted:
        log.info("media_unallowed_publishers_muted", feeds=muted)
    service.remember_availability(any(p.ok for p in probes.values()))


async def _rounds(interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await media_round()
        except Exception:  # the loop outlives a bad round
            log.exception("media_housekeeping_failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass


@asynccontextmanager
async def media_housekeeping() -> AsyncIterator[None]:
    interval = get_settings().media_check_seconds
    stop = asyncio.Event()
    task = asyncio.create_task(_rounds(interval, stop), name="media-housekeeping") if interval > 0 else None
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await broadcast.stop_all()
        await service.close_controls()
