"""The background loop that sends unacknowledged DINGs again when they are due.

Every server process runs one; `service.send_due_reminders` claims due DINGs so that several
processes never remind the same DING twice. Each round first looks whether anything is due with a
plain read, so an idle server does not take SQLite's write lock every interval.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import select

from tack.chat import service
from tack.chat.models import Ding
from tack.core.config import get_settings
from tack.core.db import get_database, run_after_commit, utcnow

log = structlog.get_logger(__name__)


async def remind_once() -> int:
    """One round: send the reminders that are due now; returns how many DINGs were reminded."""
    database = get_database()
    async with database.session() as db:
        due = (await db.execute(select(Ding.id).where(Ding.next_remind_at <= utcnow()).limit(1))).first()
        await db.rollback()
        if due is None:
            return 0
        await db.connection(execution_options={"tack_write": True})
        count = await service.send_due_reminders(db)
        await db.commit()
        await run_after_commit(db)
        return count


async def _loop(interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            count = await remind_once()
            if count:
                log.info("ding_reminders_sent", dings=count)
        except Exception:  # the loop outlives a bad round; the next one tries again
            log.exception("ding_reminders_failed")
        # Jitter keeps several processes from waking in step.
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval * random.uniform(0.8, 1.2))
        except TimeoutError:
            pass


@asynccontextmanager
async def ding_reminders() -> AsyncIterator[None]:
    """Run the reminder loop for the lifetime of the application (in its lifespan)."""
    interval = get_settings().ding_reminder_interval_seconds
    if interval <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_loop(interval, stop), name="ding-reminders")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
