"""The event log: dense positions that commit in order, even with concurrent and failing writers."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from tack.core.db import get_database
from tack.core.event_models import Event, EventStream
from tack.core.events import emit, prune_events, read_events, stream_infos
from tests.factories import owner_with_org
from tests.streams import emit_now

WRITERS = 40


async def _positions(org_id: str) -> list[int]:
    async with get_database().session() as db:
        rows = await db.execute(select(Event.position).where(Event.org_id == org_id).order_by(Event.position))
        return [int(p) for p in rows.scalars()]


async def test_positions_are_dense_and_commit_in_order_under_concurrent_writers(new_client) -> None:
    _, org = await owner_with_org(new_client)
    org_id = org["id"]
    rng = random.Random(7)
    committed: list[tuple[int, ...]] = []
    done = asyncio.Event()
    snapshots = 0

    async def writer(index: int) -> None:
        # Each transaction does other work before and after emitting, and a third of them roll back.
        await asyncio.sleep(rng.random() * 0.02)
        async with get_database().session() as db:
            await db.connection(execution_options={"tack_write": True})
            await asyncio.sleep(rng.random() * 0.005)
            mine = [await emit(db, org_id=org_id, channel="org", kind="test.event", data={"w": index, "k": k})
                    for k in range(1 + index % 3)]
            await asyncio.sleep(rng.random() * 0.005)
            if index % 3 == 0:
                await db.rollback()
            else:
                await db.commit()
                committed.append(tuple(mine))

    async def reader() -> None:
        # Whatever a reader sees at any moment is a prefix 1..n: no holes that fill in later.
        nonlocal snapshots
        seen = 0
        while not done.is_set():
            found = await _positions(org_id)
            assert found == list(range(1, len(found) + 1)), found
            assert len(found) >= seen
            seen = len(found)
            snapshots += 1
            await asyncio.sleep(0)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(i) for i in range(WRITERS)))
    done.set()
    await reading
    total = sum(len(c) for c in committed)
    assert await _positions(org_id) == list(range(1, total + 1))
    # Each transaction's events are consecutive, and transactions committed in position order.
    assert sorted(p for c in committed for p in c) == list(range(1, total + 1))
    for batch in committed:
        assert list(batch) == list(range(batch[0], batch[0] + len(batch)))
    async with get_database().session() as db:
        info = (await stream_infos(db, [org_id]))[org_id]
    assert info.last_position == total
    assert snapshots > 1


async def test_the_first_events_of_an_organization_race_safely(new_client) -> None:
    """Many transactions find no counter row yet and create it at the same moment."""
    _, org = await owner_with_org(new_client)

    async def one() -> int:
        async with get_database().session() as db:
            await db.connection(execution_options={"tack_write": True})
            position = await emit(db, org_id=org["id"], channel="org", kind="test.first", data={})
            await db.commit()
            return position

    got = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(got) == list(range(1, 11))
    async with get_database().session() as db:
        rows = (await db.execute(select(EventStream).where(EventStream.org_id == org["id"]))).scalars().all()
    assert len(rows) == 1


async def test_read_events_by_range_and_channels(new_client) -> None:
    _, org = await owner_with_org(new_client)
    a = await emit_now(org["id"], "org", count=2)
    b = await emit_now(org["id"], "room:x", count=2)
    c = await emit_now(org["id"], "org", count=1)
    async with get_database().session() as db:
        everything = await read_events(db, org["id"], after=0)
        rooms = await read_events(db, org["id"], after=0, channels=["room:x"])
        window = await read_events(db, org["id"], after=a[0], upto=b[1], channels={"org", "room:x"}, limit=2)
        nothing = await read_events(db, org["id"], after=0, channels=[])
    assert [e.position for e in everything] == a + b + c
    assert [e.position for e in rooms] == b
    assert [e.position for e in window] == [a[1], b[0]]
    assert nothing == []
    assert everything[0].frame.startswith('{"type":"event"')


async def test_emit_refuses_bad_channels_and_kinds(new_client) -> None:
    _, org = await owner_with_org(new_client)
    async with get_database().session() as db:
        for channel in ("", "Org", "conv:", "conv:a b", "a:b:c", "x" * 40):
            with pytest.raises(ValueError):
                await emit(db, org_id=org["id"], channel=channel, kind="test.event", data={})
        with pytest.raises(ValueError):
            await emit(db, org_id=org["id"], channel="org", kind="Not A Kind", data={})
        with pytest.raises(TypeError):
            await emit(db, org_id=org["id"], channel="org", kind="test.event", data={"x": object()})
        await db.rollback()


async def test_pruning_keeps_recent_events_and_records_how_far_it_went(new_client) -> None:
    _, org = await owner_with_org(new_client)
    old = await emit_now(org["id"], count=3)
    await prune_events(get_database(), older_than=timedelta(0), org_ids=[org["id"]])
    recent = await emit_now(org["id"], count=2)
    assert await prune_events(get_database(), older_than=timedelta(days=1), org_ids=[org["id"]]) == 0
    assert await _positions(org["id"]) == recent
    async with get_database().session() as db:
        info = (await stream_infos(db, [org["id"]]))[org["id"]]
    assert info.pruned_through >= old[-1] and info.last_position == recent[-1]
