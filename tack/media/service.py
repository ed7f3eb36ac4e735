"""The media control plane: placing rooms on media servers, handing out media sessions, and making
the hosts' controls (mute, remove, end) act on the media too.

Rules (docs/media.md):
- A room's VideoRoom is created on the least-loaded media server that answers, the first time
  someone asks for media, and stays there until the room ends or the server dies.
- A media session is handed out only to someone holding a seat. Their join token (the media token of
  their join ticket, or a fresh one) is put on the VideoRoom's allow-list before the answer leaves,
  and recorded (`MediaGrant`) so it can be taken off again: on removal (before the kick), on leaving,
  and at expiry. Janus checks the allow-list; Tack checks everything else (capacity, who publishes).
- Beyond the room's interactive capacity, people other than hosts and presenters watch the broadcast.
  They may also ask to watch it (a poor network, or by choice): their join tokens are then revoked,
  which frees their place in the live room for someone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.config import get_settings
from tack.core.db import after_commit, ensure_writing, utcnow
from tack.core.errors import Forbidden, ServiceBusy
from tack.core.events import emit
from tack.core.tenancy import SCOPE
from tack.media import broadcast
from tack.media.janus import JanusControl, JanusEndpoint, JanusError, JanusUnreachable
from tack.media.models import MediaGrant, MediaServer, RoomMedia, ServerStatus
from tack.media.schemas import BroadcastOut, MediaSessionOut
from tack.rooms import service as rooms
from tack.rooms import tokens
from tack.rooms.models import Participant, ParticipantRole, ParticipantState, Room, RoomKind, RoomStatus

log = structlog.get_logger(__name__)

PUBLISHING_ROLES = {ParticipantRole.host, ParticipantRole.cohost, ParticipantRole.presenter}
# The core token lets a browser open a Janus session and attach the VideoRoom plugin, nothing more;
# it lasts as long as a room ticket, because Janus checks it on every request of the session.
CORE_REALM = "janus"
VIDEOROOM = "janus.plugin.videoroom"


class WatchNotAllowed(Forbidden):
    code = "watch_not_allowed"
    message = ("Hosts, co-hosts and presenters take part in the live room and cannot switch to the broadcast: "
               "the broadcast is made from the host's camera. Ask for the live room instead.")


class MediaUnavailable(ServiceBusy):
    status_code = 503  # the media server failed: a dependency is down, not a line to wait in
    code = "media_unavailable"
    message = "Audio and video are not available right now. The room works; try the media again shortly."


# ---- tokens, ids and secrets ------------------------------------------------------------------------


def core_token(server: MediaServer, *, hours: float | None = None) -> str:
    """A Janus token_auth token signed with the server's token_auth_secret."""
    if not server.token_secret:
        return ""
    expires = int(time.time() + (hours or get_settings().room_ticket_hours) * 3600)
    payload = f"{expires},{CORE_REALM},{VIDEOROOM}"
    digest = hmac.new(server.token_secret.encode(), payload.encode(), hashlib.sha1).digest()
    return f"{payload}:{base64.b64encode(digest).decode()}"


def feed_id(participant_id: str) -> int:
    """The participant's id in the VideoRoom (under 2**48: exact in JavaScript)."""
    return int.from_bytes(hashlib.sha256(participant_id.encode()).digest()[:6], "big") or 1


def room_secret(room: Room) -> str:
    """The VideoRoom's secret: derived, so every Tack process knows it without sharing state."""
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"tack:media-room:{room.id}".encode(), hashlib.sha256).hexdigest()[:32]


def token_expiry(token: str) -> datetime:
    return datetime.fromtimestamp(int(token.split(",", 1)[0]), UTC)


# ---- the media servers ---------------------------------------------------------------------------------

_available = False


def remember_availability(up: bool) -> None:
    global _available
    _available = up


def known_available() -> bool:
    """Whether a media server answered at the last look of this process."""
    return _available


_controls: dict[str, tuple[JanusEndpoint, JanusControl]] = {}


