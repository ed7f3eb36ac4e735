"""The media servers Tack drives, where each room's media lives, and the join tokens handed out.

Media servers belong to the installation, not to an organization: a school's rooms and a company's
share them. Rooms and grants are organization-scoped like every room row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tack.core.db import Base, UTCDateTime, utcnow
from tack.core.ids import new_id


class ServerStatus(StrEnum):
    up = "up"  # answers; new rooms may be placed on it
    down = "down"  # stopped answering; its rooms were placed again elsewhere
    draining = "draining"  # answers, but takes no new rooms (an operator is retiring it)


class MediaServer(Base):
    __tablename__ = "media_servers"

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Where Tack sends its requests (Janus's HTTP API and Admin API) ...
    api_url: Mapped[str] = mapped_column(String(500))
    admin_url: Mapped[str] = mapped_column(String(500), default="")
    # ... and where browsers connect (Janus's WebSocket API, usually through a TLS proxy).
    public_url: Mapped[str] = mapped_column(String(500))
    admin_secret: Mapped[str] = mapped_column(String(200), default="")
    # The VideoRoom plugin's admin_key (room creation and RTP forwarding need it).
    admin_key: Mapped[str] = mapped_column(String(200), default="")
    # Janus's token_auth_secret: core tokens for browsers are signed with it ("" without token_auth).
    token_secret: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default=ServerStatus.up)
    # Load as last read from the server, and when.
    rooms: Mapped[int] = mapped_column(Integer, default=0)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomMedia(Base):
    """A room's VideoRoom: on which server (its secret is derived from the room; see service.room_secret)."""

    __tablename__ = "room_media"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "room_id"], ["rooms.org_id", "rooms.id"], ondelete="CASCADE"),
        Index("ix_room_media_server", "server_id"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    server_id: Mapped[str] = mapped_column(String(26))
    # Janus's cap on active publishers in this room (Tack decides who may publish).
    publishers: Mapped[int] = mapped_column(Integer)
    # Bumped when the room is placed again (another server): clients reconnect their media.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    # Set while the class is broadcast: the forwarder and ffmpeg (see tack/media/broadcast.py), run by
    # the process named here ("host:pid").
    broadcasting: Mapped[bool] = mapped_column(Boolean, default=False)
    broadcast_owner: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaGrant(Base):
    """A join token on a room's allow-list: revoked on removal, on leaving, and at expiry."""

    __tablename__ = "media_grants"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "room_id"], ["rooms.org_id", "rooms.id"], ondelete="CASCADE"),
        Index("ix_media_grants_participant", "org_id", "room_id", "participant_id"),
        Index("ix_media_grants_expiry", "expires_at"),
    )

    org_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    room_id: Mapped[str] = mapped_column(String(26))
    participant_id: Mapped[str] = mapped_column(String(26))
    token: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
