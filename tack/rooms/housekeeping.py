"""The rooms' background work in each server process:

- presence: the stream says when a member's last connection in this process closes or one opens
  again; seats of people in rooms start or stop their grace period. The changes are written in
  batches (one statement per organization and second), so a school's Wi-Fi going down for a moment
  is a few writes, not thousands.
- rounds every TACK_ROOM_HOUSEKEEPING_SECONDS: give up seats dropped longer than the grace period,
  open the rooms of lessons that start within TACK_ROOM_WARMUP_MINUTES (the warm-up before 8:00),
  end timetabled rooms an hour after their lesson, and warn administrators of a surge
  (tack/rooms/warnings.py).

Several processes may do the same round at once: every step is a conditional write that the
second process finds already done.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog

from tack.core.config import get_settings
from tack.core.db import get_database, run_after_commit, utcnow
from tack.rooms import service, warnings
from tack.stream.hub import add_presence_listener

log = structlog.get_logger(__name__)

PRESENCE_FLUSH_S = 1.0
LESSON_OVERTIME = timedelta(hours=1)

# (org_id, member_id) -> present; the latest word wins.
_presence: dict[tuple[str, str], bool] = {}
_presence_wake: asyncio.Event | None = None


def _on_presence(org_id: str, member_id: str, present: bool) -> None:
    _presence[(org_id, member_id)] = present
    if _presence_wake is not None:
        _presence_wake.set()


add_presence_listener(_on_presence)


async def flush_presence() -> int:
    if not _presence:
        return 0
    batch = dict(_presence)
    _presence.clear()
    by_org: dict[str, tuple[list[str], list[str]]] = {}
    for (org_id, member_id), present in batch.items():
        gone, back = by_org.setdefault(org_id, ([], []))
        (back if present else gone).append(member_id)
    database = get_database()
    for org_id, (gone, back) in by_org.items():
        async with database.session() as db:
            await db.connection(execution_options={"tack_write": True})
            await service.mark_presence(db, org_id, gone=gone, back=back)
            await db.commit()
    return len(batch)


async def housekeeping_round() -> None:
    settings = get_settings()
    database = get_database()
    async with database.session() as db:
        await db.connection(execution_options={"tack_write": True})
        cutoff = utcnow() - timedelta(seconds=settings.room_rejoin_grace_seconds)
        given_up = await service.give_up_dropped_seats(db, older_than=cutoff)
        opened = await service.open_lessons_due(db, within=timedelta(minutes=settings.room_warmup_minutes))
        ended = await service.end_finished_lessons(db, after=LESSON_OVERTIME)
        warned = await warnings.check_and_warn(db)
        await db.commit()
        await run_after_commit(db)
    if given_up or opened or ended or warned:
        log.info("rooms_housekeeping", seats_given_up=given_up, rooms_opened=opened, rooms_ended=ended,
                 warnings_sent=warned)


async def _presence_loop(stop: asyncio.Event) -> None:
    assert _presence_wake is not None
    while not stop.is_set():
        try:
            await asyncio.wait_for(_presence_wake.wait(), timeout=5)
        except TimeoutError:
            continue
        # Gather a second's worth of changes into one write.
        await asyncio.sleep(PRESENCE_FLUSH_S)
        _presence_wake.clear()
        try:
            await flush_presence()
        except Exception:
            log.exception("room_presence_failed")


async def _rounds(interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await housekeeping_round()
        except Exception:  # the loop outlives a bad round
            log.exception("rooms_housekeeping_failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass


@asynccontextmanager
async def room_housekeeping() -> AsyncIterator[None]:
    """Run the presence writer and the housekeeping rounds for the application's lifetime."""
    global _presence_wake
    interval = get_settings().room_housekeeping_seconds
    stop = asyncio.Event()
    _presence_wake = asyncio.Event()
    tasks = [asyncio.create_task(_presence_loop(stop), name="room-presence")]
    if interval > 0:
        tasks.append(asyncio.create_task(_rounds(interval, stop), name="room-housekeeping"))
    try:
        yield
    finally:
        stop.set()
        _presence_wake.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await flush_presence()
        except Exception:
            log.exception("room_presence_failed")
        _presence_wake = None
