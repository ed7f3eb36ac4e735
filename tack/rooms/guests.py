"""Guests: people without an account in a meeting, by link and passcode (docs/rooms.md, "Guests").

A guest is a participant with no member. Their ticket is their only credential: it names the guest
participant, and every guest call carries it. Guests have no stream connection; their page asks for
the room's state every few seconds (`state`), and each such call counts as "seen": a guest who
stops asking gives their seat up after the grace period, like a member whose stream dropped.

Codes and passcodes can be guessed, so wrong ones are counted per client address and throttled.

A guest's browser also keeps their ticket in a cookie of that meeting's guest paths (`remember_cookie`).
A guest the host removed who comes back without the ticket (a new tab, another name) is recognised by
it and stays out; a seated guest who opens the link again gets their seat back. Another browser or a
private window is not recognised: a host who wants nobody new in locks the room.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.config import get_settings
from tack.core.db import utcnow
from tack.core.errors import Forbidden, NotFound, RateLimited
from tack.core.ratelimit import get_counter
from tack.orgs.models import Organization
from tack.rooms import service, tokens
from tack.rooms.models import Participant, ParticipantRole, ParticipantState, Room, RoomKind, RoomStatus
from tack.rooms.schemas import GuestJoinIn, GuestRoomInfo

# A poll refreshes a guest's "last seen" at most this often (each refresh is a write).
SEEN_EVERY = timedelta(seconds=15)


class WrongPasscode(Forbidden):
    code = "wrong_passcode"
    message = "The passcode is not right. Ask the host for it."


def _not_found() -> NotFound:
    return NotFound("There is no meeting at this link. Ask the host for a new one.")


async def _throttled(address: str) -> None:
    settings = get_settings()
    misses, retry_after = await get_counter().get(f"guest:miss:{address}", settings.signin_window_seconds)
    if misses >= settings.invitation_max_misses_per_address:
        raise RateLimited(retry_after, "Too many wrong links or passcodes were tried. Wait a little and try again.",
                          code="guest_throttled")


async def _missed(address: str) -> None:
    await get_counter().incr(f"guest:miss:{address}", get_settings().signin_window_seconds)


async def room_by_code(db: AsyncSession, code: str, *, address: str, guessing: bool = True) -> Room:
    """The meeting of a guest link. `guessing` (looking a code up, joining) is throttled per address;
    a seated guest's polls carry a ticket and are not, so one careless neighbour behind the same
    address does not cut everyone's room off."""
    if guessing:
        await _throttled(address)
    room = (
        await db.execute(select(Room).where(Room.guest_code == code, Room.kind == RoomKind.meeting))
    ).scalar_one_or_none()
    if room is None:
        await _missed(address)
        raise _not_found()
    return room


async def info(db: AsyncSession, code: str, *, address: str) -> GuestRoomInfo:
    room = await room_by_code(db, code, address=address)
    org_name = (await db.execute(select(Organization.name).where(Organization.id == room.org_id))).scalar_one()
    return GuestRoomInfo(title=room.title, org_name=org_name, status=room.status, waiting_room=room.waiting_room)


async def _guest(db: AsyncSession, room: Room, ticket: str) -> Participant:
    participant_id = tokens.read_guest_ticket(ticket, org_id=room.org_id, room_id=room.id)
    p = (
        await db.execute(
            select(Participant).where(Participant.org_id == room.org_id, Participant.room_id == room.id,
                                      Participant.id == participant_id, Participant.guest.is_(True))
        )
    ).scalar_one_or_none()
    if p is None:
        raise tokens.TicketInvalid()
    if p.state == ParticipantState.removed:
        raise service.RoomRemoved()
    return p


def remember_cookie(code: str) -> tuple[str, str]:
    """The name and path of the cookie in which a guest's browser keeps their ticket for one meeting."""
    return f"tack_guest_{code}", f"/api/v1/guest/rooms/{code}"


async def _remembered(db: AsyncSession, room: Room, remembered: str | None) -> Participant | None:
    """The guest of the ticket this browser kept, when they still hold a seat; RoomRemoved when the
    host removed them; None when there is no such ticket or it no longer names a seated guest here."""
    if remembered is None:
        return None
    try:
        p = await _guest(db, room, remembered)
    except (tokens.TicketInvalid, tokens.TicketExpired):
        return None
    return p if p.state == ParticipantState.joined else None


async def join(db: AsyncSession, code: str, body: GuestJoinIn, *, address: str,
               remembered: str | None = None) -> service.Joined:
    """Seat a guest (or give a guest their held seat back, with their ticket or the one their browser
    kept: `remembered`)."""
    room = await room_by_code(db, code, address=address)
    if not hmac.compare_digest((room.guest_passcode or "").encode(), body.passcode.encode()):
        await _missed(address)
        raise WrongPasscode()
    if room.status == RoomStatus.ended:
        raise service.RoomEnded()
    p = await _guest(db, room, body.ticket) if body.ticket is not None else await _remembered(db, room, remembered)
    if p is not None and p.state == ParticipantState.joined:
        p.dropped_at = utcnow()  # seen now
        await db.flush()
        return service.Joined(room, p, rejoined=True)
    if room.status == RoomStatus.scheduled:
        raise service.RoomNotOpen()
    if room.locked:
        raise service.RoomLocked()
    if p is None:
        p = Participant(org_id=room.org_id, room_id=room.id, member_id=None, guest=True,
                        display_name=body.display_name, role=ParticipantRole.attendee, muted=False,
                        present_seconds=0.0, joins=0)
    joined = await service.enter(db, room, p, hosting=False)
    if p.state == ParticipantState.joined:
        p.dropped_at = utcnow()  # guests: the time of their last call (see the module docstring)
        await db.flush()
    return joined


async def seated(db: AsyncSession, code: str, ticket: str, *, address: str) -> tuple[Room, Participant]:
    """The guest's room and participant (read only)."""
    room = await room_by_code(db, code, address=address, guessing=False)
    return room, await _guest(db, room, ticket)


async def seen(db: AsyncSession, code: str, ticket: str, *, address: str) -> tuple[Room, Participant]:
    """The guest's room and seat for a state poll; refreshes their "last seen" now and then."""
    room = await room_by_code(db, code, address=address, guessing=False)
    p = await _guest(db, room, ticket)
    now = utcnow()
    if p.state == ParticipantState.joined and (p.dropped_at is None or now - p.dropped_at > SEEN_EVERY):
        p.dropped_at = now
        await db.flush()
    return room, p


async def set_hand(db: AsyncSession, code: str, ticket: str, raised: bool, *, address: str) -> Participant:
    room = await room_by_code(db, code, address=address, guessing=False)
    p = await _guest(db, room, ticket)
    if room.status == RoomStatus.ended:
        raise service.RoomEnded()
    if p.state != ParticipantState.joined:
        raise service.NotInRoom()
    if raised != (p.hand_raised_at is not None):
        p.hand_raised_at = utcnow() if raised else None
        await db.flush()
        await service.announce_participant(db, room, p)
    return p


async def leave(db: AsyncSession, code: str, ticket: str) -> None:
    """Always succeeds: an unknown code or a bad ticket leaves nothing to do."""
    room = (await db.execute(select(Room).where(Room.guest_code == code))).scalar_one_or_none()
    if room is None:
        return
    try:
        p = await _guest(db, room, ticket)
    except (tokens.TicketInvalid, tokens.TicketExpired, service.RoomRemoved):
        return
    if p.state in (ParticipantState.joined, ParticipantState.waiting):
        p.dropped_at = None  # leaving now, not at the last poll
        await service.depart(db, room, p)
