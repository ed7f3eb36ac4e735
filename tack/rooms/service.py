"""The rules of rooms: who may join, seats, tickets, in-room controls, attendance and timetables.

Writes are actions: they take the request's session, change rows, append the events clients must
see with `emit` in the same transaction, flush, and never commit (the request commits once).

What a join costs, because 8:00 multiplies it by a school: the caller's organization context (one
statement, before admission), then under admission the room, the caller's right to be there, their
participant row, one conditional UPDATE of the room's seat counter (which is also the capacity
check), the participant row and one event. The room's snapshot is not computed per joiner: it is
shared (see `snapshot_of`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tack.chat.models import Conversation, ConversationKind, ConversationMember
from tack.core.admission import Priority
from tack.core.config import get_settings
from tack.core.db import get_database, utcnow
from tack.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from tack.core.event_models import EventStream
from tack.core.events import (
    NewEvent,
    conversation_channel,
    emit,
    emit_many,
    member_channel,
    read_events,
    register_channel_provider,
)
from tack.core.prepared import Prepared
from tack.core.tenancy import SCOPE, scoped, scoped_bound, scoped_update
from tack.orgs.access import OrgContext
from tack.orgs.models import (
    Department,
    DepartmentKind,
    MemberDepartment,
    MemberRole,
    Membership,
    MemberStatus,
    Role,
)
from tack.rooms import tokens
from tack.rooms.models import (
    HOST_ROLES,
    Lesson,
    Participant,
    ParticipantRole,
    ParticipantState,
    Room,
    RoomInvitee,
    RoomKind,
    RoomStatus,
)
from tack.rooms.schemas import (
    SNAPSHOT_PARTICIPANTS,
    Attendance,
    AttendanceRow,
    ClassRoomIn,
    LessonIn,
    LessonOut,
    MediaOut,
    MediaVerified,
    MeetingIn,
    ParticipantOut,
    ParticipantUpdate,
    RoomOut,
    RoomUpdate,
    Snapshot,
    TicketOut,
    Timetable,
)

# A first join this long after the start counts as late.
LATE_AFTER = timedelta(minutes=5)
# How long a shared snapshot is handed out before it is computed again.
SNAPSHOT_TTL_S = 3.0
SEATED_STATES = (ParticipantState.joined,)


class RoomRemoved(Forbidden):
    code = "room_removed"
    message = "A host removed you from this room."


class RoomLocked(Forbidden):
    code = "room_locked"
    message = "The host has locked this room: nobody new can come in."


class RoomEnded(Conflict):
    code = "room_ended"
    message = "This room has ended."


class RoomNotOpen(Conflict):
    code = "room_not_open"
    message = "This room has not started yet. Try again when the host starts it."


class RoomFull(Conflict):
    code = "room_full"
    message = "Every seat in this room is taken."


class HostRequired(Forbidden):
    code = "host_required"
    message = "Only the room's hosts can do this."


class NotInRoom(Forbidden):
    code = "not_in_room"
    message = "You are not in this room. Join it first."


# ---- other domains following rooms -------------------------------------------------------------
# Media follows rooms from here: a removal revokes and kicks, a mute mutes on the media server, an end
# destroys the media room. Listeners run inside the writing transaction; what they do outside the
# database they defer with after_commit. Kinds: "left", "removed", "muted", "unmuted", "role",
# "muted_all", "ended" (`p` is None for the last two).
RoomListener = Callable[[AsyncSession, str, Room, "Participant | None"], Awaitable[None]]
_listeners: list[RoomListener] = []


def media_available() -> bool:
    """Whether a media server answered lately (the media domain replaces this; see tack/app.py)."""
    return False


def set_media_availability(check: Callable[[], bool]) -> None:
    global media_available
    media_available = check


def on_room_change(listener: RoomListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


async def _tell(db: AsyncSession, kind: str, room: Room, p: Participant | None = None) -> None:
    for listener in _listeners:
        await listener(db, kind, room, p)


def _room_not_found() -> NotFound:
    return NotFound("There is no such room, or you may not join it.")


def room_channel(room: Room) -> str:
    """Where a room's events go: its group chat's channel (the whole class sees a class start), or
    its own (host and invitees)."""
    if room.conversation_id:
        return conversation_channel(room.conversation_id)
    return f"room:{room.id}"


# Every stream connection runs this (built once: see tack/core/tenancy.py).
_INVITED_ROOMS = scoped_bound(Room, Room.id).where(
    Room.conversation_id.is_(None),
    Room.status != RoomStatus.ended,
    or_(Room.host_member_id == bindparam("member_id"),
        Room.id.in_(scoped_bound(RoomInvitee, RoomInvitee.room_id).where(RoomInvitee.member_id == bindparam("member_id")))),
)


async def invited_room_channels(db: AsyncSession, org_id: str, member_id: str) -> set[str]:
    """Channel provider for the stream: the meetings outside group chats this member hosts or is
    invited to, while they have not ended."""
    rows = await db.execute(_INVITED_ROOMS, {SCOPE: org_id, "member_id": member_id})
    return {f"room:{room_id}" for room_id in rows.scalars()}


register_channel_provider(invited_room_channels)


# ---- shaping -------------------------------------------------------------------------------------


def room_out(room: Room, my_role: str | None = None) -> RoomOut:
    return RoomOut(
        id=room.id, org_id=room.org_id, kind=room.kind, title=room.title, conversation_id=room.conversation_id,
        lesson_id=room.lesson_id, host_member_id=room.host_member_id, status=room.status,
        scheduled_start=room.scheduled_start, scheduled_end=room.scheduled_end, started_at=room.started_at,
        ended_at=room.ended_at, locked=room.locked, waiting_room=room.waiting_room, capacity=room.capacity,
        seated=room.seated, my_role=my_role,
        guest_code=room.guest_code if my_role in HOST_ROLES else None,
        guest_passcode=room.guest_passcode if my_role in HOST_ROLES else None,
    )


def participant_out(p: Participant) -> ParticipantOut:
    return ParticipantOut(
        id=p.id, room_id=p.room_id, member_id=p.member_id, guest=bool(p.guest), display_name=p.display_name,
        role=p.role,
        state=p.state, hand_raised=p.hand_raised_at is not None, hand_raised_at=p.hand_raised_at, muted=p.muted,
        joined_at=p.first_joined_at, left_at=p.left_at,
    )


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


# ---- who may join, and as what -----------------------------------------------------------------


_ROOM = scoped_bound(Room).where(Room.id == bindparam("room_id"))


async def _load_room(db: AsyncSession, org_id: str, room_id: str) -> Room:
    room = (await db.execute(_ROOM, {SCOPE: org_id, "room_id": room_id})).scalar_one_or_none()
    if room is None:
        raise _room_not_found()
    _remember_host(room)
    return room


async def _teaches_class(db: AsyncSession, ctx: OrgContext, conversation: Conversation) -> bool:
    if not ctx.has_role(Role.teacher) or conversation.department_id is None:
        return False
    return bool(
        (
            await db.execute(
                select(
                    scoped(MemberDepartment, ctx.org_id, MemberDepartment.member_id)
                    .where(
                        MemberDepartment.member_id == ctx.member.id,
                        MemberDepartment.department_id == conversation.department_id,
                    )
                    .exists()
                )
            )
        ).scalar_one()
    )


def _role_from(ctx: OrgContext, room: Room, *, in_group: bool, invited: bool) -> str:
    if room.host_member_id == ctx.member.id:
        return ParticipantRole.host
    if room.conversation_id and in_group:
        if room.kind == RoomKind.klass and ctx.has_role(Role.teacher):
            # Every teacher of the class in its group runs the class with the others.
            return ParticipantRole.host
        return ParticipantRole.attendee
    if not room.conversation_id and invited:
        return ParticipantRole.attendee
    if ctx.is_admin:
        return ParticipantRole.attendee
    raise _room_not_found()


async def _room_role_and_seat(db: AsyncSession, ctx: OrgContext, room_id: str) -> tuple[Room, str, Participant | None]:
    """The room, the caller's role in it (404 when they may not join) and their participant row, in
    one statement: a join runs it, and 8:00 runs thousands of joins."""
    row = (
        await db.execute(_ROOM_ROLE_AND_SEAT, {SCOPE: ctx.org_id, "room_id": room_id, "member_id": ctx.member.id})
    ).first()
    if row is None:
        raise _room_not_found()
    room, participant, is_in_group, is_invited = row
    _remember_host(room)
    return room, _role_from(ctx, room, in_group=bool(is_in_group), invited=bool(is_invited)), participant


# Whether the member (`:member_id`) is in the room's group chat, and whether they are invited
# (both correlated with the room of the statement they are in).
_IN_GROUP = (
    select(ConversationMember.member_id)
    .where(ConversationMember.org_id == bindparam(SCOPE), ConversationMember.conversation_id == Room.conversation_id,
           ConversationMember.member_id == bindparam("member_id"))
    .exists()
)
_INVITED = (
    select(RoomInvitee.member_id)
    .where(RoomInvitee.org_id == bindparam(SCOPE), RoomInvitee.room_id == Room.id,
           RoomInvitee.member_id == bindparam("member_id"))
    .exists()
)
_ROOM_ROLE_AND_SEAT = (
    select(Room, Participant, _IN_GROUP, _INVITED)
    .outerjoin(Participant, (Participant.org_id == Room.org_id) & (Participant.room_id == Room.id)
               & (Participant.member_id == bindparam("member_id")))
    .where(Room.org_id == bindparam(SCOPE), Room.id == bindparam("room_id"))
)
_ROLE_IN_ROOM = select(_IN_GROUP, _INVITED).where(Room.org_id == bindparam(SCOPE), Room.id == bindparam("room_id"))


async def role_in(db: AsyncSession, ctx: OrgContext, room: Room) -> str:
    """The role the caller has or would have in the room; 404 when they may not join it."""
    if room.host_member_id == ctx.member.id:
        return ParticipantRole.host
    in_group, invited = (
        await db.execute(_ROLE_IN_ROOM, {SCOPE: ctx.org_id, "room_id": room.id, "member_id": ctx.member.id})
    ).one()
    return _role_from(ctx, room, in_group=bool(in_group), invited=bool(invited))


async def _participant(db: AsyncSession, org_id: str, room_id: str, member_id: str) -> Participant | None:
    return (
        await db.execute(
            scoped(Participant, org_id).where(Participant.room_id == room_id, Participant.member_id == member_id)
        )
    ).scalar_one_or_none()


async def _my_host_seat(db: AsyncSession, ctx: OrgContext, room: Room) -> str:
    """The caller's role when they run the room (host or cohost); else 403."""
    role = await role_in(db, ctx, room)
    mine = await _participant(db, ctx.org_id, room.id, ctx.member.id)
    if mine is not None and mine.state == ParticipantState.joined:
        role = mine.role if mine.role in HOST_ROLES else role
    if role not in HOST_ROLES:
        raise HostRequired()
    return role


