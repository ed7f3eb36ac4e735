"""HTTP endpoints of conversations, messages, read receipts, reactions, DINGs, search and uploads.

Thin by design: parse, authorize (`OrgMember` resolves the organization; the service checks the
caller's seat in the conversation), call `tack.chat.service`, shape the response. Someone outside a
conversation gets 404 for everything in it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tack.chat import service
from tack.chat.schemas import (
    ConversationDetail,
    ConversationIn,
    ConversationMemberOut,
    ConversationOut,
    ConversationUpdate,
    DingDetail,
    DingIn,
    DingOut,
    DingSent,
    DirectIn,
    GroupIn,
    MemberRoleIn,
    MembersChanged,
    MembersIn,
    MessageEdit,
    MessageIn,
    MessageOut,
    MessagePage,
    ReactionIn,
    ReactionToggled,
    ReadIn,
    ReadState,
    Receipts,
    SearchPage,
    TypingIn,
    UploadOut,
)
from tack.core.auth import DB
from tack.core.config import get_settings
from tack.core.errors import ErrorEnvelope, Gone, PayloadTooLarge, error_responses
from tack.core.ids import ID_PATTERN
from tack.core.routing import domain_router
from tack.core.schemas import TEXT_PATTERN, CursorQuery, Id, IdPath, Input, LimitQuery, Page
from tack.orgs.access import OrgContext, OrgMember
from tack.stream.calls import register_action

router = domain_router(tags=["chat"])

CONVERSATION = "/orgs/{org_id}/conversations/{conversation_id}"
MESSAGE = CONVERSATION + "/messages/{message_id}"
DEFAULT_PAGE = 50
SeqQuery = Annotated[int | None, Query(ge=0, le=2**62, description="A message sequence number.")]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, description="An identifier (26 characters).")]
TextSearch = Annotated[str, Query(min_length=1, max_length=100, pattern=TEXT_PATTERN)]
FileName = Annotated[
    str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f/\\]+$", description="The file's name.")
]
ContentTypeQuery = Annotated[
    str | None,
    Query(max_length=100, pattern=r"^[A-Za-z0-9][\w.+\-]*/[A-Za-z0-9][\w.+\-]*$",
          description="Default: the request's Content-Type."),
]
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+\-]*/[A-Za-z0-9][\w.+\-]*$")
# Shown in the browser; anything else is downloaded, so an uploaded page cannot run as Tack.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "application/pdf",
                          "video/mp4", "audio/mpeg", "audio/ogg", "audio/webm", "video/webm"})
EXISTING = {"description": "It already existed (or the send was a retry): nothing new was made."}


# ---- conversations ------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/conversations", response_model=Page[ConversationOut], status_code=status.HTTP_200_OK)
async def list_conversations(
    ctx: OrgMember, db: DB, cursor: CursorQuery = None, limit: LimitQuery = DEFAULT_PAGE
) -> Page[ConversationOut]:
    """My conversations, most recently active first, with unread counts and the last message."""
    return await service.list_conversations(db, ctx, cursor=cursor, limit=limit)


@router.post(
    "/orgs/{org_id}/conversations",
    response_model=ConversationDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ConversationDetail, **EXISTING}},
)
async def create_conversation(body: ConversationIn, response: Response, ctx: OrgMember, db: DB) -> ConversationDetail:
    """Start a one-to-one conversation, a group, or a department or class group. One-to-one and
    department conversations are unique: asking again returns the existing one with 200."""
    if isinstance(body, DirectIn):
        seat, created = await service.open_direct(db, ctx, body.member_id)
    elif isinstance(body, GroupIn):
        seat = await service.create_group(
            db, ctx, name=body.name, member_ids=body.member_ids, announcement=body.announcement
        )
        created = True
    else:
        seat, created = await service.create_department_group(db, ctx, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return await service.conversation_detail(db, ctx, seat.conversation.id)


@router.get(CONVERSATION, response_model=ConversationDetail, status_code=status.HTTP_200_OK)
async def get_conversation(conversation_id: IdPath, ctx: OrgMember, db: DB) -> ConversationDetail:
    return await service.conversation_detail(db, ctx, conversation_id)


@router.patch(CONVERSATION, response_model=ConversationDetail, status_code=status.HTTP_200_OK)
async def update_conversation(
    conversation_id: IdPath, body: ConversationUpdate, ctx: OrgMember, db: DB
) -> ConversationDetail:
    """Rename a group or set its announcement (owner and admins)."""
    await service.update_conversation(db, ctx, conversation_id, body)
    return await service.conversation_detail(db, ctx, conversation_id)


@router.get(
    CONVERSATION + "/members", response_model=Page[ConversationMemberOut], status_code=status.HTTP_200_OK
)
async def list_conversation_members(
    conversation_id: IdPath, ctx: OrgMember, db: DB, cursor: CursorQuery = None, limit: LimitQuery = DEFAULT_PAGE
) -> Page[ConversationMemberOut]:
    """The people in a conversation by name, with their role and read position."""
    return await service.list_members(db, ctx, conversation_id, cursor=cursor, limit=limit)


@router.post(CONVERSATION + "/members", response_model=MembersChanged, status_code=status.HTTP_200_OK)
async def add_conversation_members(
    conversation_id: IdPath, body: MembersIn, ctx: OrgMember, db: DB
) -> MembersChanged:
    """Add people to a group (owner and admins); those already in it are skipped."""
    return await service.add_members(db, ctx, conversation_id, body.member_ids)


@router.patch(
    CONVERSATION + "/members/{member_id}", response_model=ConversationDetail, status_code=status.HTTP_200_OK
)
async def set_conversation_member_role(
    conversation_id: IdPath, member_id: IdPath, body: MemberRoleIn, ctx: OrgMember, db: DB
) -> ConversationDetail:
    """Make someone an admin or a plain member, or hand the group over (owner only)."""
    await service.set_member_role(db, ctx, conversation_id, member_id, body.role)
    return await service.conversation_detail(db, ctx, conversation_id)


@router.delete(
    CONVERSATION + "/members/{member_id}", response_model=None, status_code=status.HTTP_204_NO_CONTENT
)
async def remove_conversation_member(conversation_id: IdPath, member_id: IdPath, ctx: OrgMember, db: DB) -> None:
    """Remove someone from a group (owner and admins), or leave it (your own member id)."""
    await service.remove_member(db, ctx, conversation_id, member_id)


@router.post(CONVERSATION + "/read", response_model=ReadState, status_code=status.HTTP_200_OK)
async def mark_read(conversation_id: IdPath, body: ReadIn, ctx: OrgMember, db: DB) -> ReadState:
    """Move my read position forward to `seq` (it never moves back)."""
    return await service.mark_read(db, ctx, conversation_id, body.seq)


@router.post(CONVERSATION + "/typing", response_model=None, status_code=status.HTTP_204_NO_CONTENT)
async def typing(conversation_id: IdPath, body: TypingIn, ctx: OrgMember, db: DB) -> None:
    """Tell the others I am typing (not stored; delivered only to those connected now)."""
    await service.typing(db, ctx, conversation_id, body.typing)


# ---- messages -----------------------------------------------------------------------------------


@router.get(CONVERSATION + "/messages", response_model=MessagePage, status_code=status.HTTP_200_OK)
async def list_messages(
    conversation_id: IdPath,
    ctx: OrgMember,
    db: DB,
    before: SeqQuery = None,
    after: SeqQuery = None,
    limit: LimitQuery = DEFAULT_PAGE,
) -> MessagePage:
    """History by sequence number: the latest page, the page before `before`, or after `after`."""
    return await service.history(db, ctx, conversation_id, before=before, after=after, limit=limit)


@router.post(
    CONVERSATION + "/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": MessageOut, **EXISTING}},
)
async def send_message(conversation_id: IdPath, body: MessageIn, response: Response, ctx: OrgMember,
                       db: DB) -> MessageOut:
    """Send a message. Retrying with the same client_msg_id returns the first one with 200."""
    message, created = await service.send_message(db, ctx, conversation_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return message


@router.get(MESSAGE, response_model=MessageOut, status_code=status.HTTP_200_OK)
async def get_message(conversation_id: IdPath, message_id: IdPath, ctx: OrgMember, db: DB) -> MessageOut:
    return await service.get_message(db, ctx, conversation_id, message_id)


@router.patch(MESSAGE, response_model=MessageOut, status_code=status.HTTP_200_OK)
async def edit_message(
    conversation_id: IdPath, message_id: IdPath, body: MessageEdit, ctx: OrgMember, db: DB
) -> MessageOut:
    """Change my message's text within 24 hours of sending it."""
    return await service.edit_message(db, ctx, conversation_id, message_id, body)


