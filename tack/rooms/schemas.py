"""Request and response bodies of rooms (meetings and classes), tickets, attendance and timetables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from tack.core.schemas import Id, Input, Name, Schema

MAX_INVITEES = 1000
MAX_CAPACITY = 10_000
# How many participants a snapshot lists; `participant_count` says how many there are.
SNAPSHOT_PARTICIPANTS = 500

ClockTime = Annotated[
    str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description='A time of day, "HH:MM" (24-hour), in the server\'s time zone.', examples=["08:00"]),
]
Ticket = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^[A-Za-z0-9_.\-]+$")]
MediaToken = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")]
RoleName = Literal["host", "cohost", "presenter", "attendee"]


def _plausible(value: datetime) -> datetime:
    # A calendar needs no other centuries, and far dates overflow on the way to UTC.
    if not 2000 <= value.year <= 2999:
        raise ValueError("must be a date between the years 2000 and 2999")
    return value


MeetingTime = Annotated[
    AwareDatetime, AfterValidator(_plausible),
    Field(description="With its time zone, e.g. 2026-11-24T08:00:00+08:00.", examples=["2026-11-24T08:00:00+08:00"]),
]


# ---- rooms ------------------------------------------------------------------------------------


class ClassRoomIn(Input):
    """Start a class in a class group (a teacher of the class or an administrator). When the class
    already has an open room, that room is returned (200)."""

    kind: Literal["class"]
    conversation_id: Id
    lesson_id: Id | None = Field(default=None, description="The timetable lesson this class is.")
    title: Name | None = Field(default=None, description="Default: the class's name and the lesson's subject.")


class MeetingIn(Input):
    """A meeting: instant (open at once) or scheduled. In a group chat, the group's members may join;
    otherwise the host and the invitees."""

    kind: Literal["meeting"]
    title: Name
    conversation_id: Id | None = None
    invitee_ids: list[Id] = Field(default=[], max_length=MAX_INVITEES)
    scheduled_start: MeetingTime | None = Field(default=None, description="Absent: the meeting opens now.")
    scheduled_end: MeetingTime | None = None
    waiting_room: bool = False
    allow_guests: bool = Field(default=False, description="People without an account may join by link and passcode.")
    capacity: int | None = Field(default=None, ge=2, le=MAX_CAPACITY)

    @model_validator(mode="after")
    def _times_in_order(self) -> MeetingIn:
        if self.scheduled_start and self.scheduled_end and self.scheduled_end <= self.scheduled_start:
            raise ValueError("scheduled_end must come after scheduled_start")
        return self


RoomIn = Annotated[ClassRoomIn | MeetingIn, Field(discriminator="kind")]


class RoomUpdate(Input):
    locked: bool | None = None
    title: Name | None = None


class RoomOut(Schema):
    id: str
    org_id: str
    kind: Literal["meeting", "class"]
    title: str
    conversation_id: str | None
    lesson_id: str | None
    host_member_id: str
    status: Literal["scheduled", "open", "ended"]
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    locked: bool
    waiting_room: bool
    capacity: int
    seated: int
    my_role: RoleName | None = Field(default=None, description="The role the caller has or would have in it.")
    guest_code: str | None = Field(default=None, description="Hosts only: the code of the guest link /guest/<code>.")
    guest_passcode: str | None = Field(default=None, description="Hosts only: the passcode guests type.")


class ParticipantOut(Schema):
    id: str
    room_id: str
    member_id: str | None = Field(description="None for a guest.")
    guest: bool = False
    display_name: str
    role: RoleName
    state: Literal["waiting", "joined", "left", "removed"]
    hand_raised: bool
    hand_raised_at: datetime | None
    muted: bool
    joined_at: datetime | None
    left_at: datetime | None


class Snapshot(Schema):
    """The room as a joiner first sees it. Shared by everyone who joins in the same moments, so a few
    seconds old: apply the room's stream events with a position above `position` on top of it."""

    room: RoomOut
    participants: list[ParticipantOut]
    participant_count: int
    hands: list[str] = Field(description="Participant ids with a raised hand, in the order raised.")
    position: int = Field(description="The organization's stream position this snapshot reflects.")
    taken_at: datetime
    events: list[dict[str, Any]] = Field(
        default=[],
        description="The room's stream events after `position`, up to this answer, as the stream sends them: "
                    "apply them on top (then later ones from the stream). A shared snapshot can be a few "
                    "seconds old; with these it is current.",
    )