# Who hosts which room, as far as this process has seen: the join's priority is chosen before
# admission, without touching the database. Bounded; a miss only costs the host their head start.
_HOSTS: OrderedDict[str, str] = OrderedDict()
_HOSTS_MAX = 20_000


def _remember_host(room: Room) -> None:
    _HOSTS[room.id] = room.host_member_id
    _HOSTS.move_to_end(room.id)
    while len(_HOSTS) > _HOSTS_MAX:
        _HOSTS.popitem(last=False)


def join_priority(ctx: OrgContext, room_id: str, ticket: str | None) -> Priority:
    """Where a join goes in the line: a valid ticket is a held seat (rejoin); then the people who run
    rooms; then everyone else. A bad ticket is refused here, before it waits for anything."""
    if ticket is not None:
        tokens.read_ticket(ticket, org_id=ctx.org_id, room_id=room_id, account_id=ctx.member.account_id)
        return Priority.rejoin
    if _HOSTS.get(room_id) == ctx.member.id or ctx.is_admin or ctx.has_role(Role.teacher):
        return Priority.host
    return Priority.attendee


# ---- rooms -----------------------------------------------------------------------------------------


def _new_media_room() -> int:
    # Janus numbers rooms with integers; 52 bits stay exact in JavaScript.
    return secrets.randbits(52) or 1


