"""Prepared statements (tack/core/prepared.py) write and read values as SQLAlchemy does, inside the
session's own transaction, on SQLite (the driver) and PostgreSQL (SQLAlchemy) alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from tack.core.db import get_database
from tack.core.event_models import Event
from tack.core.events import ensure_streams
from tack.core.prepared import Prepared
from tests.factories import owner_with_org

_events = Event.__table__
INSERT = Prepared(insert(_events))
READ = Prepared(
    select(_events.c.position, _events.c.data, _events.c.created_at).where(
        _events.c.org_id == bindparam("org_id"), _events.c.position == bindparam("position")
    )
)


def _row(org_id: str, position: int, at: datetime) -> dict[str, object]:
    return {"org_id": org_id, "position": position, "channel": "org", "kind": "test.prepared",
            "data": {"text": "héllo", "n": [1, 2], "ok": True}, "created_at": at}


async def test_values_round_trip_as_sqlalchemy_writes_and_reads_them(new_client) -> None:  # type: ignore[no-untyped-def]
    _, org = await owner_with_org(new_client)
    at = datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=UTC)
    async with get_database().session() as db:
        await db.connection(execution_options={"tack_write": True})
        await ensure_streams(db, [org["id"]])
        assert await INSERT.rowcount(db, _row(org["id"], 1, at)) == 1
        # Read back by the ORM in the same transaction, and by the prepared select.
        stored = (await db.execute(select(Event).where(Event.org_id == org["id"]))).scalar_one()
        assert stored.data == {"text": "héllo", "n": [1, 2], "ok": True} and stored.created_at == at
        assert await READ.first(db, {"org_id": org["id"], "position": 1}) == (1, stored.data, at)
        assert await READ.first(db, {"org_id": org["id"], "position": 2}) is None
        await db.commit()


async def test_errors_are_sqlalchemys_and_a_rollback_takes_the_rows_back(new_client) -> None:  # type: ignore[no-untyped-def]
    _, org = await owner_with_org(new_client)
    at = datetime.now(UTC)
    async with get_database().session() as db:
        await db.connection(execution_options={"tack_write": True})
        await ensure_streams(db, [org["id"]])
        await INSERT.run(db, _row(org["id"], 1, at))
        with pytest.raises(IntegrityError):
            await INSERT.run(db, _row(org["id"], 1, at))
        await db.rollback()
    async with get_database().session() as db:
        assert await READ.first(db, {"org_id": org["id"], "position": 1}) is None
        await db.rollback()


def test_statements_with_column_defaults_are_refused() -> None:
    # created_at has a Python-side default, which only SQLAlchemy's own execution computes.
    from sqlalchemy.dialects import sqlite

    from tack.core.prepared import _Compiled

    row = _row("o", 1, datetime.now(UTC))
    del row["created_at"]
    with pytest.raises(ValueError):
        _Compiled(insert(_events), sqlite.dialect(), tuple(row))
