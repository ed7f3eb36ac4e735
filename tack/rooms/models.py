"""Rooms (meetings and classes), their invitees and participants, and class timetables.

Every table is organization-scoped with `org_id` first in its primary key and in every index the
queries use (see tack/orgs/models.py).

A participant row is one person's place in one room, kept for the room's life: a rejoin reuses it,
so attendance adds up the time of every visit (`present_seconds` holds the closed visits; the open
one runs from `visit_started_at`). `Room.seated` counts the participants holding a seat and is
moved by the same transaction that seats or unseats someone: the capacity check is one conditional
UPDATE of the room row, with no count over participants.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tack.core.db import Base, UTCDateTime, utcnow
from tack.core.ids import new_id


class RoomKind(StrEnum):
    meeting = "meeting"
    klass = "class"


class RoomStatus(StrEnum):
    scheduled = "scheduled"
    open = "open"
    ended = "ended"


class ParticipantRole(StrEnum):
    host = "host"
    cohost = "cohost"
    presenter = "presenter"
    attendee = "attendee"


HOST_ROLES = frozenset({ParticipantRole.host, ParticipantRole.cohost})


class ParticipantState(StrEnum):
    waiting = "waiting"
    joined = "joined"
    left = "left"
    removed = "removed"


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "host_member_id"], ["memberships.org_id", "memberships.id"]),
        # The rooms of a group chat (a class's open room is looked up by it).
        Index("ix_rooms_conversation", "org_id", "conversation_id", "status"),
        Index("ix_rooms_status_start", "org_id", "status", "scheduled_start"),
        # Housekeeping and the forecast look across organizations: open and scheduled rooms are few.
        Index("ix_rooms_status", "status", "scheduled_start"),
        # A timetable lesson has one room per day, whichever process prepares it first.
        UniqueConstraint("org_id", "lesson_id", "lesson_date"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    # The group chat the room belongs to (a class group for classes): its members may join, and
    # the room's events go to its channel.
    conversation_id: Mapped[str | None] = mapped_column(String(26))
    lesson_id: Mapped[str | None] = mapped_column(String(26))
    lesson_date: Mapped[str | None] = mapped_column(String(10))
    host_member_id: Mapped[str] = mapped_column(String(26))
    status: Mapped[str] = mapped_column(String(16), default=RoomStatus.open)
    scheduled_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    waiting_room: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int] = mapped_column(Integer)
    seated: Mapped[int] = mapped_column(Integer, default=0)
    # Guests by link and passcode (meetings only): the link's code and the passcode hosts share.
    guest_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    guest_passcode: Mapped[str | None] = mapped_column(String(12))
    # The room's number on the media server (Janus rooms are numbered), unique per installation.
    media_room: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_by: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomInvitee(Base):
    __tablename__ = "room_invitees"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "room_id"], ["rooms.org_id", "rooms.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"),
        # Covering (see ix_conversation_members_member): a stream connection asks it for every person.
        Index("ix_room_invitees_member", "org_id", "member_id", "room_id"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(26), primary_key=True)


class Participant(Base):
    __tablename__ = "room_participants"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "room_id"], ["rooms.org_id", "rooms.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "member_id"], ["memberships.org_id", "memberships.id"], ondelete="CASCADE"),
        UniqueConstraint("org_id", "room_id", "member_id"),
        # Drops and returns are recorded by member (the stream knows people, not participants).
        Index("ix_room_participants_member", "org_id", "member_id", "state"),
        Index("ix_room_participants_dropped", "dropped_at"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    room_id: Mapped[str] = mapped_column(String(26))
    # None for a guest, who came by link and passcode without an account.
    member_id: Mapped[str | None] = mapped_column(String(26))
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default=ParticipantRole.attendee)
    state: Mapped[str] = mapped_column(String(16), default=ParticipantState.joined)
    hand_raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    first_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person's last stream connection closed while they held a seat; cleared when they
    # are back. A seat dropped longer than the grace period is given up (tack/rooms/housekeeping.py).
    # Guests have no stream: for them it is the time of their last poll, and the same rule applies.
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    present_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    joins: Mapped[int] = mapped_column(Integer, default=0)


class Lesson(Base):
    """One period of a class's weekly timetable."""

    __tablename__ = "lessons"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "teacher_member_id"], ["memberships.org_id", "memberships.id"]),
        Index("ix_lessons_conversation", "org_id", "conversation_id"),
        # The warm-up looks for today's lessons by weekday and time.
        Index("ix_lessons_weekday_start", "weekday", "starts_at"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(String(26))
    subject: Mapped[str] = mapped_column(String(100))
    teacher_member_id: Mapped[str] = mapped_column(String(26))
    # ISO weekday (Monday 1) and "HH:MM" in the installation's time zone (TACK_TIMEZONE).
    weekday: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[str] = mapped_column(String(5))
    ends_at: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
