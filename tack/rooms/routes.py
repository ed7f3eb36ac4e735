"""HTTP endpoints of rooms (meetings and classes), joining, in-room controls, attendance, timetables.

Thin by design: parse, authorize (`OrgMember` resolves the organization; the service decides who
may join and who runs a room), call `tack.rooms.service`, shape the response. Someone who may not
join a room gets 404 for everything in it.

A join passes admission control (tack/core/admission.py) before it begins its write transaction: while it waits
in line it holds nothing but its place.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import Path, Query, Request, Response, status
from prometheus_client import Counter, Histogram

from tack.core.admission import Busy, Priority, admitted
from tack.core.auth import DB
from tack.core.config import get_settings
from tack.core.db import begin_write, commit_now, deferred_write, release_connection
from tack.core.errors import TackError
from tack.core.ids import ID_PATTERN
from tack.core.routing import client_address, domain_router
from tack.core.schemas import IdPath, LimitQuery, Page
from tack.orgs.access import OrgAdmin, OrgMember
from tack.rooms import guests, service, warnings
from tack.rooms.schemas import (
    Attendance,
    ClassRoomIn,
    GuestHandIn,
    GuestJoinIn,
    GuestRoomInfo,
    GuestTicketIn,
    HandIn,
    JoinIn,
    LessonIn,
    LessonOut,
    MediaVerified,
    MediaVerifyIn,
    MutedAll,
    ParticipantOut,
    ParticipantUpdate,
    RoomIn,
    RoomLoad,
    RoomOut,
    RoomUpdate,
    Snapshot,
    TicketOut,
    Timetable,
)

router = domain_router(tags=["rooms"])

ROOM = "/orgs/{org_id}/rooms/{room_id}"
PARTICIPANT = ROOM + "/participants/{participant_id}"

JOINS = Counter("tack_room_joins_total", "Room joins by outcome.", ["outcome"])
JOIN_SECONDS = Histogram(
    "tack_room_join_seconds", "Time to answer a room join, queueing included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)

# ---- rooms ---------------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/rooms", response_model=RoomOut, status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RoomOut, "description": "The class already had an open room: this is it."}},
)
async def create_room(body: RoomIn, response: Response, ctx: OrgMember, db: DB) -> RoomOut:
    """Start a class in a class group, or a meeting (instant or scheduled)."""
    if isinstance(body, ClassRoomIn):
        room, created = await service.start_class(db, ctx, body)
        if not created:
            response.status_code = status.HTTP_200_OK
    else:
        room = await service.create_meeting(db, ctx, body)
    return service.room_out(room, "host" if room.host_member_id == ctx.member.id else None)


StatusQuery = Annotated[
    Literal["scheduled", "open", "ended"] | None, Query(alias="status", description="Default: not ended.")
]
ConversationQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this group chat's rooms.")]


@router.get("/orgs/{org_id}/rooms", response_model=Page[RoomOut], status_code=status.HTTP_200_OK)
async def list_rooms(
    ctx: OrgMember, db: DB, conversation_id: ConversationQuery = None, status_: StatusQuery = None,
    limit: LimitQuery = 50,
) -> Page[RoomOut]:
    """Rooms I may join: of my group chats, hosted by me, or that I am invited to."""
    rooms = await service.list_rooms(db, ctx, conversation_id=conversation_id, status=status_, limit=limit)
    return Page(items=rooms)


@router.get(ROOM, response_model=RoomOut, status_code=status.HTTP_200_OK)
async def get_room(room_id: IdPath, ctx: OrgMember, db: DB) -> RoomOut:
    return await service.get_room(db, ctx, room_id)


@router.get(ROOM + "/snapshot", response_model=Snapshot, status_code=status.HTTP_200_OK)
async def get_snapshot(room_id: IdPath, ctx: OrgMember, db: DB) -> Snapshot:
    """The room's shared snapshot (see docs/rooms.md): what a joiner first sees."""
    await service.get_room(db, ctx, room_id)
    return await service.current_snapshot(db, ctx.org_id, room_id)


@router.post(ROOM + "/start", response_model=RoomOut, status_code=status.HTTP_200_OK)
async def start_room(room_id: IdPath, ctx: OrgMember, db: DB) -> RoomOut:
    """Open a scheduled room (hosts)."""
    return await service.start_room(db, ctx, room_id)


@router.patch(ROOM, response_model=RoomOut, status_code=status.HTTP_200_OK)
async def update_room(room_id: IdPath, body: RoomUpdate, ctx: OrgMember, db: DB) -> RoomOut:
    """Lock or unlock the room, or rename it (hosts)."""
    return await service.update_room(db, ctx, room_id, body)


@router.post(ROOM + "/end", response_model=RoomOut, status_code=status.HTTP_200_OK)
async def end_room(room_id: IdPath, ctx: OrgMember, db: DB) -> RoomOut:
    """End the room for everyone (hosts)."""
    return await service.end_room(db, ctx, room_id)