class MediaOut(Schema):
    available: bool = Field(description="False when this server has no media server configured.")
    server: str | None
    room: int = Field(description="The room's number on the media server.")
    token: str | None = Field(description="A signed, short-lived token the media server checks.")
    expires_at: datetime | None


class JoinIn(Input):
    ticket: Ticket | None = Field(default=None, description="The ticket of an earlier join: proves a held seat.")


class TicketOut(Schema):
    ticket: str = Field(description="Keep it: send it back with a later join to get the seat back at once.")
    expires_at: datetime
    rejoined: bool = Field(description="True when the person got back a seat they held.")
    participant: ParticipantOut
    snapshot: Snapshot
    media: MediaOut


class HandIn(Input):
    raised: bool


class ParticipantUpdate(Input):
    """Host controls over one participant; give only what changes."""

    muted: bool | None = None
    role: Literal["cohost", "presenter", "attendee"] | None = None
    hand_raised: Literal[False] | None = Field(default=None, description="Only lowering someone's hand.")
    admit: Literal[True] | None = Field(default=None, description="Let them in from the waiting room.")


class MutedAll(Schema):
    muted: int


class MediaVerifyIn(Input):
    token: MediaToken


class MediaVerified(Schema):
    participant_id: str
    role: RoleName
    may_publish: bool


# ---- attendance ---------------------------------------------------------------------------------


class AttendanceRow(Schema):
    member_id: str | None = Field(description="None for a guest.")
    display_name: str
    role: RoleName
    status: Literal["present", "late", "absent"]
    first_joined_at: datetime | None
    last_left_at: datetime | None
    minutes_present: float
    joins: int


class Attendance(Schema):
    room: RoomOut
    starts_at: datetime | None = Field(description="What lateness is counted from.")
    rows: list[AttendanceRow]


# ---- timetables ----------------------------------------------------------------------------------


class LessonIn(Input):
    subject: Name
    teacher_member_id: Id
    weekday: int = Field(ge=1, le=7, description="ISO weekday: Monday 1 ... Sunday 7.")
    starts_at: ClockTime
    ends_at: ClockTime

    @model_validator(mode="after")
    def _times_in_order(self) -> LessonIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self


class LessonOut(Schema):
    id: str
    conversation_id: str
    subject: str
    teacher_member_id: str
    teacher_name: str
    weekday: int
    starts_at: str
    ends_at: str
    room_id: str | None = Field(default=None, description="Today's room of this lesson, once prepared.")


class Timetable(Schema):
    timezone: str
    lessons: list[LessonOut]


# ---- early warning --------------------------------------------------------------------------------------


class LoadStart(Schema):
    at: str = Field(description='"HH:MM" in the server\'s time zone.')
    people: int


class LoadForecast(Schema):
    people: int = Field(description="People expected to join in the next 10 minutes.")
    rooms: int
    peak_per_minute: int
    starts: list[LoadStart]


class LoadLive(Schema):
    joins_per_minute: int = Field(description="Joins in the last minute, on the server that answered.")
    longest_queue_wait_s: float
    in_flight: int
    queued: int


class LoadWarning(Schema):
    kind: Literal["forecast", "join_rate", "queue_wait"]
    value: float
    threshold: float
    message: str


class RoomLoad(Schema):
    capacity_per_minute: int
    warn_joins_per_minute: int
    live: LoadLive
    forecast: LoadForecast | None
    warnings: list[LoadWarning]


# ---- guests ---------------------------------------------------------------------------------------------

Passcode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,12}$")]
GuestCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{8,16}$")]


class GuestRoomInfo(Schema):
    title: str
    org_name: str
    status: Literal["scheduled", "open", "ended"]
    waiting_room: bool


class GuestJoinIn(Input):
    display_name: Name
    passcode: Passcode
    ticket: Ticket | None = Field(default=None, description="The ticket of an earlier join as this guest.")


class GuestTicketIn(Input):
    ticket: Ticket


class GuestHandIn(Input):
    ticket: Ticket
    raised: bool