async def _open_class_room(db: AsyncSession, org_id: str, conversation_id: str) -> Room | None:
    return (
        await db.execute(
            scoped(Room, org_id)
            .where(Room.conversation_id == conversation_id, Room.kind == RoomKind.klass,
                   Room.status == RoomStatus.open)
            .order_by(Room.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _conversation(db: AsyncSession, ctx: OrgContext, conversation_id: str) -> Conversation:
    """A group chat the caller is in (404 otherwise)."""
    row = (
        await db.execute(
            select(Conversation)
            .join(
                ConversationMember,
                (ConversationMember.org_id == Conversation.org_id)
                & (ConversationMember.conversation_id == Conversation.id),
            )
            .where(
                Conversation.org_id == ctx.org_id, Conversation.id == conversation_id,
                ConversationMember.member_id == ctx.member.id,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("There is no such conversation, or you are not in it.", code="conversation_not_found")
    return row


async def start_class(db: AsyncSession, ctx: OrgContext, body: ClassRoomIn) -> tuple[Room, bool]:
    """Open the class's room (a teacher of the class or an administrator); (room, created)."""
    conversation = await _conversation(db, ctx, body.conversation_id)
    if conversation.kind != ConversationKind.klass:
        raise Unprocessable("Classes are started in a class group.", code="not_a_class_group")
    if not (ctx.is_admin or await _teaches_class(db, ctx, conversation)):
        raise Forbidden("Only the class's teachers and administrators can start a class.", code="teacher_required")
    existing = await _open_class_room(db, ctx.org_id, conversation.id)
    if existing is not None:
        return existing, False
    lesson = None
    if body.lesson_id is not None:
        lesson = (
            await db.execute(scoped(Lesson, ctx.org_id).where(Lesson.id == body.lesson_id,
                                                              Lesson.conversation_id == conversation.id))
        ).scalar_one_or_none()
        if lesson is None:
            raise NotFound("This class has no such lesson.", code="lesson_not_found")
    now = utcnow()
    label = await _class_label(db, ctx.org_id, conversation)
    title = body.title or (f"{label} · {lesson.subject}" if lesson else label)
    room = Room(
        org_id=ctx.org_id, kind=RoomKind.klass, title=title[:100], conversation_id=conversation.id,
        lesson_id=lesson.id if lesson else None, lesson_date=_today().isoformat() if lesson else None,
        host_member_id=ctx.member.id, status=RoomStatus.open, started_at=now, locked=False, waiting_room=False,
        capacity=get_settings().room_default_capacity, seated=0, media_room=_new_media_room(),
        created_by=ctx.member.id, created_at=now,
    )
    if lesson is not None:
        room.scheduled_start, room.scheduled_end = _lesson_times(lesson, _today())
    db.add(room)
    await db.flush()
    _remember_host(room)
    await emit(db, org_id=ctx.org_id, channel=room_channel(room), kind="room.opened",
               data={"room": _dump(room_out(room))})
    return room, True


async def _class_label(db: AsyncSession, org_id: str, conversation: Conversation) -> str:
    """What a class is called in a room's title: its grade and class ("一年级一班"), or the group's name."""
    name = conversation.name or "Class"
    if conversation.department_id is None:
        return name
    row = (
        await db.execute(
            select(Department.name, Department.parent_id).where(
                Department.org_id == org_id, Department.id == conversation.department_id)
        )
    ).first()
    if row is None or row.parent_id is None:
        return name
    grade = (
        await db.execute(select(Department.name, Department.kind).where(
            Department.org_id == org_id, Department.id == row.parent_id))
    ).first()
    if grade is None or grade.kind != DepartmentKind.grade or name.startswith(grade.name):
        return name
    return f"{grade.name}{name}"


async def create_meeting(db: AsyncSession, ctx: OrgContext, body: MeetingIn) -> Room:
    now = utcnow()
    if body.conversation_id is not None:
        conversation = await _conversation(db, ctx, body.conversation_id)
        if conversation.kind == ConversationKind.direct and body.invitee_ids:
            raise Unprocessable("A meeting in a one-to-one chat has no other invitees.", code="invitees_not_allowed")
    invitees = sorted(set(body.invitee_ids) - {ctx.member.id})
    if invitees:
        found = set(
            (
                await db.execute(
                    scoped(Membership, ctx.org_id, Membership.id).where(
                        Membership.id.in_(invitees), Membership.status == MemberStatus.active
                    )
                )
            ).scalars()
        )
        missing = [m for m in invitees if m not in found]
        if missing:
            raise NotFound("Some invitees are not members of this organization.", code="member_not_found",
                           details={"member_ids": missing})
    scheduled = body.scheduled_start is not None and body.scheduled_start > now
    guest_code = secrets.token_urlsafe(9) if body.allow_guests else None  # 12 characters
    guest_passcode = f"{secrets.randbelow(10**6):06d}" if body.allow_guests else None
    room = Room(guest_code=guest_code, guest_passcode=guest_passcode,
        org_id=ctx.org_id, kind=RoomKind.meeting, title=body.title, conversation_id=body.conversation_id,
        host_member_id=ctx.member.id, status=RoomStatus.scheduled if scheduled else RoomStatus.open,
        scheduled_start=body.scheduled_start, scheduled_end=body.scheduled_end,
        started_at=None if scheduled else now, locked=False, waiting_room=body.waiting_room,
        capacity=body.capacity or get_settings().room_default_capacity, seated=0, media_room=_new_media_room(),
        created_by=ctx.member.id, created_at=now,
    )
    db.add(room)
    await db.flush()
    _remember_host(room)
    if invitees:
        db.add_all(RoomInvitee(org_id=ctx.org_id, room_id=room.id, member_id=m) for m in invitees)
        await db.flush()
    events: list[NewEvent] = []
    if room.conversation_id is None:
        # The host's and invitees' open connections start following the room's channel.
        for member_id in [ctx.member.id, *invitees]:
            events.append(NewEvent(member_channel(member_id), "room.invited",
                                   {"room_id": room.id, "join_channel": room_channel(room)}))
    events.append(NewEvent(room_channel(room), "room.opened" if not scheduled else "room.scheduled",
                           {"room": _dump(room_out(room))}))
    await emit_many(db, org_id=ctx.org_id, events=events)
    return room


async def get_room(db: AsyncSession, ctx: OrgContext, room_id: str) -> RoomOut:
    room = await _load_room(db, ctx.org_id, room_id)
    return room_out(room, await role_in(db, ctx, room))


async def list_rooms(
    db: AsyncSession, ctx: OrgContext, *, conversation_id: str | None, status: str | None, limit: int
) -> list[RoomOut]:
    me = ctx.member.id
    query = scoped(Room, ctx.org_id)
    if conversation_id is not None:
        await _conversation(db, ctx, conversation_id)
        query = query.where(Room.conversation_id == conversation_id)
    else:
        groups = scoped(ConversationMember, ctx.org_id, ConversationMember.conversation_id).where(
            ConversationMember.member_id == me
        )
        invited = scoped(RoomInvitee, ctx.org_id, RoomInvitee.room_id).where(RoomInvitee.member_id == me)
        query = query.where(or_(Room.host_member_id == me, Room.conversation_id.in_(groups), Room.id.in_(invited)))
    if status is not None:
        query = query.where(Room.status == status)
    else:
        query = query.where(Room.status != RoomStatus.ended)
    order = Room.created_at.desc() if status == RoomStatus.ended else func.coalesce(
        Room.scheduled_start, Room.started_at, Room.created_at
    )
    rooms = (await db.execute(query.order_by(order).limit(limit))).scalars().all()
    out = []
    for room in rooms:
        _remember_host(room)
        out.append(room_out(room, await role_in(db, ctx, room)))
    return out


async def start_room(db: AsyncSession, ctx: OrgContext, room_id: str) -> RoomOut:
    room = await _load_room(db, ctx.org_id, room_id)
    role = await _my_host_seat(db, ctx, room)
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    if room.status == RoomStatus.scheduled:
        await _open(db, room)
    return room_out(room, role)


async def _open(db: AsyncSession, room: Room) -> None:
    room.status = RoomStatus.open
    room.started_at = utcnow()
    await db.flush()
    forget_snapshot(room.id)
    await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.opened",
               data={"room": _dump(room_out(room))})


async def update_room(db: AsyncSession, ctx: OrgContext, room_id: str, body: RoomUpdate) -> RoomOut:
    room = await _load_room(db, ctx.org_id, room_id)
    role = await _my_host_seat(db, ctx, room)
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    changed = False
    if body.locked is not None and body.locked != room.locked:
        room.locked, changed = body.locked, True
    if body.title is not None and body.title != room.title:
        room.title, changed = body.title, True
    if changed:
        await db.flush()
        forget_snapshot(room.id)
        await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.updated",
                   data={"room": _dump(room_out(room))})
    return room_out(room, role)


async def end_room(db: AsyncSession, ctx: OrgContext, room_id: str) -> RoomOut:
    room = await _load_room(db, ctx.org_id, room_id)
    role = await _my_host_seat(db, ctx, room)
    if room.status != RoomStatus.ended:
        await close_room(db, room)
    return room_out(room, role)


async def close_room(db: AsyncSession, room: Room) -> None:
    """End a room for everyone: every visit closes now (or at its drop), and the room says ended."""
    now = utcnow()
    present = (
        await db.execute(
            scoped(Participant, room.org_id).where(
                Participant.room_id == room.id,
                Participant.state.in_([ParticipantState.joined, ParticipantState.waiting]),
            )
        )
    ).scalars().all()
    for p in present:
        close_visit(p, p.dropped_at or now)
    room.status = RoomStatus.ended
    room.ended_at = now
    room.seated = 0
    await db.flush()
    forget_snapshot(room.id)
    events = [NewEvent(room_channel(room), "room.ended", {"room": _dump(room_out(room))})]
    if room.conversation_id is None:
        invitees = (
            await db.execute(scoped(RoomInvitee, room.org_id, RoomInvitee.member_id).where(
                RoomInvitee.room_id == room.id))
        ).scalars().all()
        # Delivered after room.ended, so the invitees' connections hear the end before they stop following.
        events += [
            NewEvent(member_channel(m), "room.closed", {"room_id": room.id, "leave_channel": room_channel(room)})
            for m in sorted({room.host_member_id, *invitees})
        ]
    await emit_many(db, org_id=room.org_id, events=events)
    await _tell(db, "ended", room)


def close_visit(p: Participant, at: datetime) -> None:
    """End the participant's current visit at `at`, adding its time to what they were present."""
    if p.state == ParticipantState.joined and p.visit_started_at is not None:
        p.present_seconds = (p.present_seconds or 0.0) + max(0.0, (at - p.visit_started_at).total_seconds())
        p.left_at = at
    p.state = ParticipantState.left
    p.visit_started_at = None
    p.dropped_at = None
    p.hand_raised_at = None


# ---- joining and leaving ---------------------------------------------------------------------------


@dataclass
class Joined:
    room: Room
    participant: Participant
    rejoined: bool


async def join(db: AsyncSession, ctx: OrgContext, room_id: str, *, ticket: str | None) -> Joined:
    """Give the caller a seat (or their held one back). The caller is admitted already and the write
    transaction is open."""
    room, role, p = await _room_role_and_seat(db, ctx, room_id)
    me = ctx.member.id
    if p is not None and p.state == ParticipantState.removed:
        raise RoomRemoved()
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    if ticket is not None and (p is None or tokens.read_ticket(
        ticket, org_id=ctx.org_id, room_id=room.id, account_id=ctx.member.account_id
    ).participant_id != p.id):
        raise tokens.TicketInvalid()
    if p is not None and p.state == ParticipantState.joined:
        # A held seat: whatever dropped (the network, the app, the device), the person is back.
        if p.dropped_at is not None:
            p.dropped_at = None
            await db.flush()
        return Joined(room, p, rejoined=True)
    hosting = role in HOST_ROLES or (p is not None and p.role in HOST_ROLES)
    if room.status == RoomStatus.scheduled:
        if not hosting:
            raise RoomNotOpen()
        await _open(db, room)
    if room.locked and not hosting:
        raise RoomLocked()
    if p is None:
        p = Participant(org_id=ctx.org_id, room_id=room.id, member_id=me, display_name=ctx.member.display_name,
                        role=role, muted=False, present_seconds=0.0, joins=0)
    return await enter(db, room, p, hosting=hosting)


async def enter(db: AsyncSession, room: Room, p: Participant, *, hosting: bool) -> Joined:
    """The end every join shares, a member's or a guest's: into the waiting room, or a seat (the
    capacity check) and the joined event. `p` may be new (not yet added)."""
    if room.waiting_room and not hosting:
        if p.state == ParticipantState.waiting:
            return Joined(room, p, rejoined=False)  # still waiting for a host
        p.state = ParticipantState.waiting
        db.add(p)
        await db.flush()
        await announce_participant(db, room, p)
        return Joined(room, p, rejoined=False)
    await take_seat(db, room, hosting=hosting)
    seat(p, utcnow())
    db.add(p)
    await db.flush()
    await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.participant_joined",
               data={"room_id": room.id, "participant": _dump(participant_out(p)), "seated": room.seated})
    return Joined(room, p, rejoined=False)


async def depart(db: AsyncSession, room: Room, p: Participant, *, removed: bool = False) -> None:
    """The end every leaving shares (left, seat given up past its grace, removed by a host): the visit
    closes (at the drop, if they had dropped), the seat is freed, and the room hears it."""
    was_seated = p.state == ParticipantState.joined
    close_visit(p, p.dropped_at or utcnow())
    if removed:
        p.state = ParticipantState.removed
    await db.flush()
    if was_seated:
        await give_up_seat(db, room)
    forget_snapshot(room.id)
    await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.participant_left",
               data={"room_id": room.id, "participant": _dump(participant_out(p)), "seated": room.seated})
    await _tell(db, "removed" if removed else "left", room, p)


def seat(p: Participant, now: datetime) -> None:
    p.state = ParticipantState.joined
    p.first_joined_at = p.first_joined_at or now
    p.visit_started_at = now
    p.dropped_at = None
    p.left_at = None
    p.joins = (p.joins or 0) + 1


# The seat counter's two statements, run on the SQLite driver itself (tack/core/prepared.py): every
# join and every leave runs one. Core statements on the table, as prepared ones must be; scoped by
# hand to the organization (`SCOPE`), as scoped_bound does for ORM statements.
_rooms = Room.__table__
_SEAT_TAKEN = (
    update(_rooms)
    .where(_rooms.c.org_id == bindparam(SCOPE), _rooms.c.id == bindparam("room_id"))
    .values(seated=_rooms.c.seated + 1)
    .returning(_rooms.c.seated)
)
_SEAT_TAKEN_IF_FREE = Prepared(_SEAT_TAKEN.where(_rooms.c.seated < _rooms.c.capacity))
_SEAT_TAKEN_BY_HOST = Prepared(_SEAT_TAKEN)
_SEAT_GIVEN_UP = Prepared(
    update(_rooms)
    .where(_rooms.c.org_id == bindparam(SCOPE), _rooms.c.id == bindparam("room_id"), _rooms.c.seated > 0)
    .values(seated=_rooms.c.seated - 1)
    .returning(_rooms.c.seated)
)


async def take_seat(db: AsyncSession, room: Room, *, hosting: bool) -> None:
    """One seat more, if there is one: the conditional UPDATE is the capacity check (hosts always
    get in). It also orders the room's joins on PostgreSQL (the row lock)."""
    statement = _SEAT_TAKEN_BY_HOST if hosting else _SEAT_TAKEN_IF_FREE
    row = await statement.first(db, {SCOPE: room.org_id, "room_id": room.id})
    if row is None:
        raise RoomFull(details={"capacity": room.capacity})
    set_committed_value(room, "seated", row[0])


async def give_up_seat(db: AsyncSession, room: Room) -> None:
    row = await _SEAT_GIVEN_UP.first(db, {SCOPE: room.org_id, "room_id": room.id})
    set_committed_value(room, "seated", row[0] if row is not None else 0)


def ticket_for(ctx: OrgContext | None, joined: Joined, snapshot: Snapshot) -> TicketOut:
    """The join's answer; `ctx` None for a guest, whose ticket names the participant instead of an account."""
    room, p = joined.room, joined.participant
    holder = ctx.member.account_id if ctx is not None else tokens.guest_subject(p.id)
    ticket, expires = tokens.issue_ticket(org_id=room.org_id, room_id=room.id, participant_id=p.id,
                                          account_id=holder)
    token = token_expires = None
    if p.state == ParticipantState.joined:
        token, token_expires = tokens.issue_media_token(media_room=room.media_room, participant_id=p.id)
    media = MediaOut(available=media_available(), server=None, room=room.media_room, token=token,
                     expires_at=token_expires)
    return TicketOut(ticket=ticket, expires_at=expires, rejoined=joined.rejoined, participant=participant_out(p),
                     snapshot=snapshot, media=media)


_MY_SEAT_AND_ROOM = (
    select(Participant, Room)
    .join(Room, (Room.org_id == Participant.org_id) & (Room.id == Participant.room_id))
    .where(Participant.org_id == bindparam(SCOPE), Participant.room_id == bindparam("room_id"),
           Participant.member_id == bindparam("member_id"))
)


async def leave(db: AsyncSession, ctx: OrgContext, room_id: str) -> None:
    """Leave the room. Always succeeds: also when not in it, or when the room is gone."""
    row = (await db.execute(_MY_SEAT_AND_ROOM, {SCOPE: ctx.org_id, "room_id": room_id, "member_id": ctx.member.id})).first()
    if row is None:
        return
    p, room = row
    if p.state in (ParticipantState.joined, ParticipantState.waiting):
        p.dropped_at = None  # leaving now, whatever dropped before
        await depart(db, room, p)


async def give_up_dropped_seats(db: AsyncSession, *, older_than: datetime, limit: int = 500) -> int:
    """Seats whose holders dropped before `older_than` and did not come back: the visit ends at the
    drop. Returns how many were given up."""
    dropped = (
        await db.execute(
            select(Participant)
            .where(Participant.dropped_at < older_than, Participant.state == ParticipantState.joined)
            .order_by(Participant.dropped_at)
            .limit(limit)
        )
    ).scalars().all()
    if not dropped:
        return 0
    by_room: dict[tuple[str, str], list[Participant]] = {}
    for p in dropped:
        by_room.setdefault((p.org_id, p.room_id), []).append(p)
    for (org_id, room_id), people in by_room.items():
        room = (await db.execute(scoped(Room, org_id).where(Room.id == room_id))).scalar_one()
        for p in people:
            close_visit(p, p.dropped_at or utcnow())
        await db.flush()
        seated = (
            await db.execute(
                scoped_update(Room, org_id).where(Room.id == room_id)
                .values(seated=func.max(Room.seated - len(people), 0) if db.get_bind().dialect.name == "sqlite"
                        else func.greatest(Room.seated - len(people), 0))
                .returning(Room.seated)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one()
        room.seated = seated
        forget_snapshot(room_id)
        await emit_many(db, org_id=org_id, events=[
            NewEvent(room_channel(room), "room.participant_left",
                     {"room_id": room_id, "participant": _dump(participant_out(p)), "seated": seated})
            for p in people
        ])
    return len(dropped)


async def mark_presence(db: AsyncSession, org_id: str, *, gone: Sequence[str], back: Sequence[str]) -> None:
    """Record that these members' last stream connection closed (`gone`) or that one opened again
    (`back`): a held seat starts or stops counting down its grace period."""
    now = utcnow()
    for start in range(0, len(gone), 500):
        await db.execute(
            scoped_update(Participant, org_id)
            .where(Participant.member_id.in_(gone[start:start + 500]), Participant.state == ParticipantState.joined,
                   Participant.dropped_at.is_(None))
            .values(dropped_at=now)
            .execution_options(synchronize_session=False)
        )
    for start in range(0, len(back), 500):
        await db.execute(
            scoped_update(Participant, org_id)
            .where(Participant.member_id.in_(back[start:start + 500]), Participant.state == ParticipantState.joined,
                   Participant.dropped_at.is_not(None))
            .values(dropped_at=None)
            .execution_options(synchronize_session=False)
        )


# ---- in the room ----------------------------------------------------------------------------------


async def load_room(db: AsyncSession, org_id: str, room_id: str) -> Room:
    return await _load_room(db, org_id, room_id)


async def my_participant(db: AsyncSession, ctx: OrgContext, room: Room) -> Participant:
    """The caller's participant in the room, whatever its state (NotInRoom when they never joined)."""
    p = await _participant(db, ctx.org_id, room.id, ctx.member.id)
    if p is None:
        raise NotInRoom()
    return p


async def _joined_participant(db: AsyncSession, ctx: OrgContext, room: Room) -> Participant:
    p = await _participant(db, ctx.org_id, room.id, ctx.member.id)
    if p is None or p.state != ParticipantState.joined:
        raise NotInRoom()
    return p


async def announce_participant(db: AsyncSession, room: Room, p: Participant, *, seated: int | None = None) -> None:
    data: dict[str, Any] = {"room_id": room.id, "participant": _dump(participant_out(p))}
    if seated is not None:
        data["seated"] = seated
    await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.participant_updated", data=data)


async def set_hand(db: AsyncSession, ctx: OrgContext, room_id: str, raised: bool) -> Participant:
    room = await _load_room(db, ctx.org_id, room_id)
    await role_in(db, ctx, room)
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    p = await _joined_participant(db, ctx, room)
    if raised == (p.hand_raised_at is not None):
        return p
    p.hand_raised_at = utcnow() if raised else None
    await db.flush()
    await announce_participant(db, room, p)
    return p


async def _room_participant(db: AsyncSession, room: Room, participant_id: str) -> Participant:
    p = (
        await db.execute(scoped(Participant, room.org_id).where(Participant.room_id == room.id,
                                                                Participant.id == participant_id))
    ).scalar_one_or_none()
    if p is None:
        raise NotFound("There is no such participant in this room.", code="participant_not_found")
    return p


async def update_participant(
    db: AsyncSession, ctx: OrgContext, room_id: str, participant_id: str, body: ParticipantUpdate
) -> Participant:
    room = await _load_room(db, ctx.org_id, room_id)
    await _my_host_seat(db, ctx, room)
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    p = await _room_participant(db, room, participant_id)
    if p.state == ParticipantState.removed:
        raise Conflict("This person was removed from the room.", code="participant_removed")
    changed = False
    told: list[str] = []
    if body.admit and p.state == ParticipantState.waiting:
        await take_seat(db, room, hosting=False)
        seat(p, utcnow())
        changed = True
    if body.muted is not None and body.muted != p.muted:
        if p.role == ParticipantRole.host and body.muted:
            raise Forbidden("The host cannot be muted by others.", code="host_cannot_be_muted")
        p.muted, changed = body.muted, True
        told.append("muted" if body.muted else "unmuted")
    if body.role is not None and body.role != p.role:
        if p.role == ParticipantRole.host:
            raise Forbidden("The host's role stays.", code="host_role_fixed")
        p.role, changed = body.role, True
        told.append("role")
    if body.hand_raised is False and p.hand_raised_at is not None:
        p.hand_raised_at, changed = None, True
    if changed:
        await db.flush()
        forget_snapshot(room.id)
        await announce_participant(db, room, p, seated=room.seated if body.admit else None)
    for kind in told:
        await _tell(db, kind, room, p)
    return p


async def mute_all(db: AsyncSession, ctx: OrgContext, room_id: str) -> int:
    room = await _load_room(db, ctx.org_id, room_id)
    await _my_host_seat(db, ctx, room)
    if room.status == RoomStatus.ended:
        raise RoomEnded()
    result = await db.execute(
        scoped_update(Participant, ctx.org_id)
        .where(Participant.room_id == room.id, Participant.state == ParticipantState.joined,
               Participant.role.not_in(list(HOST_ROLES)), Participant.muted.is_(False))
        .values(muted=True)
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    forget_snapshot(room.id)
    await emit(db, org_id=ctx.org_id, channel=room_channel(room), kind="room.muted_all",
               data={"room_id": room.id, "muted": count})
    await _tell(db, "muted_all", room)
    return count


async def remove_participant(db: AsyncSession, ctx: OrgContext, room_id: str, participant_id: str) -> None:
    room = await _load_room(db, ctx.org_id, room_id)
    await _my_host_seat(db, ctx, room)
    p = await _room_participant(db, room, participant_id)
    if p.role == ParticipantRole.host:
        raise Forbidden("The host cannot be removed from their own room.", code="host_cannot_be_removed")
    if p.state != ParticipantState.removed:
        await depart(db, room, p, removed=True)


async def list_participants(db: AsyncSession, ctx: OrgContext, room_id: str) -> list[ParticipantOut]:
    room = await _load_room(db, ctx.org_id, room_id)
    await role_in(db, ctx, room)
    rows = (
        await db.execute(
            scoped(Participant, ctx.org_id).where(Participant.room_id == room.id)
            .order_by(Participant.first_joined_at, Participant.id)
        )
    ).scalars().all()
    return [participant_out(p) for p in rows]


async def verify_media_token(db: AsyncSession, ctx: OrgContext, room_id: str, token: str) -> MediaVerified:
    room = await _load_room(db, ctx.org_id, room_id)
    await role_in(db, ctx, room)
    participant_id = tokens.read_media_token(token, media_room=room.media_room)
    p = await _participant(db, ctx.org_id, room.id, ctx.member.id)
    if p is None or p.id != participant_id:
        raise tokens.MediaTokenInvalid()
    if p.state != ParticipantState.joined or room.status != RoomStatus.open:
        raise tokens.MediaTokenInvalid("You no longer hold a seat in this room.")
    may_publish = p.role in (*HOST_ROLES, ParticipantRole.presenter) or (
        room.kind == RoomKind.meeting and not p.muted
    )
    return MediaVerified(participant_id=p.id, role=p.role, may_publish=may_publish)


# ---- the shared snapshot ----------------------------------------------------------------------------


@dataclass
class _Cached:
    expires: float
    value: Snapshot


_snapshots: dict[str, _Cached] = {}
_computing: dict[str, asyncio.Future[Snapshot]] = {}


def forget_snapshot(room_id: str) -> None:
    _snapshots.pop(room_id, None)


async def snapshot_of(org_id: str, room_id: str) -> Snapshot:
    """The room's snapshot: computed at most once every SNAPSHOT_TTL_S per room however many join (the
    first asker computes it in a session of its own; the others wait for that one)."""
    cached = _snapshots.get(room_id)
    now = time.monotonic()
    if cached is not None and cached.expires > now:
        return cached.value
    pending = _computing.get(room_id)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
    _computing[room_id] = future
    try:
        async with get_database().session() as db:
            value = await _compute_snapshot(db, org_id, room_id)
            await db.rollback()
        if len(_snapshots) > 5000:
            _snapshots.clear()
        _snapshots[room_id] = _Cached(time.monotonic() + SNAPSHOT_TTL_S, value)
        future.set_result(value)
        return value
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved here; waiters re-raise it
        raise
    finally:
        _computing.pop(room_id, None)


# The most events a snapshot answer carries on top of the shared snapshot; beyond, it is recomputed.
SNAPSHOT_EVENTS = 500


def _is_about(frame: dict[str, Any], room_id: str) -> bool:
    data = frame.get("data") or {}
    return frame.get("kind", "").startswith("room.") and (
        data.get("room_id") == room_id or (data.get("room") or {}).get("id") == room_id
    )


async def current_snapshot(db: AsyncSession, org_id: str, room_id: str) -> Snapshot:
    """The shared snapshot with the room's events since it was taken: current as of this call, for
    one statement (an indexed read of the room's channel) instead of a snapshot per joiner."""
    shared = await snapshot_of(org_id, room_id)
    records = await _events_since(db, shared)
    if len(records) >= SNAPSHOT_EVENTS:
        forget_snapshot(room_id)  # a busy group chat since it was taken: take a new one
        shared = await snapshot_of(org_id, room_id)
        records = await _events_since(db, shared)
    frames = (json.loads(record.frame) for record in records)
    return shared.model_copy(update={"events": [f for f in frames if _is_about(f, room_id)]})


async def _events_since(db: AsyncSession, shared: Snapshot) -> list[Any]:
    room = shared.room
    channel = conversation_channel(room.conversation_id) if room.conversation_id else f"room:{room.id}"
    return await read_events(db, room.org_id, after=shared.position, channels=[channel], limit=SNAPSHOT_EVENTS)


async def _compute_snapshot(db: AsyncSession, org_id: str, room_id: str) -> Snapshot:
    # The position first: whatever commits after it is also in the rows read below or in an event
    # above it, and applying an event twice changes nothing.
    position = (
        await db.execute(select(EventStream.last_position).where(EventStream.org_id == org_id))
    ).scalar_one_or_none() or 0
    room = await _load_room(db, org_id, room_id)
    present = (ParticipantState.joined, ParticipantState.waiting)
    people = (
        await db.execute(
            scoped(Participant, org_id)
            .where(Participant.room_id == room_id, Participant.state.in_(present))
            .order_by(Participant.first_joined_at, Participant.id)
            .limit(SNAPSHOT_PARTICIPANTS)
        )
    ).scalars().all()
    count = len(people)
    if count >= SNAPSHOT_PARTICIPANTS:
        count = (
            await db.execute(
                scoped(Participant, org_id, func.count()).where(Participant.room_id == room_id,
                                                                Participant.state.in_(present))
            )
        ).scalar_one()
    hands = sorted((p for p in people if p.hand_raised_at is not None), key=lambda p: p.hand_raised_at)
    return Snapshot(
        room=room_out(room), participants=[participant_out(p) for p in people], participant_count=count,
        hands=[p.id for p in hands], position=int(position), taken_at=utcnow(),
    )


# ---- attendance -------------------------------------------------------------------------------------


async def attendance(db: AsyncSession, ctx: OrgContext, room_id: str) -> Attendance:
    room = await _load_room(db, ctx.org_id, room_id)
    if not ctx.is_admin:
        await _my_host_seat(db, ctx, room)
    now = room.ended_at or utcnow()
    starts = room.scheduled_start or room.started_at
    people = (
        await db.execute(scoped(Participant, ctx.org_id).where(
            Participant.room_id == room.id, Participant.state != ParticipantState.waiting))
    ).scalars().all()
    rows: dict[str, AttendanceRow] = {}
    for p in people:
        if p.first_joined_at is None:
            continue
        seconds = (p.present_seconds or 0.0)
        if p.state == ParticipantState.joined and p.visit_started_at is not None:
            seconds += max(0.0, ((p.dropped_at or now) - p.visit_started_at).total_seconds())
        late = starts is not None and p.role not in HOST_ROLES and p.first_joined_at > starts + LATE_AFTER
        rows[p.member_id] = AttendanceRow(
            member_id=p.member_id, display_name=p.display_name, role=p.role, status="late" if late else "present",
            first_joined_at=p.first_joined_at, last_left_at=p.left_at, minutes_present=round(seconds / 60, 1),
            joins=p.joins or 0,
        )
    if room.kind == RoomKind.klass and room.conversation_id:
        students = (
            await db.execute(
                select(Membership.id, Membership.display_name)
                .join(ConversationMember, (ConversationMember.org_id == Membership.org_id)
                      & (ConversationMember.member_id == Membership.id))
                .join(MemberRole, (MemberRole.org_id == Membership.org_id) & (MemberRole.member_id == Membership.id))
                .where(Membership.org_id == ctx.org_id, ConversationMember.conversation_id == room.conversation_id,
                       MemberRole.role == Role.student, Membership.status == MemberStatus.active)
            )
        ).all()
        for member_id, name in students:
            if member_id not in rows:
                rows[member_id] = AttendanceRow(
                    member_id=member_id, display_name=name, role=ParticipantRole.attendee, status="absent",
                    first_joined_at=None, last_left_at=None, minutes_present=0.0, joins=0,
                )
    order = {"host": 0, "cohost": 1, "presenter": 2, "attendee": 3}
    ordered = sorted(rows.values(), key=lambda r: (order.get(r.role, 4), r.display_name))
    return Attendance(room=room_out(room), starts_at=starts, rows=ordered)


def attendance_csv(report: Attendance) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet programs read the file as UTF-8 (Chinese names) with it
    writer = csv.writer(out)
    writer.writerow(["name", "member_id", "role", "status", "first_joined_at", "last_left_at", "minutes_present",
                     "joins"])
    for row in report.rows:
        writer.writerow([
            _csv_safe(row.display_name), row.member_id, row.role, row.status,
            row.first_joined_at.isoformat() if row.first_joined_at else "",
            row.last_left_at.isoformat() if row.last_left_at else "", row.minutes_present, row.joins,
        ])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    # A name starting with = + - @ would run as a formula when the file is opened in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# ---- timetables ---------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _today() -> date:
    return datetime.now(_zone()).date()


def _lesson_times(lesson: Lesson, day: date) -> tuple[datetime, datetime]:
    zone = _zone()

    def at(clock: str) -> datetime:
        hours, minutes = (int(part) for part in clock.split(":"))
        return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)

    return at(lesson.starts_at), at(lesson.ends_at)


async def _class_group(db: AsyncSession, ctx: OrgContext, conversation_id: str, *, manage: bool) -> Conversation:
    conversation = await _conversation(db, ctx, conversation_id) if not ctx.is_admin else (
        await db.execute(scoped(Conversation, ctx.org_id).where(Conversation.id == conversation_id))
    ).scalar_one_or_none()
    if conversation is None:
        raise NotFound("There is no such conversation, or you are not in it.", code="conversation_not_found")
    if conversation.kind != ConversationKind.klass:
        raise Unprocessable("Timetables belong to class groups.", code="not_a_class_group")
    if manage and not (ctx.is_admin or await _teaches_class(db, ctx, conversation)):
        raise Forbidden("Only the class's teachers and administrators can change its timetable.",
                        code="teacher_required")
    return conversation


async def timetable(db: AsyncSession, ctx: OrgContext, conversation_id: str) -> Timetable:
    conversation = await _class_group(db, ctx, conversation_id, manage=False)
    rows = (
        await db.execute(
            select(Lesson, Membership.display_name)
            .join(Membership, (Membership.org_id == Lesson.org_id) & (Membership.id == Lesson.teacher_member_id))
            .where(Lesson.org_id == ctx.org_id, Lesson.conversation_id == conversation.id)
            .order_by(Lesson.weekday, Lesson.starts_at)
        )
    ).all()
    today = _today().isoformat()
    rooms = dict(
        (
            await db.execute(
                scoped(Room, ctx.org_id, Room.lesson_id, Room.id).where(
                    Room.conversation_id == conversation.id, Room.lesson_date == today)
            )
        ).all()
    )
    return Timetable(
        timezone=get_settings().timezone,
        lessons=[_lesson_out(lesson, name, rooms.get(lesson.id)) for lesson, name in rows],
    )


def _lesson_out(lesson: Lesson, teacher_name: str, room_id: str | None = None) -> LessonOut:
    return LessonOut(
        id=lesson.id, conversation_id=lesson.conversation_id, subject=lesson.subject,
        teacher_member_id=lesson.teacher_member_id, teacher_name=teacher_name, weekday=lesson.weekday,
        starts_at=lesson.starts_at, ends_at=lesson.ends_at, room_id=room_id,
    )


async def add_lesson(db: AsyncSession, ctx: OrgContext, conversation_id: str, body: LessonIn) -> LessonOut:
    conversation = await _class_group(db, ctx, conversation_id, manage=True)
    teacher = (
        await db.execute(
            select(Membership)
            .join(MemberRole, (MemberRole.org_id == Membership.org_id) & (MemberRole.member_id == Membership.id))
            .where(Membership.org_id == ctx.org_id, Membership.id == body.teacher_member_id,
                   Membership.status == MemberStatus.active, MemberRole.role == Role.teacher)
        )
    ).scalar_one_or_none()
    if teacher is None:
        raise NotFound("The teacher must be an active member with the teacher role.", code="teacher_not_found")
    clash = (
        await db.execute(
            scoped(Lesson, ctx.org_id, Lesson.id).where(
                Lesson.conversation_id == conversation.id, Lesson.weekday == body.weekday,
                Lesson.starts_at < body.ends_at, Lesson.ends_at > body.starts_at,
            )
        )
    ).first()
    if clash is not None:
        raise Conflict("The class already has a lesson at that time.", code="lesson_overlaps",
                       details={"lesson_id": clash[0]})
    lesson = Lesson(org_id=ctx.org_id, conversation_id=conversation.id, subject=body.subject,
                    teacher_member_id=teacher.id, weekday=body.weekday, starts_at=body.starts_at,
                    ends_at=body.ends_at, created_at=utcnow())
    db.add(lesson)
    await db.flush()
    return _lesson_out(lesson, teacher.display_name)


async def delete_lesson(db: AsyncSession, ctx: OrgContext, lesson_id: str) -> None:
    lesson = (await db.execute(scoped(Lesson, ctx.org_id).where(Lesson.id == lesson_id))).scalar_one_or_none()
    if lesson is None:
        raise NotFound("There is no such lesson.", code="lesson_not_found")
    await _class_group(db, ctx, lesson.conversation_id, manage=True)
    await db.delete(lesson)
    await db.flush()


async def open_lessons_due(db: AsyncSession, *, within: timedelta) -> int:
    """Prepare and open the rooms of lessons that start within `within` (the warm-up before 8:00).
    Safe to run in every process at once: a lesson has one room per day (unique), and a process
    that loses the race adds nothing."""
    zone = _zone()
    now = datetime.now(zone)
    horizon = now + within
    if horizon.date() != now.date():
        horizon = now.replace(hour=23, minute=59)
    lessons = (
        await db.execute(
            select(Lesson, Conversation)
            .join(Conversation, (Conversation.org_id == Lesson.org_id) & (Conversation.id == Lesson.conversation_id))
            .where(Lesson.weekday == now.isoweekday(), Lesson.starts_at >= now.strftime("%H:%M"),
                   Lesson.starts_at <= horizon.strftime("%H:%M"))
        )
    ).all()
    if not lessons:
        return 0
    today = now.date().isoformat()
    taken = set(
        (
            await db.execute(
                select(Room.org_id, Room.lesson_id).where(
                    Room.org_id.in_({lesson.org_id for lesson, _ in lessons}),
                    Room.lesson_id.in_([lesson.id for lesson, _ in lessons]), Room.lesson_date == today)
            )
        ).all()
    )
    opened = 0
    for lesson, conversation in lessons:
        if (lesson.org_id, lesson.id) in taken:
            continue
        class_name = await _class_label(db, lesson.org_id, conversation)
        start, end = _lesson_times(lesson, now.date())
        existing = await _open_class_room(db, lesson.org_id, lesson.conversation_id)
        if existing is not None:
            continue  # a teacher already opened the class by hand
        room = Room(
            org_id=lesson.org_id, kind=RoomKind.klass, title=f"{class_name} · {lesson.subject}"[:100],
            conversation_id=lesson.conversation_id, lesson_id=lesson.id, lesson_date=today,
            host_member_id=lesson.teacher_member_id, status=RoomStatus.open, scheduled_start=start,
            scheduled_end=end, started_at=utcnow(), locked=False, waiting_room=False,
            capacity=get_settings().room_default_capacity, seated=0, media_room=_new_media_room(),
            created_by=lesson.teacher_member_id, created_at=utcnow(),
        )
        try:
            async with db.begin_nested():
                db.add(room)
                await db.flush()
        except IntegrityError:
            continue  # another process prepared it a moment ago
        _remember_host(room)
        await emit(db, org_id=room.org_id, channel=room_channel(room), kind="room.opened",
                   data={"room": _dump(room_out(room))})
        opened += 1
    return opened


async def end_finished_lessons(db: AsyncSession, *, after: timedelta) -> int:
    """Timetabled rooms whose lesson ended more than `after` ago are ended (people forget to)."""
    rooms = (
        await db.execute(
            select(Room).where(Room.status == RoomStatus.open, Room.lesson_id.is_not(None),
                               Room.scheduled_end < utcnow() - after).limit(100)
        )
    ).scalars().all()
    for room in rooms:
        await close_room(db, room)
    return len(rooms)
