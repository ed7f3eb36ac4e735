"""One stream connection, from the handshake to the close: who is calling, the hello, the replay of
what the client missed, then live events and heartbeats until either side goes.

The replay of an organization is exact: the connection is registered with the hub first (from then
on it holds every live event of the organization aside), then the log is read, then the held events
are applied. Each event is sent once, in position order, filtered by what the member may see at
that position: channels joined or left while the client was away are replayed as they happened
(the member's own channel carries `join_channel` / `leave_channel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import structlog
from fastapi import WebSocket
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.admission import STREAM_OPEN, Busy, Priority, admitted
from tack.core.auth import SESSION_COOKIE, Principal, resolve_bearer, resolve_session_cookie
from tack.core.config import get_settings
from tack.core.db import _commit_bookkeeping
from tack.core.event_models import EventStream
from tack.core.events import (
    ORG_CHANNEL,
    EventRecord,
    StreamInfo,
    channels_for,
    ensure_streams,
    member_channel,
    read_events,
    stream_infos,
)
from tack.orgs.models import Membership, MemberStatus
from tack.stream import schemas
from tack.stream.calls import handle_call
from tack.stream.errors import (
    HelloTimeout,
    InvalidToken,
    OriginNotAllowed,
    ProtocolError,
    SessionEnded,
    StreamBusy,
    StreamError,
    StreamInternalError,
    StreamNotAuthenticated,
)
from tack.stream.hub import RESYNCS, Connection, Hub, StreamConfig, get_hub

log = structlog.get_logger(__name__)


async def serve(websocket: WebSocket) -> None:
    hub = get_hub()
    await websocket.accept()
    try:
        caller = await identify(hub, websocket)
    except StreamError as error:
        await _refuse(websocket, error)
        return
    conn = Connection(hub, websocket, caller.principal, bearer=caller.bearer)
    hub.add(conn)
    reader = asyncio.get_running_loop().create_task(_read(hub, conn, caller), name="stream-reader")
    try:
        await asyncio.wait({reader, conn.finished}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            error = reader.exception()
            if isinstance(error, StreamError):
                conn.fail(error)
            elif error is not None:
                log.error("stream_failed", error=repr(error), exc_info=error)
                conn.fail(StreamInternalError())
            if conn.error is not None:
                # The error frame and the close go out (within their own time limit).
                await asyncio.wait({conn.finished})
    finally:
        reader.cancel()
        conn.stop()
        hub.remove(conn)


async def _refuse(websocket: WebSocket, error: StreamError) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(schemas.error_frame(error))
        await websocket.close(error.close_code, error.code)


# ---- who is calling -----------------------------------------------------------------------------


def _bearer_of(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise StreamNotAuthenticated(
                "The Authorization header must be 'Bearer <token>'.", code="invalid_authorization"
            )
        return credential.strip()
    # Browsers cannot set headers on a WebSocket; the token may come in the query string instead.
    token = websocket.query_params.get("access_token")
    return token.strip() if token and token.strip() else None


def _host_of(origin: str) -> str:
    parts = urlsplit(origin)
    host = (parts.netloc or "").lower()
    default = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}.get(parts.scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


def _strip_default_port(host: str) -> str:
    host = host.strip().lower()
    for suffix in (":80", ":443"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def check_origin(websocket: WebSocket) -> None:
    """Refuse cookie-authenticated connections opened by pages of another site.

    A browser sends the session cookie with any page's WebSocket to this server, and always sends
    the page's Origin; the Host (or the X-Forwarded-Host a proxy set, which a page cannot) names
    this server. Clients that are not browsers send no Origin and carry no ambient cookie risk.
    """
    origin = websocket.headers.get("origin")
    if origin is None:
        return
    origin = origin.strip().rstrip("/").lower()
    if origin in get_settings().allowed_origins():
        return
    hosts = {_strip_default_port(websocket.headers.get("host", ""))}
    forwarded = websocket.headers.get("x-forwarded-host")
    if forwarded:
        hosts |= {_strip_default_port(h) for h in forwarded.split(",")}
    if origin == "null" or _host_of(origin) not in hosts - {""}:
        raise OriginNotAllowed()


@dataclass
class Caller:
    """Who opened the connection, and where they are a member (read once, at the handshake)."""

    principal: Principal
    bearer: str | None
    members: dict[str, str]  # org_id -> member_id, active memberships
    streams: dict[str, StreamInfo]  # their organizations' logs, as they were then


async def identify(hub: Hub, websocket: WebSocket) -> Caller:
    """Authenticate, and read the caller's memberships and their logs' positions, in one session."""
    bearer = _bearer_of(websocket)
    if bearer is None:
        raw = websocket.cookies.get(SESSION_COOKIE)
        if not raw:
            raise StreamNotAuthenticated()
        check_origin(websocket)
    async with hub.database.session() as db:
        if bearer is not None:
            principal = await resolve_bearer(db, bearer)
            if principal is None:
                raise InvalidToken()
        else:
            principal = await resolve_session_cookie(db, raw)
            if principal is None:
                raise SessionEnded()
        rows = await db.execute(
            select(
                Membership.org_id, Membership.id, EventStream.epoch, EventStream.last_position,
                EventStream.pruned_through,
            )
            .outerjoin(EventStream, EventStream.org_id == Membership.org_id)
            .where(Membership.account_id == principal.account_id, Membership.status == MemberStatus.active)
        )
        members: dict[str, str] = {}
        streams: dict[str, StreamInfo] = {}
        for org_id, member_id, epoch, last, pruned in rows:
            members[org_id] = member_id
            if epoch is not None:
                streams[org_id] = StreamInfo(org_id, epoch, int(last), int(pruned))
        await _commit_bookkeeping(db)
    missing = set(members) - set(streams)
    if missing:  # organizations that never emitted: give them a log (and an epoch) now
        async with hub.database.session() as db:
            await db.connection(execution_options={"tack_write": True})
            await ensure_streams(db, missing)
            streams.update(await stream_infos(db, missing))
            await db.commit()
    return Caller(principal=principal, bearer=bearer, members=members, streams=streams)


# ---- the conversation with the client -----------------------------------------------------------


async def _read(hub: Hub, conn: Connection, caller: Caller) -> None:
    websocket = conn.websocket
    try:
        async with asyncio.timeout(hub.config.hello_timeout):
            message = await websocket.receive()
    except TimeoutError:
        raise HelloTimeout() from None
    if message["type"] == "websocket.disconnect":
        return
    text = message.get("text")
    if text is None:
        raise ProtocolError("Frames are JSON text, not binary.")
    conn.last_heard = time.monotonic()
    hello = schemas.parse_hello(text)
    # Opening (the replay) is an initial state load: under a surge a bounded number open at once,
    # the others wait in line, and beyond it the client is told to come back (4503, retry_after).
    try:
        async with admitted(Priority.state, STREAM_OPEN):
            # The wait in line was the server's, not the client's silence (heartbeats count from here).
            conn.last_heard = time.monotonic()
            await open_stream(hub, conn, caller, hello)
    except Busy as busy:
        raise StreamBusy(busy.retry_after) from None
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        conn.last_heard = time.monotonic()
        text = message.get("text")
        if text is None:
            raise ProtocolError("Frames are JSON text, not binary.")
        kind = schemas.message_type(text)
        if kind == "ping":
            conn.push(schemas.PONG)
        elif kind == "call":
            await handle_call(hub, conn, text)
        elif kind == "hello":
            raise ProtocolError("Say hello once; to start over, open a new connection.")
        # "pong" and frame types of later protocol versions only prove the client is alive.


@dataclass
class Plan:
    """What one organization's subscription starts with."""

    org_id: str
    member_id: str
    epoch: str
    start: int  # events after this position follow
    upto: int  # the replay reaches this position; live events follow it
    frames: list[str] = field(default_factory=list)
    channels: set[str] = field(default_factory=set)
    resync: str | None = None
    left: bool = False