# ---- joining and leaving ----------------------------------------------------------------------------


@router.post(
    ROOM + "/join", response_model=TicketOut, status_code=status.HTTP_200_OK,
    responses={429: {"description": "Too many joins at once (`busy`): your place in line; wait `Retry-After` "
                                   "seconds and try again."}},
)
@deferred_write
async def join_room(room_id: IdPath, body: JoinIn, ctx: OrgMember, db: DB) -> TicketOut:
    """Take a seat (or get a held one back with the ticket of an earlier join). Returns the ticket,
    the room's snapshot and the media room and token."""
    started = time.monotonic()
    try:
        priority = service.join_priority(ctx, room_id, body.ticket)
        # Waiting in line holds nothing: not a pooled connection, not the write lock.
        await release_connection(db)
        async with admitted(priority):
            await begin_write(db)
            joined = await service.join(db, ctx, room_id, ticket=body.ticket)
            # Committed here, so the snapshot (read with a connection of its own) does not need a
            # second connection while this one is held.
            await commit_now(db)
        snapshot = await service.current_snapshot(db, ctx.org_id, room_id)
        ticket = service.ticket_for(ctx, joined, snapshot)
    except Busy:
        JOINS.labels("refused").inc()
        raise
    except TackError:
        JOINS.labels("denied").inc()
        raise
    except BaseException:
        JOINS.labels("failed").inc()
        raise
    JOINS.labels("rejoined" if joined.rejoined else "admitted").inc()
    warnings.join_rates.record(ctx.org_id)
    JOIN_SECONDS.observe(time.monotonic() - started)
    return ticket