def control(server: MediaServer) -> JanusControl:
    """This process's control session on a media server (one per server, reused)."""
    endpoint = JanusEndpoint(api_url=server.api_url, admin_url=server.admin_url, admin_secret=server.admin_secret,
                             admin_key=server.admin_key, core_token=core_token(server, hours=24 * 365))
    known = _controls.get(server.id)
    if known is not None and known[0] == endpoint:
        return known[1]
    made = JanusControl(endpoint)
    _controls[server.id] = (endpoint, made)
    return made


async def close_controls() -> None:
    for _, made in list(_controls.values()):
        await made.close()
    _controls.clear()


async def servers(db: AsyncSession) -> list[MediaServer]:
    return list((await db.execute(select(MediaServer).order_by(MediaServer.name))).scalars().all())


async def any_server_up(db: AsyncSession) -> bool:
    found = await db.execute(select(MediaServer.id).where(MediaServer.status == ServerStatus.up).limit(1))
    return found.first() is not None


async def register_server(
    db: AsyncSession, *, name: str, api_url: str, public_url: str, admin_url: str = "", admin_secret: str = "",
    admin_key: str = "", token_secret: str = "",
) -> MediaServer:
    """Add a media server, or update the one of that name (an installation's set-up command)."""
    server = (await db.execute(select(MediaServer).where(MediaServer.name == name))).scalar_one_or_none()
    if server is None:
        server = MediaServer(name=name)
        db.add(server)
    server.api_url, server.public_url, server.admin_url = api_url.rstrip("/"), public_url, admin_url.rstrip("/")
    server.admin_secret, server.admin_key, server.token_secret = admin_secret, admin_key, token_secret
    server.status, server.failures, server.last_error = ServerStatus.up, 0, None
    await db.flush()
    return server


async def _least_loaded(db: AsyncSession, *, besides: str | None = None) -> MediaServer | None:
    placed = (
        select(RoomMedia.server_id, func.count().label("rooms")).group_by(RoomMedia.server_id).subquery()
    )
    query = (
        select(MediaServer)
        .outerjoin(placed, placed.c.server_id == MediaServer.id)
        .where(MediaServer.status == ServerStatus.up)
        # Rooms placed by Tack count at once; participants as Janus last reported them.
        .order_by(func.coalesce(placed.c.rooms, 0) + MediaServer.participants / 10, MediaServer.name)
        .limit(1)
    )
    if besides is not None:
        query = query.where(MediaServer.id != besides)
    return (await db.execute(query)).scalar_one_or_none()


def _videoroom_settings(room: Room, secret: str, publishers: int) -> dict:
    return {
        "room": room.media_room,
        "description": f"tack {room.kind} {room.id}",
        "secret": secret,
        "is_private": True,
        "publishers": publishers,
        # An allow-list (empty to start with): only tokens Tack put on it may join.
        "allowed": [],
        # Subscribers must be participants of the room (their publisher handle's private id).
        "require_pvtid": True,
        "notify_joining": True,
        # Speaking indicators.
        "audiolevel_event": True,
        "audio_active_packets": 50,
        "audio_level_average": 40,
        "videocodec": "vp8,h264",
        "audiocodec": "opus",
        # A keyframe every few seconds: late joiners, the broadcast and media moved to another
        # server start quickly.
        "fir_freq": 5,
        "permanent": False,
    }


async def _create_videoroom(server: MediaServer, room: Room, publishers: int) -> None:
    try:
        await control(server).videoroom("create", admin_key=server.admin_key,
                                        **_videoroom_settings(room, room_secret(room), publishers))
    except JanusError as exc:
        if exc.code != 427:  # already there (another process, or a retry): fine
            raise


@dataclass
class Placement:
    """Where a room's VideoRoom is. `media` is None until the placement is recorded."""

    server: MediaServer
    media: RoomMedia | None
    moved_from: RoomMedia | None = None


