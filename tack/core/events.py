"""The durable, ordered event log that the real-time stream is built on.

Every change a client must learn about in real time is written by the action that makes it, in the
same transaction, with `emit(...)`. Each organization has its own dense sequence of positions
(1, 2, 3, ... with no holes), handed out by a per-organization counter row that is incremented with
UPDATE ... RETURNING inside the writing transaction: the row lock is held until commit, so positions
commit in order and a reader that has seen position p has seen every position below it.

An event goes to a *channel*; a connection receives the events of the channels its person may see:
- `org`                    everyone in the organization
- `member:<member_id>`     one member (their own DINGs, their read state on other devices, ...)
- `conv:<conversation_id>` the members of a conversation
Domains add channels (e.g. a class room) by naming them `<kind>:<id>` and registering a provider
with `register_channel_provider`. When a member gains or loses a channel while connected (added to a
conversation, removed from it), the action emits an event on `member:<member_id>` whose data holds
`"join_channel": "<channel>"` or `"leave_channel": "<channel>"`; the stream applies it to that
member's open connections before delivering later events. An event on `member:<member_id>` whose
data holds `"leave_org": true` (the member was removed) ends that member's subscription to the
organization's stream once it has been delivered; `"join_org": true` marks their return, so that a
replay across the time they were away gives them nothing of that time.

Emit late in the transaction: the counter row stays locked from the first emit until the commit, so
every other transaction of the organization that emits waits for this one. Do not emit inside a
savepoint that may be rolled back on its own.

After the transaction commits, the positions are announced on the broker (tack/core/broker.py) so
every server process wakes its connections; nothing is announced for a rolled-back transaction.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import bindparam, delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tack.core.db import Database, after_commit, utcnow
from tack.core.event_models import Event, EventStream
from tack.core.prepared import Prepared

log = structlog.get_logger(__name__)

ORG_CHANNEL = "org"
CHANNEL_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}(:[A-Za-z0-9_.\-]{1,68})?$")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){0,3}$")

EVENTS_EMITTED = Counter("tack_events_emitted_total", "Events appended to the event log.")


def member_channel(member_id: str) -> str:
    return f"member:{member_id}"


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


ChannelProvider = Callable[[AsyncSession, str, str], Awaitable[set[str]]]
"""(db, org_id, member_id) -> the channels this member may receive, besides org and member:<id>."""

_channel_providers: list[ChannelProvider] = []


def register_channel_provider(provider: ChannelProvider) -> None:
    _channel_providers.append(provider)


async def channels_for(db: AsyncSession, org_id: str, member_id: str) -> set[str]:
    channels = {ORG_CHANNEL, member_channel(member_id)}
    for provider in _channel_providers:
        channels |= await provider(db, org_id, member_id)
    return channels


# ---- what an event looks like on the wire -------------------------------------------------------


def dumps(value: Any) -> str:
    """Compact JSON, as every stream frame is written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Control:
    """What an event on member:<id> changes about that member's subscription."""

    join: tuple[str, ...] = ()
    leave: tuple[str, ...] = ()
    leave_org: bool = False
    join_org: bool = False


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def control_of(channel: str, data: Any) -> Control | None:
    if not channel.startswith("member:") or not isinstance(data, dict):
        return None
    join = _names(data.get("join_channel"))
    leave = _names(data.get("leave_channel"))
    leave_org = data.get("leave_org") is True
    join_org = data.get("join_org") is True
    if not (join or leave or leave_org or join_org):
        return None
    return Control(join=join, leave=leave, leave_org=leave_org, join_org=join_org)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as the stream hands it out: its place in the log and its frame, serialised once."""

    org_id: str
    position: int
    channel: str
    kind: str
    frame: str
    control: Control | None

    @classmethod
    def build(cls, org_id: str, position: int, channel: str, kind: str, data: Any, at: datetime) -> EventRecord:
        frame = dumps(
            {
                "type": "event",
                "org_id": org_id,
                "position": position,
                "channel": channel,
                "kind": kind,
                "data": data,
                "at": format_time(at),
            }
        )
        return cls(org_id, position, channel, kind, frame, control_of(channel, data))


# ---- writing ----------------------------------------------------------------------------------

_PENDING = "tack_events_pending"


def _insert_ignoring_conflict(db: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either engine: creating a row twice at once is fine."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).values(rows).on_conflict_do_nothing()


def new_epoch() -> str:
    return secrets.token_hex(8)


async def ensure_streams(db: AsyncSession, org_ids: Iterable[str]) -> None:
    """Create the counter rows that do not exist yet (in the caller's transaction)."""
    rows = [
        {"org_id": org_id, "last_position": 0, "epoch": new_epoch(), "pruned_through": 0, "created_at": utcnow()}
        for org_id in sorted(set(org_ids))
    ]
    if rows:
        await db.execute(_insert_ignoring_conflict(db, EventStream.__table__, rows))


async def _reserve_positions(db: AsyncSession, org_id: str, count: int) -> int:
    """Take the next `count` positions of the organization's log; returns the last of them."""
    params = {"w_org_id": org_id, "w_count": count}
    row = await _BUMP_POSITION.first(db, params)
    if row is None:
        # First event of this organization. Two transactions may get here at once: the insert of
        # one waits for the other's commit and then does nothing, and both go on to the UPDATE,
        # whose row lock puts them in order.
        await ensure_streams(db, [org_id])
        row = await _BUMP_POSITION.first(db, params)
        assert row is not None
    return int(row[0])


# Core statements built once (the table, not the ORM class), prepared (tack/core/prepared.py):
# every writing request runs them.
_streams = EventStream.__table__
_BUMP_POSITION = Prepared(
    update(_streams)
    .where(_streams.c.org_id == bindparam("w_org_id"))
    .values(last_position=_streams.c.last_position + bindparam("w_count"))
    .returning(_streams.c.last_position)
)
_INSERT_EVENT = insert(Event.__table__)
_INSERT_ONE_EVENT = Prepared(_INSERT_EVENT)


def _check(channel: str, kind: str) -> None:
    if not CHANNEL_PATTERN.match(channel):
        raise ValueError(f"Not a channel name: {channel!r}")
    if not KIND_PATTERN.match(kind):
        raise ValueError(f"Not an event kind: {kind!r}")


def _hold_for_announcement(db: AsyncSession, records: list[EventRecord]) -> None:
    pending: list[EventRecord] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        after_commit(db, lambda: _announce(db))
    pending.extend(records)
    EVENTS_EMITTED.inc(len(records))


async def emit(db: AsyncSession, *, org_id: str, channel: str, kind: str, data: dict[str, Any]) -> int:
    """Append an event in the current transaction and return its position.

    `kind` is dotted, e.g. "message.created"; `data` is JSON-serialisable and is what clients get.
    The event is announced to the stream only after the transaction commits.
    """
    _check(channel, kind)
    at = utcnow()
    position = await _reserve_positions(db, org_id, 1)
    # Serialised now: a value that is not JSON fails the request, not the announcement after commit,
    # and later changes to `data` by the caller do not change what was logged.
    record = EventRecord.build(org_id, position, channel, kind, data, at)
    await _INSERT_ONE_EVENT.run(
        db, {"org_id": org_id, "position": position, "channel": channel, "kind": kind, "data": data, "created_at": at}
    )
    _hold_for_announcement(db, [record])
    return position


@dataclass(frozen=True, slots=True)
class NewEvent:
    channel: str
    kind: str
    data: dict[str, Any]


async def emit_many(db: AsyncSession, *, org_id: str, events: Sequence[NewEvent]) -> list[int]:
    """Append several events of one organization at once, in order: one counter update and one
    batched insert whatever their number (a 3,000-member group tells each member it exists)."""
    if not events:
        return []
    for new in events:
        _check(new.channel, new.kind)
    at = utcnow()
    last = await _reserve_positions(db, org_id, len(events))
    first = last - len(events) + 1
    records = [
        EventRecord.build(org_id, first + offset, new.channel, new.kind, new.data, at)
        for offset, new in enumerate(events)
    ]
    rows = [
        {"org_id": org_id, "position": first + offset, "channel": new.channel, "kind": new.kind, "data": new.data,
         "created_at": at}
        for offset, new in enumerate(events)
    ]
    for start in range(0, len(rows), 1000):
        await db.execute(_INSERT_EVENT, rows[start : start + 1000])
    _hold_for_announcement(db, records)
    return [record.position for record in records]


async def _announce(db: AsyncSession) -> None:
    records: list[EventRecord] = db.info.pop(_PENDING, [])
    if records:
        from tack.core.broker import get_broker

        await get_broker().publish_events(records)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    # Positions of a rolled-back transaction are handed out again; announcing them would be a lie.
    session.info.pop(_PENDING, None)


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamInfo:
    org_id: str
    epoch: str
    last_position: int
    pruned_through: int


async def stream_infos(db: AsyncSession, org_ids: Iterable[str]) -> dict[str, StreamInfo]:
    ids = sorted(set(org_ids))
    found: dict[str, StreamInfo] = {}
    for start in range(0, len(ids), 500):
        rows = await db.execute(
            select(EventStream.org_id, EventStream.epoch, EventStream.last_position, EventStream.pruned_through).where(
                EventStream.org_id.in_(ids[start : start + 500])
            )
        )
        for org_id, epoch, last, pruned in rows:
            found[org_id] = StreamInfo(org_id, epoch, int(last), int(pruned))
    return found


def _record(row: Any) -> EventRecord:
    return EventRecord.build(row.org_id, int(row.position), row.channel, row.kind, row.data, row.created_at)


async def read_events(
    db: AsyncSession,
    org_id: str,
    *,
    after: int,
    upto: int | None = None,
    channels: Iterable[str] | None = None,
    limit: int = 500,
) -> list[EventRecord]:
    """Events of one organization with after < position <= upto, in position order.

    With `channels`, only events on those channels (the (org_id, channel, position) index serves it).
    """
    stmt = select(Event.org_id, Event.position, Event.channel, Event.kind, Event.data, Event.created_at).where(
        Event.org_id == org_id, Event.position > after
    )
    if upto is not None:
        stmt = stmt.where(Event.position <= upto)
    if channels is not None:
        names = sorted(set(channels))
        if not names:
            return []
        stmt = stmt.where(Event.channel.in_(names))
    rows = await db.execute(stmt.order_by(Event.position).limit(limit))
    return [_record(row) for row in rows]


# ---- retention --------------------------------------------------------------------------------


async def prune_events(
    database: Database, *, older_than: timedelta, batch: int = 1000, org_ids: Iterable[str] | None = None
) -> int:
    """Delete events older than `older_than` (of `org_ids`, or of every organization), oldest first,
    and return how many went.

    Each organization's `pruned_through` moves up in the same transaction as the delete, so a client
    whose cursor is below it is told to resync rather than given a replay with a hole.
    """
    cutoff = utcnow() - older_than
    deleted = 0
    async with database.session() as db:
        query = select(EventStream.org_id, EventStream.pruned_through)
        if org_ids is not None:
            query = query.where(EventStream.org_id.in_(sorted(set(org_ids))))
        streams = (await db.execute(query)).all()
    for org_id, pruned in streams:
        pruned = int(pruned)
        while True:
            async with database.session() as db:
                await db.connection(execution_options={"tack_write": True})
                rows = (
                    await db.execute(
                        select(Event.position, Event.created_at)
                        .where(Event.org_id == org_id, Event.position > pruned)
                        .order_by(Event.position)
                        .limit(batch)
                    )
                ).all()
                upto = pruned
                for position, created_at in rows:
                    if created_at >= cutoff:
                        break
                    upto = int(position)
                if upto == pruned:
                    await db.rollback()
                    break
                await db.execute(
                    update(EventStream)
                    .where(EventStream.org_id == org_id, EventStream.pruned_through < upto)
                    .values(pruned_through=upto)
                    .execution_options(synchronize_session=False)
                )
                result = await db.execute(delete(Event).where(Event.org_id == org_id, Event.position <= upto))
                await db.commit()
                deleted += result.rowcount or 0
                pruned = upto
                if len(rows) < batch:
                    break
    if deleted:
        log.info("events_pruned", deleted=deleted, older_than_days=older_than.total_seconds() / 86400)
    return deleted