async def open_stream(hub: Hub, conn: Connection, caller: Caller, hello: schemas.Hello) -> None:
    members = caller.members
    org_ids = sorted(members)
    states = await asyncio.gather(*(hub.attach(org_id) for org_id in org_ids))
    if conn.error is not None:
        return
    # From here on every live event of these organizations is held for this connection, so the
    # log read below (which starts after this line) and the held events together miss nothing.
    subs = {state.org_id: hub.subscribe(state, conn, members[state.org_id]) for state in states}
    plans: list[Plan] = []
    async with hub.database.session() as db:
        channels = {org_id: await channels_for(db, org_id, members[org_id]) for org_id in org_ids}
        # Read after the channels: whatever membership the channels reflect, its events are in the
        # log up to here.
        after = await stream_infos(db, org_ids)
        for org_id in org_ids:
            plans.append(
                await _plan(
                    db, hub.config, org_id, members[org_id], hello.cursors.get(org_id),
                    caller.streams[org_id], channels[org_id], after[org_id],
                )
            )
        await db.rollback()
    orgs = {p.org_id: {"epoch": p.epoch, "position": p.start, "member_id": p.member_id} for p in plans}
    conn.push(schemas.ready_frame(orgs, hub.config.ping_seconds))
    for plan in plans:
        if plan.resync is not None:
            RESYNCS.labels(plan.resync).inc()
            conn.push(schemas.resync_frame(plan.org_id, plan.resync, plan.epoch, plan.start))
        for frame in plan.frames:
            conn.push(frame)
        if plan.left:  # removed from the organization just as they connected
            conn.push(schemas.left_frame(plan.org_id, "membership_removed"))
            hub.unsubscribe(subs[plan.org_id])
        else:
            hub.go_live(subs[plan.org_id], plan.channels, plan.upto)
    conn.push(schemas.live_frame({o: hub.position_of(s) for o, s in conn.subs.items()}))


