"""Media sessions (docs/media.md): what a seated person needs to get sound and picture."""

from __future__ import annotations

from fastapi import Request, status

from tack.core.auth import DB
from tack.core.routing import client_address, domain_router
from tack.core.schemas import IdPath
from tack.media import service
from tack.media.schemas import GuestMediaSessionIn, MediaSessionIn, MediaSessionOut
from tack.orgs.access import OrgMember
from tack.rooms import guests
from tack.rooms.routes import GuestCodePath

router = domain_router(tags=["media"])

MEDIA_ERRORS = {503: {"description": "The media server cannot be used right now (`media_unavailable`)."}}


@router.post("/orgs/{org_id}/rooms/{room_id}/media", response_model=MediaSessionOut, status_code=status.HTTP_200_OK,
             responses=MEDIA_ERRORS)
async def media_session(room_id: IdPath, body: MediaSessionIn, ctx: OrgMember, db: DB) -> MediaSessionOut:
    """Your media session in a room where you hold a seat: the media server, tokens and whether you may
    publish; or why you watch the broadcast or have no media."""
    return await service.member_session(db, ctx, room_id, token=body.token)


@router.post("/guest/rooms/{guest_code}/media", response_model=MediaSessionOut, status_code=status.HTTP_200_OK,
             responses=MEDIA_ERRORS)
async def guest_media_session(guest_code: GuestCodePath, body: GuestMediaSessionIn, request: Request,
                              db: DB) -> MediaSessionOut:
    """A guest's media session (their ticket is their credential)."""
    room, p = await guests.seen(db, guest_code, body.ticket, address=client_address(request))
    return await service.session_for(db, room, p, token=body.token)
