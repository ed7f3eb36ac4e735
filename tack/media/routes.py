"""Media sessions (docs/media.md): what a seated person needs to get sound and picture."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, status
from fastapi.responses import FileResponse

from tack.core.auth import DB
from tack.core.db import deferred_write
from tack.core.errors import Forbidden, NotFound
from tack.core.routing import client_address, domain_router
from tack.core.schemas import IdPath
from tack.media import broadcast, service
from tack.media.schemas import GuestMediaSessionIn, MediaSessionIn, MediaSessionOut
from tack.orgs.access import OrgMember
from tack.rooms import guests
from tack.rooms.routes import GuestCodePath

router = domain_router(tags=["media"])

MEDIA_ERRORS = {503: {"description": "The media server cannot be used right now (`media_unavailable`)."}}


@router.post("/orgs/{org_id}/rooms/{room_id}/media", response_model=MediaSessionOut, status_code=status.HTTP_200_OK,
             responses=MEDIA_ERRORS)
@deferred_write  # the media server is asked first; the write transaction begins after (service)
async def media_session(room_id: IdPath, body: MediaSessionIn, ctx: OrgMember, db: DB) -> MediaSessionOut:
    """Your media session in a room where you hold a seat: the media server, tokens and whether you may
    publish; or why you watch the broadcast or have no media."""
    return await service.member_session(db, ctx, room_id, token=body.token, watch=body.watch)


@router.post("/guest/rooms/{guest_code}/media", response_model=MediaSessionOut, status_code=status.HTTP_200_OK,
             responses=MEDIA_ERRORS)
@deferred_write
async def guest_media_session(guest_code: GuestCodePath, body: GuestMediaSessionIn, request: Request,
                              db: DB) -> MediaSessionOut:
    """A guest's media session (their ticket is their credential)."""
    room, p = await guests.seated(db, guest_code, body.ticket, address=client_address(request))
    return await service.session_for(db, room, p, token=body.token, watch=body.watch)


HLS_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}
HlsName = Annotated[str, Path(pattern=r"^index[0-9]*\.(m3u8|ts)$", description="The playlist or a segment.")]
ViewerKey = Annotated[str, Path(pattern=r"^[0-9]{1,12}-[0-9a-f]{32}$", description="The key in the playlist's address.")]


@router.get("/media/hls/{media_room}/{key}/{name}", include_in_schema=False)
async def hls_file(media_room: int, key: ViewerKey, name: HlsName) -> FileResponse:
    """A room's broadcast for its viewers: the address (from their media session) carries a signed,
    expiring key, so segments are served without a database read each."""
    if not broadcast.viewer_key_valid(media_room, key):
        raise Forbidden("This broadcast link has expired. Open the room again.", code="broadcast_link_expired")
    path = broadcast.hls_folder(media_room) / name
    if not path.is_file():
        raise NotFound("The broadcast has not started yet, or this part of it is gone.", code="broadcast_not_found")
    cache = "no-cache" if name.endswith(".m3u8") else "public, max-age=60"
    return FileResponse(path, media_type=HLS_TYPES[name.rsplit(".", 1)[1]], headers={"Cache-Control": cache})