async def _plan(
    db: AsyncSession,
    config: StreamConfig,
    org_id: str,
    member_id: str,
    cursor: schemas.Cursor | None,
    before: StreamInfo,
    channels: set[str],
    after: StreamInfo,
) -> Plan:
    """`before` is the log as it was at the handshake (a client without a cursor starts there),
    `after` as it was once `channels` had been read (the replay reaches that far)."""
    plan = Plan(org_id=org_id, member_id=member_id, epoch=after.epoch, start=before.last_position,
                upto=after.last_position)
    if cursor is not None:
        if cursor.epoch is not None and cursor.epoch != after.epoch:
            plan.resync = "epoch_changed"
        elif cursor.position > after.last_position:
            plan.resync = "cursor_ahead"  # e.g. the database was restored from an older backup
        elif cursor.position < after.pruned_through:
            plan.resync = "expired"
        else:
            plan.start = cursor.position
    replay = await _replay(db, config, org_id, member_id, plan.start, plan.upto, channels)
    if replay is None and plan.start != before.last_position:
        plan.resync = plan.resync or "too_far_behind"
        plan.start = before.last_position
        replay = await _replay(db, config, org_id, member_id, plan.start, plan.upto, channels)
    if replay is None:  # more events during this hello than a whole replay: start after them
        plan.start, replay = plan.upto, ([], set(channels), False)
    if plan.resync is None and cursor is not None and plan.start < plan.upto:
        # Pruning may have removed part of the range while it was read.
        now = (await stream_infos(db, [org_id]))[org_id]
        if plan.start < now.pruned_through:
            plan.resync = "expired"
            plan.start, replay = plan.upto, ([], set(channels), False)
    plan.frames, plan.channels, removed = replay
    if removed:
        # Removed while away, or just now: whether they were added back decides.
        status = await db.scalar(
            select(Membership.status).where(Membership.org_id == org_id, Membership.id == member_id)
        )
        plan.left = status != MemberStatus.active
    return plan


async def _replay(
    db: AsyncSession, config: StreamConfig, org_id: str, member_id: str, start: int, upto: int, channels: set[str]
) -> tuple[list[str], set[str], bool] | None:
    """The frames a member gets for (start, upto], their channels at `upto`, and whether they were
    removed from the organization in that range; None if there are too many.

    `channels` is what the member may see now. Walking the member's own channel backwards gives what
    they could see at `start`; the events are then replayed forwards from there.
    """
    if start >= upto:
        return [], set(channels), False
    limit = config.max_replay
    own = member_channel(member_id)
    controls = [
        e.control
        for e in await read_events(db, org_id, after=start, upto=upto, channels=[own], limit=limit + 1)
        if e.control is not None
    ]
    begin = set(channels)
    mentioned: set[str] = set()
    for control in reversed(controls):  # undo each, last first
        if control.leave_org:
            begin.update((ORG_CHANNEL, own))
        begin.update(control.leave)
        begin.difference_update(control.join)
        if control.join_org:
            begin = set()
        mentioned.update(control.join, control.leave)
    records: list[EventRecord] = await read_events(
        db, org_id, after=start, upto=upto, channels=channels | begin | mentioned, limit=limit + 1
    )
    if len(records) > limit:
        return None
    current = begin
    frames: list[str] = []
    removed = False
    for record in records:
        # The member's own channel speaks for them even while they are out of the organization.
        control = record.control if (record.channel in current or record.channel == own) else None
        if control is not None:
            if control.join_org:
                current, removed = {ORG_CHANNEL, own}, False
            current.update(control.join)
        if record.channel in current:
            frames.append(record.frame)
        if control is not None:
            current.difference_update(control.leave)
            if control.leave_org:
                current, removed = set(), True
    if removed:  # what the member may see once back in is the channels read now
        current = set(channels)
    return frames, current, removed
