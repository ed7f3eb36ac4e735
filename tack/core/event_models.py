"""Tables of the event log: one counter row per organization, and the events themselves.

See tack/core/events.py for how they are written and docs/stream.md for what clients see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tack.core.db import Base, UTCDateTime, utcnow


class EventStream(Base):
    """The position counter of one organization's event log.

    `last_position` is incremented with UPDATE ... RETURNING by every transaction that emits, so the
    row lock orders those transactions' commits by position. `epoch` is random per stream: a client
    whose cursor names another epoch holds a position of some other history (a restored backup, a
    recreated organization) and must resync. Events up to `pruned_through` have been deleted.
    """

    __tablename__ = "event_streams"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[str] = mapped_column(String(32))
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One change clients learn about, at a dense per-organization position."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_channel", "org_id", "channel", "position"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("event_streams.org_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
