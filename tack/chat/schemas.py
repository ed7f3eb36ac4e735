"""Request and response bodies of conversations, messages, read receipts, DINGs and uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tack.chat.models import ConversationKind, ConversationRole, MessageKind
from tack.core.schemas import TEXT_PATTERN, Id, Input, Name, Schema

MAX_GROUP_MEMBERS = 3000
MAX_BODY = 10_000
MAX_MENTIONS = 100
MAX_DING_RECIPIENTS = 500

Body = Annotated[str, StringConstraints(max_length=MAX_BODY, pattern=TEXT_PATTERN)]
Announcement = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=TEXT_PATTERN)]
ClientMsgId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$"),
]
# One emoji (possibly a sequence with joiners and modifiers) or a short name such as ":thumbsup:":
# printable, no spaces, so it can be shown as it is.
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
HttpUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]
CardText = Annotated[str, StringConstraints(max_length=200, pattern=TEXT_PATTERN)]
CardDescription = Annotated[str, StringConstraints(max_length=1000, pattern=TEXT_PATTERN)]


# ---- conversations ------------------------------------------------------------------------------


class DirectIn(Input):
    """A one-to-one conversation with `member_id`; asking again returns the existing one."""

    kind: Literal["direct"]
    member_id: Id


class GroupIn(Input):
    """A group; the caller is its owner and is added whether listed or not."""

    kind: Literal["group"]
    name: Name
    member_ids: list[Id] = Field(default=[], max_length=MAX_GROUP_MEMBERS)
    announcement: Announcement | None = None


class DepartmentGroupIn(Input):
    """The group of a department (organization administrators), or in a school the group of a class:
    its teachers, students and the students' parents (administrators and the class's teachers).
    Membership follows the department. Asking again returns the existing group."""

    kind: Literal["department", "class"]
    department_id: Id
    name: Name | None = Field(default=None, description="Default: the department's name.")


ConversationIn = Annotated[DirectIn | GroupIn | DepartmentGroupIn, Field(discriminator="kind")]


class ConversationUpdate(Input):
    name: Name | None = None
    announcement: Announcement | None = Field(default=None, description="An empty string clears it.")


class MessagePreview(Schema):
    id: str
    seq: int
    sender_id: str
    sender_name: str
    kind: MessageKind
    text: str = Field(description="A short plain preview: the start of the text, or [Image], [File] name, ...")
    created_at: datetime
    recalled: bool


class ConversationOut(Schema):
    id: str
    kind: ConversationKind
    name: str = Field(description="A group's name; for a one-to-one conversation, the other person's name.")
    announcement: str | None
    owner_id: str | None
    department_id: str | None
    peer_id: str | None = Field(description="In a one-to-one conversation: the other member.")
    member_count: int
    last_seq: int = Field(description="The sequence number of the latest message (0: none yet).")
    last_activity_at: datetime
    created_at: datetime
    my_role: ConversationRole
    read_seq: int = Field(description="My read position: I have read every message up to this sequence.")
    unread_count: int = Field(description="Messages from others after my read position.")
    last_message: MessagePreview | None


class ConversationDetail(ConversationOut):
    admin_ids: list[str]


class ConversationMemberOut(Schema):
    member_id: str
    display_name: str
    role: ConversationRole
    source: str = Field(description="manual, or department when membership follows the department.")
    read_seq: int
    joined_at: datetime


class MembersIn(Input):
    member_ids: list[Id] = Field(min_length=1, max_length=MAX_GROUP_MEMBERS)


class MembersChanged(Schema):
    conversation_id: str
    added: list[str] = []
    member_count: int


class MemberRoleIn(Input):
    role: ConversationRole = Field(
        description="admin or member; owner hands the group over (the previous owner becomes an admin)."
    )


# ---- messages -----------------------------------------------------------------------------------


class LinkCard(Input):
    """A link preview the client made; the server does not fetch anything."""

    url: HttpUrl
    title: CardText
    description: CardDescription | None = None
    image_url: HttpUrl | None = None


class MessageIn(Input):
    client_msg_id: ClientMsgId = Field(
        description="Chosen by the client, unique per sender and conversation: a retry with the same id "
        "returns the first message (200) instead of making a second one."
    )
    kind: MessageKind = MessageKind.text
    body: Body | None = Field(default=None, description="Text or markdown source; a caption for files.")
    mentions: list[Id] = Field(default=[], max_length=MAX_MENTIONS, description="Member ids @mentioned.")
    mention_all: bool = Field(default=False, description="@all: group owners and admins only.")
    upload_id: Id | None = Field(default=None, description="For image and file messages: from POST .../uploads.")
    link: LinkCard | None = Field(default=None, description="For link messages.")
    reply_to_id: Id | None = Field(default=None, description="The message this one replies to (quoted).")


class MessageEdit(Input):
    body: Body
    mentions: list[Id] | None = Field(default=None, max_length=MAX_MENTIONS)


class FileOut(Schema):
    upload_id: str
    name: str
    content_type: str
    size: int
    url: str


class LinkCardOut(Schema):
    url: str
    title: str
    description: str | None = None
    image_url: str | None = None


class QuotedMessage(Schema):
    id: str
    seq: int
    sender_id: str
    sender_name: str
    kind: MessageKind
    snippet: str = Field(description="Empty when the quoted message was recalled.")
    recalled: bool


class ReactionOut(Schema):
    emoji: str
    count: int
    member_ids: list[str] = Field(description="Who reacted (the first 20).")
    me: bool = Field(description="Whether the caller reacted with this emoji.")


class MessageOut(Schema):
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    sender_name: str
    client_msg_id: str
    kind: MessageKind
    body: str | None = Field(description="Null once recalled.")
    mentions: list[str]
    mention_all: bool
    file: FileOut | None = None
    link: LinkCardOut | None = None
    reply_to: QuotedMessage | None = None
    reactions: list[ReactionOut] = []
    is_ding: bool = False
    created_at: datetime
    edited_at: datetime | None = None
    recalled_at: datetime | None = None
    recalled_by: str | None = None
    read_count: int | None = Field(default=None, description="For the sender only: members who have read it.")
    unread_count: int | None = Field(default=None, description="For the sender only: members who have not.")


class MessagePage(Schema):
    items: list[MessageOut] = Field(description="In sequence order, oldest first.")
    has_more: bool = Field(description="Whether more messages lie further in the direction paged.")


class ReadIn(Input):
    seq: int = Field(ge=0, le=2**62, description="I have read up to this sequence (larger ones are clamped).")


class ReadState(Schema):
    conversation_id: str
    read_seq: int
    unread_count: int


class MemberBrief(Schema):
    member_id: str
    display_name: str


class Receipts(Schema):
    message_id: str
    read_count: int
    unread_count: int
    read: list[MemberBrief]
    unread: list[MemberBrief]


class ReactionIn(Input):
    emoji: Emoji


class ReactionToggled(Schema):
    message_id: str
    emoji: str
    added: bool = Field(description="True if the caller's reaction was added, false if it was taken back.")
    reactions: list[ReactionOut]


class SearchHit(Schema):
    message: MessageOut
    conversation_name: str


class SearchPage(Schema):
    items: list[SearchHit]
    next_cursor: str | None = None


# ---- DING ---------------------------------------------------------------------------------------


class DingIn(Input):
    client_msg_id: ClientMsgId
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY, pattern=TEXT_PATTERN)]
    recipient_ids: list[Id] = Field(min_length=1, max_length=MAX_DING_RECIPIENTS)
    remind_after_minutes: int | None = Field(
        default=None, ge=1, le=1440, description="Notify again whoever has not acknowledged after this long."
    )
    max_reminders: int = Field(default=3, ge=0, le=10)


class DingRecipientOut(Schema):
    member_id: str
    display_name: str
    acknowledged_at: datetime | None


class DingOut(Schema):
    id: str = Field(description="The DING's id, which is also its message's id.")
    conversation_id: str
    sender_id: str
    sender_name: str
    body: str | None
    created_at: datetime
    remind_after_minutes: int | None
    next_remind_at: datetime | None
    recipient_count: int
    acknowledged_count: int
    acknowledged_at: datetime | None = Field(description="When the caller acknowledged it (recipients).")


class DingDetail(DingOut):
    recipients: list[DingRecipientOut]


class DingSent(Schema):
    ding: DingOut
    message: MessageOut


# ---- uploads ------------------------------------------------------------------------------------


class UploadOut(Schema):
    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    url: str
    created_at: datetime


class TypingIn(Input):
    typing: bool = True