async def placed(db: AsyncSession, room: Room) -> Placement | None:
    """The room's VideoRoom, created now on the least-loaded server if it has none (or its server is
    down); None without any media server that answers. Only reads the database: a new placement is
    written by `record`, once the caller writes."""
    found = (
        await db.execute(
            select(RoomMedia, MediaServer)
            .join(MediaServer, MediaServer.id == RoomMedia.server_id)
            .where(RoomMedia.org_id == room.org_id, RoomMedia.room_id == room.id)
        )
    ).first()
    if found is not None and found[1].status != ServerStatus.down:
        return Placement(server=found[1], media=found[0])
    server = await _least_loaded(db, besides=found[1].id if found is not None else None)
    if server is None:
        return None
    try:
        await _create_videoroom(server, room, get_settings().media_publishers)
    except (JanusError, JanusUnreachable) as exc:
        log.warning("media_room_create_failed", server=server.name, error=str(exc))
        raise MediaUnavailable() from None
    return Placement(server=server, media=None, moved_from=found[0] if found is not None else None)


async def record(db: AsyncSession, room: Room, placement: Placement) -> RoomMedia:
    """Write a new placement (inside the write transaction); the room's RoomMedia row."""
    if placement.media is not None:
        return placement.media
    if placement.moved_from is not None:
        placement.moved_from.server_id = placement.server.id
        placement.moved_from.generation += 1
        placement.media = placement.moved_from
        await db.flush()
        return placement.media
    values = {"org_id": room.org_id, "room_id": room.id, "server_id": placement.server.id,
              "publishers": get_settings().media_publishers, "generation": 1, "broadcasting": False,
              "created_at": utcnow()}
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    await db.execute(insert(RoomMedia).values(**values).on_conflict_do_nothing())
    media = (
        await db.execute(
            select(RoomMedia).where(RoomMedia.org_id == room.org_id, RoomMedia.room_id == room.id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if media.server_id != placement.server.id:
        # Another process placed it first, elsewhere: use that one (ours stays empty until its
        # server's rooms are cleaned up).
        placement.server = (await db.get(MediaServer, media.server_id)) or placement.server
    placement.media = media
    return media


# ---- media sessions ------------------------------------------------------------------------------------


@dataclass
class _Seat:
    room: Room
    p: Participant


def may_publish(room: Room, p: Participant) -> bool:
    return p.role in PUBLISHING_ROLES or (room.kind == RoomKind.meeting and not p.muted)


async def _interactive_now(db: AsyncSession, room: Room, besides: str) -> int:
    """People holding a live join token for the room's video, other than `besides`."""
    return (
        await db.execute(
            select(func.count(func.distinct(MediaGrant.participant_id)))
            .where(MediaGrant.org_id == room.org_id, MediaGrant.room_id == room.id,
                   MediaGrant.participant_id != besides, MediaGrant.expires_at > utcnow())
        )
    ).scalar_one()


async def session_for(db: AsyncSession, room: Room, p: Participant, *, token: str | None,
                      watch: bool = False) -> MediaSessionOut:
    """The media session of a seated participant (see the module docstring); `watch`: they ask for
    the broadcast instead of the live room."""
    if room.status != RoomStatus.open:
        raise rooms.RoomEnded()
    if p.state == ParticipantState.waiting:
        return MediaSessionOut.unavailable("waiting")
    if p.state != ParticipantState.joined:
        raise rooms.NotInRoom()
    if token is not None:
        # The join ticket's media token: genuine, for this room and this person, unexpired.
        if tokens.read_media_token(token, media_room=room.media_room) != p.id:
            raise tokens.MediaTokenInvalid()
    if watch and p.role in PUBLISHING_ROLES:
        # The broadcast is the host's feed; those who publish by their role stay where they publish.
        raise WatchNotAllowed()
    settings = get_settings()
    full = (not watch and p.role not in PUBLISHING_ROLES
            and await _interactive_now(db, room, p.id) >= settings.media_interactive_capacity)
    # The media server is asked before the write transaction begins: a slow one must not hold up
    # everyone else's writes (the media routes are deferred writes).
    placement = await placed(db, room)
    if placement is None:
        return MediaSessionOut.unavailable("no_media_server")
    server = placement.server
    if watch:
        answer = await _watch(db, room, placement, reason="chosen")
        await _give_up_live_room(db, room, p)
        return answer
    if full:
        # The broadcast starts with its first viewer, once the host publishes (until then the client
        # asks again and shows that the class has not started broadcasting yet).
        return await _watch(db, room, placement, reason="room_full")
    if token is None:
        token, _ = tokens.issue_media_token(media_room=room.media_room, participant_id=p.id)
    await _allow(server, room, token)
    await ensure_writing(db)
    media = await record(db, room, placement)
    if placement.server.id != server.id:  # another process placed the room meanwhile
        server = placement.server
        await _allow(server, room, token)
    expires = token_expiry(token)
    db.add(MediaGrant(org_id=room.org_id, room_id=room.id, participant_id=p.id, token=token, expires_at=expires))
    await db.flush()
    return MediaSessionOut(
        mode="interactive", server=server.public_url, core_token=core_token(server) or None, room=room.media_room,
        join_token=token, feed_id=feed_id(p.id), display=p.display_name, may_publish=may_publish(room, p),
        ice_servers=_ice_servers(), generation=media.generation, expires_at=expires,
    )


async def _allow(server: MediaServer, room: Room, token: str) -> None:
    """Put a join token on the room's allow-list (making the VideoRoom again if Janus lost it)."""
    janus, secret = control(server), room_secret(room)
    try:
        try:
            await janus.videoroom("allowed", room=room.media_room, secret=secret, action="add", allowed=[token])
        except JanusError as exc:
            if exc.code != 426:
                raise
            # The VideoRoom is gone (the server restarted): make it again, once.
            await _create_videoroom(server, room, get_settings().media_publishers)
            await janus.videoroom("allowed", room=room.media_room, secret=secret, action="add", allowed=[token])
    except (JanusError, JanusUnreachable) as exc:
        log.warning("media_allow_failed", server=server.name, error=str(exc))
        raise MediaUnavailable() from None


async def _watch(db: AsyncSession, room: Room, placement: Placement,
                 reason: Literal["room_full", "chosen"]) -> MediaSessionOut:
    """A viewer's session: the broadcast, started by this process if nobody runs it."""
    media = placement.media
    others_run_it = (media is not None and media.broadcasting and media.broadcast_owner != broadcast.OWNER
                     and not _owner_gone(media.broadcast_owner))
    started = False
    if not others_run_it:
        started = await _start_broadcast(db, room, placement.server)
    if started or placement.media is None:
        await ensure_writing(db)
        media = await record(db, room, placement)
        if started:
            media.broadcasting, media.broadcast_owner = True, broadcast.OWNER
            await db.flush()
    assert media is not None
    hls = BroadcastOut(hls_url=broadcast.playlist_url(room.media_room)) if media.broadcasting else None
    return MediaSessionOut(mode="broadcast", reason=reason, generation=media.generation, broadcast=hls)


async def _give_up_live_room(db: AsyncSession, room: Room, p: Participant) -> None:
    """Someone who now watches the broadcast: their join tokens come off the allow-list (so their place
    in the live room is free, and the tokens cannot be used again) and they leave the VideoRoom if a
    connection of theirs is still there. Nothing is written when they hold no token."""
    revoked = await _grants_of(db, room, p.id)
    if not revoked:
        return
    await ensure_writing(db)
    await _revoke(db, room, p, kick=True, revoked=revoked)


def _ice_servers() -> list[dict]:
    raw = get_settings().media_ice_servers
    return json.loads(raw) if raw else []


async def _host_feed(db: AsyncSession, room: Room) -> int | None:
    host = (
        await db.execute(
            select(Participant.id).where(Participant.org_id == room.org_id, Participant.room_id == room.id,
                                         Participant.role == ParticipantRole.host,
                                         Participant.state == ParticipantState.joined)
        )
    ).scalar_one_or_none()
    return feed_id(host) if host is not None else None


async def _start_broadcast(db: AsyncSession, room: Room, server: MediaServer) -> bool:
    """Forward the host's feed to this process's ffmpeg (or keep the one running); False while the
    host does not publish, has not joined, or the media server cannot forward."""
    feed = await _host_feed(db, room)
    if feed is None:
        return False
    try:
        await broadcast.start(control(server), media_room=room.media_room, secret=room_secret(room),
                              admin_key=server.admin_key, feed=feed)
    except JanusError as exc:
        if exc.code != 428:  # 428: the host does not publish (yet)
            log.warning("broadcast_start_failed", room=room.id, error=str(exc))
        return False
    except (JanusUnreachable, RuntimeError, OSError) as exc:
        log.warning("broadcast_start_failed", room=room.id, error=str(exc))
        return False
    return True


def _owner_gone(owner: str | None) -> bool:
    """Whether the process that ran a broadcast is gone (known only for processes of this host)."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != broadcast.OWNER.rpartition(":")[0] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except OSError:
        return True
    return False


async def member_session(db: AsyncSession, ctx, room_id: str, *, token: str | None,  # noqa: ANN001
                         watch: bool = False) -> MediaSessionOut:
    room = await rooms.load_room(db, ctx.org_id, room_id)
    await rooms.role_in(db, ctx, room)
    p = await rooms.my_participant(db, ctx, room)
    return await session_for(db, room, p, token=token, watch=watch)


# ---- following the rooms: revoke, kick, mute, destroy ---------------------------------------------------


async def _grants_of(db: AsyncSession, room: Room, participant_id: str | None) -> list[str]:
    query = select(MediaGrant.token).where(MediaGrant.org_id == room.org_id, MediaGrant.room_id == room.id)
    if participant_id is not None:
        query = query.where(MediaGrant.participant_id == participant_id)
    return list((await db.execute(query)).scalars().all())


# Every leave asks it (built once: see tack/core/tenancy.py).
_SERVER_OF_ROOM = (
    select(MediaServer).join(RoomMedia, RoomMedia.server_id == MediaServer.id)
    .where(RoomMedia.org_id == bindparam(SCOPE), RoomMedia.room_id == bindparam("room_id"))
)


async def _server_of(db: AsyncSession, room: Room) -> MediaServer | None:
    return (await db.execute(_SERVER_OF_ROOM, {SCOPE: room.org_id, "room_id": room.id})).scalar_one_or_none()


async def _revoke(db: AsyncSession, room: Room, p: Participant, *, kick: bool,
                  server: MediaServer | None = None, revoked: list[str] | None = None) -> None:
    """Delete the person's grants (in the writing transaction); after the commit, take their tokens off
    the VideoRoom's allow-list and then, with `kick`, remove their feed from it. `revoked`: their
    grants' tokens, when the caller read them already."""
    server = server or await _server_of(db, room)
    if revoked is None:
        revoked = await _grants_of(db, room, p.id)
    await db.execute(delete(MediaGrant).where(MediaGrant.org_id == room.org_id, MediaGrant.room_id == room.id,
                                              MediaGrant.participant_id == p.id))
    if server is None:
        return
    janus, secret, number, feed = control(server), room_secret(room), room.media_room, feed_id(p.id)

    async def revoke_then_kick() -> None:
        # Off the allow-list first, so a kicked client cannot come straight back in.
        if revoked:
            await _quietly(janus.videoroom("allowed", room=number, secret=secret, action="remove", allowed=revoked))
        if kick:
            await _quietly(janus.videoroom("kick", room=number, secret=secret, id=feed))

    after_commit(db, revoke_then_kick)


async def follow_room(db: AsyncSession, kind: str, room: Room, p: Participant | None) -> None:
    """rooms.on_room_change listener (see tack/rooms/service.py)."""
    server = await _server_of(db, room)
    if server is None:
        return
    janus = control(server)
    secret, number = room_secret(room), room.media_room
    if kind in ("removed", "left") and p is not None:
        await _revoke(db, room, p, kick=kind == "removed", server=server)
    elif kind in ("muted", "unmuted") and p is not None:
        feed, mute = feed_id(p.id), kind == "muted"
        after_commit(db, lambda: _mute_feed(janus, number, secret, feed, mute))
    elif kind == "role" and p is not None:
        # Made presenter: may speak and show; back to attendee: their camera and microphone stop.
        feed, allowed = feed_id(p.id), may_publish(room, p)

        async def follow_role() -> None:
            for mid in ("0", "1"):
                await _quietly(janus.videoroom("moderate", room=number, secret=secret, id=feed, mid=mid,
                                               mute=not allowed))

        after_commit(db, follow_role)
    elif kind == "muted_all":
        hosts = {
            feed_id(pid) for pid in (
                await db.execute(
                    select(Participant.id).where(Participant.org_id == room.org_id, Participant.room_id == room.id,
                                                 Participant.role.in_(list(rooms.HOST_ROLES)))
                )
            ).scalars()
        }

        async def mute_everyone_else() -> None:
            try:
                listed = await janus.videoroom("listparticipants", room=number, secret=secret)
            except (JanusError, JanusUnreachable):
                return
            for person in listed.get("participants", []):
                if person.get("publisher") and person.get("id") not in hosts:
                    await _mute_feed(janus, number, secret, int(person["id"]), True)

        after_commit(db, mute_everyone_else)
    elif kind == "ended":
        await db.execute(delete(MediaGrant).where(MediaGrant.org_id == room.org_id, MediaGrant.room_id == room.id))
        await db.execute(delete(RoomMedia).where(RoomMedia.org_id == room.org_id, RoomMedia.room_id == room.id))

        async def end_media() -> None:
            await broadcast.stop(janus, media_room=number, secret=secret, admin_key=server.admin_key)
            await _quietly(janus.videoroom("destroy", room=number, secret=secret))

        after_commit(db, end_media)


async def _mute_feed(janus: JanusControl, room: int, secret: str, feed: int, mute: bool) -> None:
    # Audio is the first stream ("mid" 0) that Tack's clients publish.
    await _quietly(janus.videoroom("moderate", room=room, secret=secret, id=feed, mid="0", mute=mute))


async def _quietly(call) -> None:  # noqa: ANN001
    """A side effect on a media server: logged, never an error for the committed change."""
    try:
        await call
    except (JanusError, JanusUnreachable) as exc:
        log.info("media_side_effect_failed", error=str(exc))


# ---- housekeeping: expiry, health and load, moving rooms off a dead server ----------------------------


async def enforce_publishing(db: AsyncSession, *, limit: int = 500) -> int:
    """Mute, on the media server, whoever publishes without being allowed to (a client that ignored
    `may_publish`): Janus lets anyone in a room publish, so the rule is Tack's. Returns feeds muted."""
    rows = (
        await db.execute(
            select(RoomMedia, Room, MediaServer)
            .join(Room, (Room.org_id == RoomMedia.org_id) & (Room.id == RoomMedia.room_id))
            .join(MediaServer, MediaServer.id == RoomMedia.server_id)
            .where(Room.status == RoomStatus.open, MediaServer.status == ServerStatus.up)
            .limit(limit)
        )
    ).all()
    muted = 0
    for _, room, server in rows:
        janus, secret = control(server), room_secret(room)
        try:
            listed = await janus.videoroom("listparticipants", room=room.media_room, secret=secret)
        except (JanusError, JanusUnreachable):
            continue
        publishing = {int(person["id"]) for person in listed.get("participants", []) if person.get("publisher")}
        if not publishing:
            continue
        seated = (
            await db.execute(
                select(Participant).where(Participant.org_id == room.org_id, Participant.room_id == room.id,
                                          Participant.state == ParticipantState.joined)
            )
        ).scalars().all()
        allowed = {feed_id(p.id) for p in seated if may_publish(room, p)}
        for feed in publishing - allowed:
            for mid in ("0", "1"):
                await _quietly(janus.videoroom("moderate", room=room.media_room, secret=secret, id=feed, mid=mid,
                                               mute=True))
            muted += 1
    return muted


async def revoke_expired(db: AsyncSession, *, limit: int = 500) -> int:
    """Take expired join tokens off their rooms' allow-lists."""
    rows = (
        await db.execute(
            select(MediaGrant, Room)
            .join(Room, (Room.org_id == MediaGrant.org_id) & (Room.id == MediaGrant.room_id))
            .where(MediaGrant.expires_at <= utcnow())
            .limit(limit)
        )
    ).all()
    by_room: dict[tuple[str, str], tuple[Room, list[str]]] = {}
    for grant, room in rows:
        by_room.setdefault((room.org_id, room.id), (room, []))[1].append(grant.token)
        await db.delete(grant)
    for room, revoked in by_room.values():
        server = await _server_of(db, room)
        if server is not None:
            janus, number, secret = control(server), room.media_room, room_secret(room)
            after_commit(db, lambda janus=janus, number=number, secret=secret, revoked=revoked: _quietly(
                janus.videoroom("allowed", room=number, secret=secret, action="remove", allowed=revoked)))
    return len(rows)


DOWN_AFTER_FAILURES = 3


@dataclass
class Probe:
    """What one look at a media server found (taken outside any transaction)."""

    ok: bool
    rooms: int = 0
    participants: int = 0
    error: str | None = None


async def probe(server: MediaServer) -> Probe:
    try:
        janus = control(server)
        await janus.keepalive()
        listed = await janus.videoroom("list", admin_key=server.admin_key)
    except (JanusError, JanusUnreachable) as exc:
        return Probe(ok=False, error=str(exc)[:500])
    ours = listed.get("list", [])
    return Probe(ok=True, rooms=len(ours), participants=sum(int(r.get("num_participants", 0)) for r in ours))


async def record_probes(db: AsyncSession, probes: dict[str, Probe]) -> None:
    """Keep each server's load; after a few failed looks in a row, mark it down and move its rooms to
    another server (their participants are told to reconnect their media)."""
    for server in await servers(db):
        found = probes.get(server.id)
        if found is None:
            continue
        if found.ok:
            server.rooms, server.participants = found.rooms, found.participants
            server.failures, server.last_error, server.last_seen_at = 0, None, utcnow()
            if server.status == ServerStatus.down:
                server.status = ServerStatus.up
                log.info("media_server_back", server=server.name)
            continue
        server.failures += 1
        server.last_error = found.error
        if server.failures >= DOWN_AFTER_FAILURES and server.status != ServerStatus.down:
            server.status = ServerStatus.down
            log.warning("media_server_down", server=server.name, error=found.error)
            await db.flush()
            await move_rooms_off(db, server)
    await db.flush()


async def move_rooms_off(db: AsyncSession, server: MediaServer) -> int:
    """Place every open room of a dead server again; tell their participants to reconnect media."""
    rows = (
        await db.execute(
            select(RoomMedia, Room)
            .join(Room, (Room.org_id == RoomMedia.org_id) & (Room.id == RoomMedia.room_id))
            .where(RoomMedia.server_id == server.id)
        )
    ).all()
    moved = 0
    for media, room in rows:
        if room.status != RoomStatus.open:
            await db.delete(media)
            continue
        media.broadcasting, media.broadcast_owner = False, None  # its forwarder died with the server
        # Old join tokens were on the dead server's allow-list only: clients ask for new ones.
        await db.execute(delete(MediaGrant).where(MediaGrant.org_id == room.org_id, MediaGrant.room_id == room.id))
        try:
            placement = await placed(db, room)
        except MediaUnavailable:
            placement = None
        if placement is not None:
            await record(db, room, placement)
        await emit(db, org_id=room.org_id, channel=rooms.room_channel(room), kind="room.media_moved",
                   data={"room_id": room.id, "available": placement is not None, "generation": media.generation})
        moved += 1
    return moved


def forbid_guest_media_for_removed(p: Participant) -> None:
    if p.state == ParticipantState.removed:
        raise Forbidden("You were removed from this room.", code="removed_from_room")