@router.post(ROOM + "/leave", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@deferred_write
async def leave_room(room_id: IdPath, ctx: OrgMember, db: DB) -> Response:
    """Leave. Always succeeds: under overload, when not in the room, when the room has ended."""
    # Leaves have a lane of their own, never refused (tack/core/admission.py); waiting in it holds
    # nothing, as for joins.
    await release_connection(db)
    async with admitted(Priority.leave):
        await begin_write(db)
        await service.leave(db, ctx, room_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- in the room ------------------------------------------------------------------------------------


@router.post(ROOM + "/hand", response_model=ParticipantOut, status_code=status.HTTP_200_OK)
async def raise_hand(room_id: IdPath, body: HandIn, ctx: OrgMember, db: DB) -> ParticipantOut:
    """Raise (`raised: true`) or lower your hand."""
    return service.participant_out(await service.set_hand(db, ctx, room_id, body.raised))


@router.get(ROOM + "/participants", response_model=list[ParticipantOut], status_code=status.HTTP_200_OK)
async def list_participants(room_id: IdPath, ctx: OrgMember, db: DB) -> list[ParticipantOut]:
    """Everyone who came, also those who left."""
    return await service.list_participants(db, ctx, room_id)


@router.patch(PARTICIPANT, response_model=ParticipantOut, status_code=status.HTTP_200_OK)
async def update_participant(
    room_id: IdPath, participant_id: IdPath, body: ParticipantUpdate, ctx: OrgMember, db: DB
) -> ParticipantOut:
    """Mute or unmute, change the role, lower the hand, or admit from the waiting room (hosts)."""
    return service.participant_out(await service.update_participant(db, ctx, room_id, participant_id, body))


@router.delete(PARTICIPANT, status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def remove_participant(room_id: IdPath, participant_id: IdPath, ctx: OrgMember, db: DB) -> Response:
    """Remove someone from the room; they cannot come back (hosts)."""
    await service.remove_participant(db, ctx, room_id, participant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(ROOM + "/mute-all", response_model=MutedAll, status_code=status.HTTP_200_OK)
async def mute_all(room_id: IdPath, ctx: OrgMember, db: DB) -> MutedAll:
    """Mute everyone but the hosts."""
    return MutedAll(muted=await service.mute_all(db, ctx, room_id))


@router.post(ROOM + "/media/verify", response_model=MediaVerified, status_code=status.HTTP_200_OK)
async def verify_media_token(room_id: IdPath, body: MediaVerifyIn, ctx: OrgMember, db: DB) -> MediaVerified:
    """Check a media token: genuine, unexpired, for this room, yours, and your seat still held."""
    return await service.verify_media_token(db, ctx, room_id, body.token)


# ---- attendance ----------------------------------------------------------------------------------------


@router.get(ROOM + "/attendance", response_model=Attendance, status_code=status.HTTP_200_OK)
async def get_attendance(room_id: IdPath, ctx: OrgMember, db: DB) -> Attendance:
    """Who came, when, for how long; for a class, its students who did not (hosts, administrators)."""
    return await service.attendance(db, ctx, room_id)


@router.get(
    ROOM + "/attendance.csv", status_code=status.HTTP_200_OK, response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "Attendance as CSV."}},
)
async def get_attendance_csv(room_id: IdPath, ctx: OrgMember, db: DB) -> Response:
    report = await service.attendance(db, ctx, room_id)
    filename = f"attendance-{report.room.id}.csv"
    return Response(
        content=service.attendance_csv(report).encode("utf-8"), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---- timetables -----------------------------------------------------------------------------------------


TIMETABLE = "/orgs/{org_id}/conversations/{conversation_id}/timetable"


@router.get(TIMETABLE, response_model=Timetable, status_code=status.HTTP_200_OK)
async def get_timetable(conversation_id: IdPath, ctx: OrgMember, db: DB) -> Timetable:
    """A class group's weekly timetable."""
    return await service.timetable(db, ctx, conversation_id)


@router.post(TIMETABLE, response_model=LessonOut, status_code=status.HTTP_201_CREATED)
async def add_lesson(conversation_id: IdPath, body: LessonIn, ctx: OrgMember, db: DB) -> LessonOut:
    """Add a lesson (administrators and the class's teachers)."""
    return await service.add_lesson(db, ctx, conversation_id, body)


@router.delete("/orgs/{org_id}/lessons/{lesson_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_lesson(lesson_id: IdPath, ctx: OrgMember, db: DB) -> Response:
    await service.delete_lesson(db, ctx, lesson_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- early warning --------------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/room-load", response_model=RoomLoad, status_code=status.HTTP_200_OK)
async def get_room_load(ctx: OrgAdmin, db: DB) -> RoomLoad:
    """Joins now and the forecast for the next 10 minutes against the measured capacity, with the
    warnings they raise (administrators)."""
    predicted = (await warnings.forecast(db, [ctx.org_id])).get(ctx.org_id)
    live = warnings.live_figures(ctx.org_id)
    return RoomLoad(
        capacity_per_minute=get_settings().room_join_capacity_per_minute,
        warn_joins_per_minute=warnings.warn_joins_per_minute(), live=live, forecast=predicted,
        warnings=warnings.warnings_for(ctx.org_id, predicted, live),
    )


# ---- guests (no sign-in: the guest's ticket is their credential) ----------------------------------------

GUEST = "/guest/rooms/{guest_code}"
GuestCodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{8,16}$", description="The code of the guest link.")]


@router.get(GUEST, response_model=GuestRoomInfo, status_code=status.HTTP_200_OK)
async def guest_room(guest_code: GuestCodePath, request: Request, db: DB) -> GuestRoomInfo:
    """What the guest page shows before joining."""
    return await guests.info(db, guest_code, address=client_address(request))


@router.post(
    GUEST + "/join", response_model=TicketOut, status_code=status.HTTP_200_OK,
    responses={429: {"description": "Too many joins at once (`busy`): your place in line; wait `Retry-After` "
                                   "seconds and try again."}},
)
@deferred_write
async def guest_join(guest_code: GuestCodePath, body: GuestJoinIn, request: Request, response: Response,
                     db: DB) -> TicketOut:
    """Join a meeting as a guest, with the passcode the host shared."""
    started = time.monotonic()
    cookie, path = guests.remember_cookie(guest_code)
    remembered = request.cookies.get(cookie)
    await release_connection(db)
    async with admitted(Priority.rejoin if body.ticket or remembered else Priority.attendee):
        await begin_write(db)
        joined = await guests.join(db, guest_code, body, address=client_address(request), remembered=remembered)
        await commit_now(db)
    snapshot = await service.current_snapshot(db, joined.room.org_id, joined.room.id)
    JOINS.labels("rejoined" if joined.rejoined else "admitted").inc()
    JOIN_SECONDS.observe(time.monotonic() - started)
    ticket = service.ticket_for(None, joined, snapshot)
    settings = get_settings()
    response.set_cookie(cookie, ticket.ticket, max_age=int(settings.room_ticket_hours * 3600), httponly=True,
                        samesite="lax", secure=settings.cookie_secure, path=path)
    return ticket


@router.post(GUEST + "/state", response_model=Snapshot, status_code=status.HTTP_200_OK)
async def guest_state(guest_code: GuestCodePath, body: GuestTicketIn, request: Request, db: DB) -> Snapshot:
    """The room now (guests have no stream: their page asks every few seconds)."""
    room, _ = await guests.seen(db, guest_code, body.ticket, address=client_address(request))
    return await service.current_snapshot(db, room.org_id, room.id)


@router.post(GUEST + "/hand", response_model=ParticipantOut, status_code=status.HTTP_200_OK)
async def guest_hand(guest_code: GuestCodePath, body: GuestHandIn, request: Request, db: DB) -> ParticipantOut:
    return service.participant_out(
        await guests.set_hand(db, guest_code, body.ticket, body.raised, address=client_address(request))
    )


@router.post(GUEST + "/leave", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
@deferred_write
async def guest_leave(guest_code: GuestCodePath, body: GuestTicketIn, db: DB) -> Response:
    """Leave. Always succeeds."""
    async with admitted(Priority.leave):
        await begin_write(db)
        await guests.leave(db, guest_code, body.ticket)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