@router.post(MESSAGE + "/recall", response_model=MessageOut, status_code=status.HTTP_200_OK)
async def recall_message(conversation_id: IdPath, message_id: IdPath, ctx: OrgMember, db: DB) -> MessageOut:
    """Take a message back (the sender within 24 hours; a group's owner and admins any message)."""
    return await service.recall_message(db, ctx, conversation_id, message_id)


@router.post(MESSAGE + "/reactions", response_model=ReactionToggled, status_code=status.HTTP_200_OK)
async def toggle_reaction(
    conversation_id: IdPath, message_id: IdPath, body: ReactionIn, ctx: OrgMember, db: DB
) -> ReactionToggled:
    """Add my reaction with this emoji, or take it back if I had already reacted with it."""
    return await service.toggle_reaction(db, ctx, conversation_id, message_id, body.emoji)


@router.get(MESSAGE + "/receipts", response_model=Receipts, status_code=status.HTTP_200_OK)
async def message_receipts(conversation_id: IdPath, message_id: IdPath, ctx: OrgMember, db: DB) -> Receipts:
    """Who has read my message and who has not (the sender only)."""
    return await service.receipts(db, ctx, conversation_id, message_id)


@router.get("/orgs/{org_id}/messages/search", response_model=SearchPage, status_code=status.HTTP_200_OK)
async def search_messages(
    ctx: OrgMember,
    db: DB,
    q: TextSearch,
    conversation_id: IdQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> SearchPage:
    """Search the messages of my conversations (or of one), newest first."""
    return await service.search(db, ctx, q=q, conversation_id=conversation_id, cursor=cursor, limit=limit)


# ---- DING ---------------------------------------------------------------------------------------


@router.post(
    CONVERSATION + "/dings",
    response_model=DingSent,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": DingSent, **EXISTING}},
)
async def send_ding(conversation_id: IdPath, body: DingIn, response: Response, ctx: OrgMember, db: DB) -> DingSent:
    """Send an urgent message to chosen people in the conversation; it stays on top of their DING
    inbox until they acknowledge it and is sent again every `remind_after_minutes` until then."""
    sent, created = await service.send_ding(db, ctx, conversation_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return sent


@router.get("/orgs/{org_id}/dings", response_model=list[DingOut], status_code=status.HTTP_200_OK)
async def list_dings(
    ctx: OrgMember,
    db: DB,
    box: Annotated[Literal["inbox", "sent"], Query(description="inbox: to me; sent: from me.")] = "inbox",
    limit: LimitQuery = DEFAULT_PAGE,
) -> list[DingOut]:
    """DINGs to me (not yet acknowledged first), or the ones I sent."""
    return await service.list_dings(db, ctx, box=box, limit=limit)


@router.get("/orgs/{org_id}/dings/{ding_id}", response_model=DingDetail, status_code=status.HTTP_200_OK)
async def get_ding(ding_id: IdPath, ctx: OrgMember, db: DB) -> DingDetail:
    """A DING with who has acknowledged it (its sender and recipients)."""
    return await service.ding_detail(db, ctx, ding_id)


@router.post("/orgs/{org_id}/dings/{ding_id}/ack", response_model=DingDetail, status_code=status.HTTP_200_OK)
async def acknowledge_ding(ding_id: IdPath, ctx: OrgMember, db: DB) -> DingDetail:
    """Acknowledge a DING sent to me; acknowledging again changes nothing."""
    return await service.acknowledge_ding(db, ctx, ding_id)


# ---- uploads ------------------------------------------------------------------------------------

# With an S3-compatible bucket configured, the bucket can be unreachable or refuse (StorageUnavailable).
_STORAGE_UNAVAILABLE = {503: {"model": ErrorEnvelope, "description": "File storage is not available right now."}}


@router.post(
    "/orgs/{org_id}/uploads",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    responses={**error_responses(413), **_STORAGE_UNAVAILABLE},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes, as the whole request body.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_file(
    request: Request, ctx: OrgMember, db: DB, name: FileName, content_type: ContentTypeQuery = None
) -> UploadOut:
    """Upload a file (the raw body) to send as an image or file message."""
    max_bytes = get_settings().upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes.", code="file_too_large",
                              details={"max_bytes": max_bytes})
    kind = content_type or request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _CONTENT_TYPE.match(kind) or kind.startswith("multipart/"):
        kind = "application/octet-stream"
    upload = await service.store_upload(db, ctx, name=name, content_type=kind.lower(), chunks=request.stream())
    return service.upload_out(upload)


@router.get(
    "/orgs/{org_id}/uploads/{upload_id}",
    response_model=None,
    response_class=FileResponse,
    status_code=status.HTTP_200_OK,
    responses={200: {"description": "The file's bytes, with its content type.",
                     "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
               **error_responses(410), **_STORAGE_UNAVAILABLE},
)
async def download_file(upload_id: IdPath, ctx: OrgMember, db: DB) -> Response:
    """A file I uploaded or that was sent in one of my conversations."""
    upload = await service.get_upload(db, ctx, upload_id)
    inline = upload.content_type in INLINE_TYPES
    headers = {
        "Content-Disposition": _disposition("inline" if inline else "attachment", upload.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=31536000, immutable",
    }
    media_type = upload.content_type if inline else "application/octet-stream"
    storage = service.get_storage()
    path = storage.local_path(upload.storage_key)
    if path is not None:
        if not path.is_file():
            raise Gone("This file's contents are no longer stored.", code="upload_missing")
        return FileResponse(path, media_type=media_type, headers=headers)
    # Read the first chunk before answering, so a missing file or an unusable bucket still gets a
    # proper error response instead of a cut-off 200.
    chunks = storage.read(upload.storage_key)
    try:
        first = await anext(chunks, b"")
    except FileNotFoundError:
        raise Gone("This file's contents are no longer stored.", code="upload_missing") from None
    headers["Content-Length"] = str(upload.size)
    return StreamingResponse(_prepended(first, chunks), media_type=media_type, headers=headers)


async def _prepended(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`first`, then the rest of the file's chunks."""
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _disposition(kind: str, name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# ---- over the stream ----------------------------------------------------------------------------


class SendCall(Input):
    """Params of the stream call "chat.send" (docs/stream.md): what POST .../messages takes."""

    conversation_id: Id
    message: MessageIn


async def send_over_stream(db: AsyncSession, ctx: OrgContext, params: dict[str, Any]) -> dict[str, Any]:
    """The stream call "chat.send": a message sent over the client's open stream connection."""
    call = SendCall.model_validate(params)
    message, created = await service.send_message(db, ctx, call.conversation_id, call.message)
    return {"created": created, "message": message.model_dump(mode="json")}


register_action("chat.send", send_over_stream)
