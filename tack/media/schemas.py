"""What the media endpoints answer (docs/media.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from tack.core.schemas import Input, Schema

WATCH_DESCRIPTION = ("Watch the broadcast instead of taking part in the live room (a poor network, or by choice); "
                     "your join tokens are revoked, which frees your place in the live room. Not for hosts, "
                     "co-hosts and presenters (403 `watch_not_allowed`).")


class MediaSessionIn(Input):
    token: str | None = Field(default=None, max_length=400,
                              description="The media token of the join's ticket; without it a new one is made.")
    watch: bool = Field(default=False, description=WATCH_DESCRIPTION)


class GuestMediaSessionIn(Input):
    ticket: str = Field(max_length=2000, description="The guest's ticket.")
    token: str | None = Field(default=None, max_length=400)
    watch: bool = Field(default=False, description=WATCH_DESCRIPTION)


class BroadcastOut(Schema):
    hls_url: str = Field(description="The HLS playlist of the room's broadcast (play with hls.js).")


class MediaSessionOut(Schema):
    mode: Literal["interactive", "broadcast", "unavailable"]
    reason: Literal["no_media_server", "room_full", "waiting", "chosen"] | None = Field(
        default=None, description="Why not interactive; `chosen`: the person asked to watch the broadcast.")
    server: str | None = Field(default=None, description="The media server's WebSocket API (Janus).")
    core_token: str | None = Field(default=None, description="Send as `token` with every Janus request.")
    room: int | None = Field(default=None, description="The VideoRoom to join.")
    join_token: str | None = Field(default=None, description="Send as `token` in the VideoRoom join.")
    feed_id: int | None = Field(default=None, description="Join the VideoRoom with this id.")
    display: str | None = None
    may_publish: bool = False
    ice_servers: list[dict] = Field(default_factory=list, description="RTCPeerConnection iceServers.")
    generation: int | None = Field(default=None, description="Changes when the room moves to another media server.")
    broadcast: BroadcastOut | None = None
    expires_at: datetime | None = Field(default=None, description="After this, ask for a new media session.")

    @classmethod
    def unavailable(cls, reason: Literal["no_media_server", "waiting"]) -> MediaSessionOut:
        return cls(mode="unavailable", reason=reason)


class MediaServerOut(Schema):
    id: str
    name: str
    public_url: str
    status: str
    rooms: int
    participants: int
    last_seen_at: datetime | None
    last_error: str | None
