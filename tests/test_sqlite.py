"""SQLite on the event loop's thread (tack/core/sqlite.py): writers take turns, checkpoints happen
off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tack.core.config import Settings
from tack.core.db import Database
from tack.core.sqlite import Checkpointer


async def test_background_checkpoints_move_the_log_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as a serving connection is set up
    writer.execute("CREATE TABLE t (v BLOB)")
    writer.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
    size_before = path.stat().st_size
    assert size_before < 100_000  # the rows are still in the log only
    task = asyncio.create_task(Checkpointer(str(path), every_s=0.05).run())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if path.stat().st_size > 1_000_000:
                break
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        writer.close()
    assert path.stat().st_size > 1_000_000


async def test_concurrent_writers_take_turns_without_blocking_the_loop(tmp_path: Path) -> None:
    database = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"))
    try:
        async with database.session() as db:
            await db.execute(text("CREATE TABLE counter (n INTEGER)"))
            await db.execute(text("INSERT INTO counter VALUES (0)"))
            await db.commit()
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1

        async def increment() -> None:
            async with database.session() as db:
                await db.connection(execution_options={"tack_write": True})
                n = (await db.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)  # the transaction is open across an await
                await db.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                await db.commit()

        beat = asyncio.create_task(heartbeat())
        await asyncio.wait_for(asyncio.gather(*(increment() for _ in range(50))), timeout=20)
        beat.cancel()
        async with database.session() as db:
            # No lost update: each writer read and wrote while it alone held the write lock.
            assert (await db.execute(text("SELECT n FROM counter"))).scalar_one() == 50
        assert ticks > 50  # the loop kept turning while writers waited their turn
    finally:
        await database.dispose()
