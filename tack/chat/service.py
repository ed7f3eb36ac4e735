"""The rules of conversations, messages, read receipts, reactions, DINGs, search and uploads.

Writes are actions: they take the request's session, change rows, append the events clients must
see with `emit` in the same transaction, flush, and never commit (the request commits once).

Costs that matter:
- Sending a message is a handful of statements whatever the group size: the caller's seat (with
  the conversation row locked and its member count), the message row (INSERT ... ON CONFLICT DO
  NOTHING on the idempotency key, so a retry inserts nothing), the conversation's last message,
  the sender's own read position, and one event on the conversation's channel; all prebuilt
  (tests/test_chat_send_cost.py counts them). Recipients are never enumerated: the stream fans
  the event out to connections.
- Read positions in groups above READ_BROADCAST_MEMBERS go only to the reader's and the senders'
  own channels (see _announce_read): a broadcast would cost members x readers deliveries.
- Read receipts are watermarks (see tack/chat/models.py): marking read moves one row forward.
- Adding members in bulk is one INSERT ... SELECT, not a statement per member. Each new member does
  get one event on their own channel, which is how their open connections learn to subscribe.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    column,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tack.chat.models import (
    DERIVED_KINDS,
    Conversation,
    ConversationKind,
    ConversationMember,
    ConversationRole,
    Ding,
    DingRecipient,
    MemberSource,
    Message,
    MessageKind,
    Reaction,
    Upload,
)
from tack.chat.schemas import (
    MAX_GROUP_MEMBERS,
    ConversationDetail,
    ConversationMemberOut,
    ConversationOut,
    ConversationUpdate,
    DepartmentGroupIn,
    DingDetail,
    DingIn,
    DingOut,
    DingRecipientOut,
    DingSent,
    FileOut,
    LinkCardOut,
    MemberBrief,
    MembersChanged,
    MessageEdit,
    MessageIn,
    MessageOut,
    MessagePage,
    MessagePreview,
    QuotedMessage,
    ReactionOut,
    ReactionToggled,
    ReadState,
    Receipts,
    SearchHit,
    SearchPage,
    UploadOut,
)
from tack.core.broker import publish_ephemeral
from tack.core.config import get_settings
from tack.core.db import utcnow
from tack.core.errors import Conflict, Forbidden, NotFound, TackError, Unprocessable
from tack.core.events import (
    NewEvent,
    conversation_channel,
    emit,
    emit_many,
    member_channel,
    register_channel_provider,
)
from tack.core.ids import ID_PATTERN, new_id
from tack.core.prepared import Prepared
from tack.core.schemas import Page
from tack.core.storage import get_storage
from tack.core.tenancy import scoped, scoped_delete, scoped_update
from tack.orgs import service as orgs_service
from tack.orgs.access import OrgContext
from tack.orgs.models import (
    Department,
    DepartmentKind,
    GuardianLink,
    MemberDepartment,
    Membership,
    MemberStatus,
    OrgKind,
    Role,
)
from tack.orgs.search import like_pattern

EDIT_WINDOW = timedelta(hours=24)
PREVIEW_CHARS = 80
SNIPPET_CHARS = 120
REACTORS_SHOWN = 20
_ID = re.compile(ID_PATTERN)
# Scripts written without spaces between words: full-text search cannot find words inside them
# (neither FTS5's unicode61 nor PostgreSQL's 'simple' configuration segments them), so queries in
# them fall back to substring matching.
_UNSEGMENTED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u0e00-\u0e7f]")
_WORD = re.compile(r"\w+")
GROUP_KINDS = frozenset({ConversationKind.group, *DERIVED_KINDS})
MANAGER_ROLES = frozenset({ConversationRole.owner, ConversationRole.admin})


# ---- small helpers ------------------------------------------------------------------------------


def _encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[str]:
    """A cursor's values (strings); anything else is refused before it reaches the database."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        valid = (
            isinstance(values, list)
            and len(values) == size
            and all(isinstance(v, str) and len(v) <= 200 and "\x00" not in v for v in values)
        )
        if valid:
            for v in values:
                v.encode("utf-8")
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor")
    return values


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor") from None
    if parsed.tzinfo is None:
        raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor")
    return parsed


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def _names(db: AsyncSession, org_id: str, member_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(member_ids))
    if not wanted:
        return {}
    rows = await db.execute(
        scoped(Membership, org_id, Membership.id, Membership.display_name).where(Membership.id.in_(wanted))
    )
    return dict(rows.all())


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _within_edit_window(message: Message, now: datetime) -> bool:
    return now - message.created_at <= EDIT_WINDOW


# ---- seats: who is in which conversation --------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """The caller's place in a conversation; having one is what lets them see it."""

    conversation: Conversation
    member: ConversationMember
    # Only for reads: more than READ_BROADCAST_MEMBERS members (see _announce_read); None otherwise.
    large: bool | None = None

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    @property
    def role(self) -> str:
        return self.member.role

    @property
    def manages(self) -> bool:
        return self.conversation.kind in GROUP_KINDS and self.member.role in MANAGER_ROLES


def _not_seated() -> NotFound:
    return NotFound("There is no such conversation, or you are not in it.", code="conversation_not_found")


async def get_seat(db: AsyncSession, ctx: OrgContext, conversation_id: str, *, for_read: bool = False) -> Seat:
    """The conversation, if the caller is in it. Outsiders get 404: they do not learn it exists."""
    params = {"org_id": ctx.org_id, "conversation_id": conversation_id, "member_id": ctx.member.id}
    statement = _SEAT
    if for_read:
        statement, params["broadcast_limit"] = _SEAT_FOR_READ, READ_BROADCAST_MEMBERS
    row = (await db.execute(statement, params)).first()
    if row is None:
        raise _not_seated()
    return Seat(conversation=row[0], member=row[1], large=row[2] is not None if for_read else None)


@dataclass(frozen=True, slots=True)
class SendSeat:
    """The caller's place in a conversation as a send needs it: plain values, not ORM objects (a
    send is the busiest write; see get_send_seat)."""

    conversation_id: str
    kind: str
    last_seq: int
    role: str
    member_count: int  # the new message's unread count is this minus its sender

    @property
    def manages(self) -> bool:
        return self.kind in GROUP_KINDS and self.role in MANAGER_ROLES


async def get_send_seat(db: AsyncSession, ctx: OrgContext, conversation_id: str) -> SendSeat:
    """The caller's seat for sending, with the conversation row locked; 404 for outsiders.

    The lock is taken now rather than at the sequence increment, so a retried send that races its
    first attempt waits for it and then finds its message (200) instead of failing on the unique
    client id. It is the lock the increment takes anyway (FOR NO KEY UPDATE, which foreign-key
    checks of new members and messages do not wait for); SQLite serializes writers already. Read
    fresh with the lock, so the sequence number taken from it is the row's as locked now.
    """
    row = await _SEAT_FOR_SEND.first(
        db, {"org_id": ctx.org_id, "conversation_id": conversation_id, "member_id": ctx.member.id}
    )
    if row is None:
        raise _not_seated()
    kind, last_seq, role, member_count = row
    return SendSeat(conversation_id, kind, int(last_seq), role, int(member_count))


# Built once (bound parameters, no per-call construction): every action in a conversation runs one.
_SEAT = (
    select(Conversation, ConversationMember)
    .join(
        ConversationMember,
        and_(
            ConversationMember.org_id == Conversation.org_id,
            ConversationMember.conversation_id == Conversation.id,
            ConversationMember.member_id == bindparam("member_id"),
        ),
    )
    .where(Conversation.org_id == bindparam("org_id"), Conversation.id == bindparam("conversation_id"))
)
_counted = ConversationMember.__table__.alias("counted")
_same_conversation = and_(_counted.c.org_id == Conversation.org_id, _counted.c.conversation_id == Conversation.id)
_conversations = Conversation.__table__
_conversation_members = ConversationMember.__table__
# Core columns, prepared (tack/core/prepared.py): every message runs it.
_SEAT_FOR_SEND = Prepared(
    select(
        _conversations.c.kind,
        _conversations.c.last_seq,
        _conversation_members.c.role,
        select(func.count())
        .select_from(_counted)
        .where(_counted.c.org_id == _conversations.c.org_id, _counted.c.conversation_id == _conversations.c.id)
        .correlate(_conversations)
        .scalar_subquery(),
    )
    .select_from(
        _conversations.join(
            _conversation_members,
            and_(
                _conversation_members.c.org_id == _conversations.c.org_id,
                _conversation_members.c.conversation_id == _conversations.c.id,
                _conversation_members.c.member_id == bindparam("member_id"),
            ),
        )
    )
    .where(_conversations.c.org_id == bindparam("org_id"), _conversations.c.id == bindparam("conversation_id"))
    .with_for_update(of=_conversations, key_share=True)
)
# Reads only need to know whether the group is large: a member past the limit exists or not,
# which reads at most limit + 1 index entries instead of counting a 3,000-member group per read.
_SEAT_FOR_READ = _SEAT.add_columns(
    select(literal(1))
    .select_from(_counted)
    .where(_same_conversation)
    .correlate(Conversation)
    .limit(1)
    .offset(bindparam("broadcast_limit"))
    .scalar_subquery()
)


def _require_group(seat: Seat) -> None:
    if seat.conversation.kind not in GROUP_KINDS:
        raise Conflict("A one-to-one conversation has no name, admins or members to change.", code="not_a_group")


def _require_manager(seat: Seat) -> None:
    _require_group(seat)
    if seat.member.role not in MANAGER_ROLES:
        raise Forbidden("Only the group's owner and admins can do this.", code="group_admin_required")


async def member_conversation_channels(db: AsyncSession, org_id: str, member_id: str) -> set[str]:
    """Channel provider for the stream: the conversations this member is in."""
    rows = await db.execute(
        scoped(ConversationMember, org_id, ConversationMember.conversation_id).where(
            ConversationMember.member_id == member_id
        )
    )
    return {conversation_channel(cid) for cid in rows.scalars()}


async def _seated(db: AsyncSession, org_id: str, conversation_id: str, member_ids: Sequence[str]) -> set[str]:
    """Which of these people are in the conversation."""
    rows = await db.execute(
        scoped(ConversationMember, org_id, ConversationMember.member_id).where(
            ConversationMember.conversation_id == conversation_id, ConversationMember.member_id.in_(member_ids)
        )
    )
    return set(rows.scalars())


async def _member_count(db: AsyncSession, org_id: str, conversation_id: str) -> int:
    return (await db.execute(_MEMBER_COUNT, {"org_id": org_id, "conversation_id": conversation_id})).scalar_one()


_MEMBER_COUNT = select(func.count()).select_from(ConversationMember.__table__).where(
    ConversationMember.__table__.c.org_id == bindparam("org_id"),
    ConversationMember.__table__.c.conversation_id == bindparam("conversation_id"),
)


async def _announce_joined(db: AsyncSession, org_id: str, conversation_id: str, member_ids: Iterable[str]) -> None:
    """Tell each new member's connections to subscribe to the conversation (see tack/core/events.py)."""
    channel = conversation_channel(conversation_id)
    data = {"join_channel": channel, "conversation_id": conversation_id}
    await emit_many(
        db, org_id=org_id,
        events=[NewEvent(member_channel(member_id), "conversation.joined", data) for member_id in member_ids],
    )


async def _announce_left(db: AsyncSession, org_id: str, conversation_id: str, member_ids: Sequence[str]) -> None:
    if not member_ids:
        return
    # On the conversation first, so the people leaving see it too; then they unsubscribe.
    await emit(
        db, org_id=org_id, channel=conversation_channel(conversation_id), kind="conversation.members_removed",
        data={"conversation_id": conversation_id, "member_ids": list(member_ids)},
    )
    channel = conversation_channel(conversation_id)
    data = {"leave_channel": channel, "conversation_id": conversation_id}
    await emit_many(
        db, org_id=org_id,
        events=[NewEvent(member_channel(member_id), "conversation.left", data) for member_id in member_ids],
    )


# ---- conversations: reading ---------------------------------------------------------------------


def _preview_text(message: Message) -> str:
    if message.recalled_at is not None:
        return "[Recalled]"
    attachment = message.attachment or {}
    if message.kind == MessageKind.image:
        return "[Image]"
    if message.kind == MessageKind.file:
        return f"[File] {attachment.get('name', '')}".strip()
    if message.kind == MessageKind.link and not message.body:
        return f"[Link] {attachment.get('title', '')}".strip()
    text_ = " ".join((message.body or "").split())
    prefix = "[DING] " if message.is_ding else ""
    return prefix + (text_[:PREVIEW_CHARS] + "…" if len(text_) > PREVIEW_CHARS else text_)


def _peer_id(conversation: Conversation, me: str) -> str | None:
    if conversation.kind != ConversationKind.direct or not conversation.direct_key:
        return None
    first, _, second = conversation.direct_key.partition(":")
    return second if first == me else first


async def _unread_counts(db: AsyncSession, org_id: str, member_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
    """Messages from others after the member's read position, per conversation, in one query."""
    if not conversation_ids:
        return {}
    rows = await db.execute(
        scoped(Message, org_id, Message.conversation_id, func.count())
        .join(
            ConversationMember,
            and_(
                ConversationMember.org_id == Message.org_id,
                ConversationMember.conversation_id == Message.conversation_id,
                ConversationMember.member_id == member_id,
            ),
        )
        .where(
            Message.conversation_id.in_(list(conversation_ids)),
            Message.seq > ConversationMember.read_seq,
            Message.sender_id != member_id,
            Message.recalled_at.is_(None),
        )
        .group_by(Message.conversation_id)
    )
    return dict(rows.all())


async def conversation_outs(
    db: AsyncSession, ctx: OrgContext, seats: Sequence[tuple[Conversation, ConversationMember]]
) -> list[ConversationOut]:
    """ConversationOut for many conversations with four queries in all."""
    if not seats:
        return []
    me = ctx.member.id
    ids = [c.id for c, _ in seats]
    counts = dict(
        (
            await db.execute(
                scoped(ConversationMember, ctx.org_id, ConversationMember.conversation_id, func.count())
                .where(ConversationMember.conversation_id.in_(ids))
                .group_by(ConversationMember.conversation_id)
            )
        ).all()
    )
    unread = await _unread_counts(db, ctx.org_id, me, ids)
    last_ids = [c.last_message_id for c, _ in seats if c.last_message_id]
    last: dict[str, Message] = {}
    if last_ids:
        last = {m.id: m for m in (await db.execute(scoped(Message, ctx.org_id).where(Message.id.in_(last_ids)))).scalars()}
    people = {m.sender_id for m in last.values()} | {p for c, _ in seats if (p := _peer_id(c, me))}
    names = await _names(db, ctx.org_id, people)
    result = []
    for conversation, seat in seats:
        peer = _peer_id(conversation, me)
        message = last.get(conversation.last_message_id or "")
        preview = None
        if message is not None:
            preview = MessagePreview(
                id=message.id, seq=message.seq, sender_id=message.sender_id,
                sender_name=names.get(message.sender_id, ""), kind=MessageKind(message.kind),
                text=_preview_text(message), created_at=message.created_at,
                recalled=message.recalled_at is not None,
            )
        result.append(
            ConversationOut(
                id=conversation.id,
                kind=ConversationKind(conversation.kind),
                name=(names.get(peer, "") if peer else conversation.name) or "",
                announcement=conversation.announcement,
                owner_id=conversation.owner_id,
                department_id=conversation.department_id,
                peer_id=peer,
                member_count=counts.get(conversation.id, 0),
                last_seq=conversation.last_seq,
                last_activity_at=conversation.last_activity_at,
                created_at=conversation.created_at,
                my_role=ConversationRole(seat.role),
                read_seq=seat.read_seq,
                unread_count=unread.get(conversation.id, 0),
                last_message=preview,
            )
        )
    return result


async def list_conversations(
    db: AsyncSession, ctx: OrgContext, *, cursor: str | None, limit: int
) -> Page[ConversationOut]:
    """My conversations, the most recently active first."""
    stmt = (
        scoped(Conversation, ctx.org_id)
        .add_columns(ConversationMember)
        .join(
            ConversationMember,
            and_(
                ConversationMember.org_id == Conversation.org_id,
                ConversationMember.conversation_id == Conversation.id,
                ConversationMember.member_id == ctx.member.id,
            ),
        )
    )
    if cursor:
        at, after_id = _decode_cursor(cursor, 2)
        if not _ID.match(after_id):
            raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor")
        when = _parse_time(at)
        stmt = stmt.where(
            or_(
                Conversation.last_activity_at < when,
                and_(Conversation.last_activity_at == when, Conversation.id < after_id),
            )
        )
    stmt = stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc()).limit(limit + 1)
    rows = [(c, m) for c, m in (await db.execute(stmt)).all()]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        tail = page[-1][0]
        next_cursor = _encode_cursor(tail.last_activity_at.isoformat(), tail.id)
    return Page[ConversationOut](items=await conversation_outs(db, ctx, page), next_cursor=next_cursor)


async def conversation_detail(db: AsyncSession, ctx: OrgContext, conversation_id: str) -> ConversationDetail:
    seat = await get_seat(db, ctx, conversation_id)
    [out] = await conversation_outs(db, ctx, [(seat.conversation, seat.member)])
    admins = (
        await db.execute(
            scoped(ConversationMember, ctx.org_id, ConversationMember.member_id)
            .where(
                ConversationMember.conversation_id == conversation_id,
                ConversationMember.role == ConversationRole.admin,
            )
            .order_by(ConversationMember.member_id)
        )
    ).scalars()
    return ConversationDetail(**out.model_dump(), admin_ids=list(admins))


async def list_members(
    db: AsyncSession, ctx: OrgContext, conversation_id: str, *, cursor: str | None, limit: int
) -> Page[ConversationMemberOut]:
    await get_seat(db, ctx, conversation_id)
    stmt = (
        scoped(ConversationMember, ctx.org_id)
        .add_columns(Membership.display_name, Membership.sort_name)
        .join(
            Membership,
            and_(Membership.org_id == ConversationMember.org_id, Membership.id == ConversationMember.member_id),
        )
        .where(ConversationMember.conversation_id == conversation_id)
    )
    if cursor:
        after_name, after_id = _decode_cursor(cursor, 2)
        stmt = stmt.where(
            or_(Membership.sort_name > after_name, and_(Membership.sort_name == after_name, Membership.id > after_id))
        )
    rows = (await db.execute(stmt.order_by(Membership.sort_name, Membership.id).limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        ConversationMemberOut(
            member_id=m.member_id, display_name=name, role=ConversationRole(m.role), source=m.source,
            read_seq=m.read_seq, joined_at=m.joined_at,
        )
        for m, name, _ in page
    ]
    next_cursor = _encode_cursor(page[-1][2], page[-1][0].member_id) if more else None
    return Page[ConversationMemberOut](items=items, next_cursor=next_cursor)


# ---- conversations: creating and changing -------------------------------------------------------


async def _active_member_ids(db: AsyncSession, org_id: str, member_ids: Sequence[str]) -> set[str]:
    if not member_ids:
        return set()
    rows = await db.execute(
        scoped(Membership, org_id, Membership.id).where(
            Membership.id.in_(list(member_ids)), Membership.status == MemberStatus.active
        )
    )
    return set(rows.scalars())


async def _require_active_members(db: AsyncSession, org_id: str, member_ids: Sequence[str]) -> None:
    missing = set(member_ids) - await _active_member_ids(db, org_id, member_ids)
    if missing:
        raise Unprocessable(
            "Some of these people are not members of this organization.",
            code="member_not_found",
            details={"member_ids": sorted(missing)[:20]},
        )


def _seat_row(org_id: str, conversation_id: str, member_id: str, *, role: str = ConversationRole.member,
              source: str = MemberSource.manual, read_seq: int = 0) -> ConversationMember:
    return ConversationMember(
        org_id=org_id, conversation_id=conversation_id, member_id=member_id, role=role, source=source,
        read_seq=read_seq, joined_at=utcnow(),
    )


async def open_direct(db: AsyncSession, ctx: OrgContext, peer_id: str) -> tuple[Seat, bool]:
    """The one-to-one conversation with `peer_id`, made if there is none; (seat, created)."""
    me = ctx.member.id
    if peer_id == me:
        raise Unprocessable("Pick someone else to talk to.", code="cannot_message_self")
    if not await _active_member_ids(db, ctx.org_id, [peer_id]):
        raise NotFound("There is no such member in this organization.", code="member_not_found")
    key = ":".join(sorted((me, peer_id)))
    conversation = (
        await db.execute(scoped(Conversation, ctx.org_id).where(Conversation.direct_key == key))
    ).scalar_one_or_none()
    if conversation is not None:
        seats = {
            s.member_id: s
            for s in (
                await db.execute(
                    scoped(ConversationMember, ctx.org_id).where(ConversationMember.conversation_id == conversation.id)
                )
            ).scalars()
        }
        # Someone who left the organization and came back gets their seat back.
        missing = [m for m in (me, peer_id) if m not in seats]
        for member_id in missing:
            seats[member_id] = _seat_row(ctx.org_id, conversation.id, member_id, read_seq=conversation.last_seq)
            db.add(seats[member_id])
        if missing:
            await db.flush()
            await _announce_joined(db, ctx.org_id, conversation.id, missing)
        return Seat(conversation, seats[me]), False
    conversation = Conversation(
        org_id=ctx.org_id, kind=ConversationKind.direct, direct_key=key, created_by=me,
        created_at=utcnow(), last_activity_at=utcnow(), last_seq=0,
    )
    db.add(conversation)
    await db.flush()
    mine = _seat_row(ctx.org_id, conversation.id, me)
    db.add_all([mine, _seat_row(ctx.org_id, conversation.id, peer_id)])
    await db.flush()
    await _announce_joined(db, ctx.org_id, conversation.id, [me, peer_id])
    return Seat(conversation, mine), True


async def create_group(
    db: AsyncSession, ctx: OrgContext, *, name: str, member_ids: Sequence[str], announcement: str | None
) -> Seat:
    me = ctx.member.id
    others = [m for m in _unique(member_ids) if m != me]
    if len(others) + 1 > MAX_GROUP_MEMBERS:
        raise Unprocessable(f"A group has at most {MAX_GROUP_MEMBERS} members.", code="too_many_members")
    await _require_active_members(db, ctx.org_id, others)
    now = utcnow()
    conversation = Conversation(
        org_id=ctx.org_id, kind=ConversationKind.group, name=name, announcement=announcement or None,
        owner_id=me, created_by=me, created_at=now, last_activity_at=now, last_seq=0,
    )
    db.add(conversation)
    await db.flush()
    mine = _seat_row(ctx.org_id, conversation.id, me, role=ConversationRole.owner)
    db.add(mine)
    await db.flush()
    await _insert_seats(db, ctx.org_id, conversation, others)
    await _announce_joined(db, ctx.org_id, conversation.id, [me, *others])
    return Seat(conversation, mine)


async def _insert_seats(db: AsyncSession, org_id: str, conversation: Conversation, member_ids: Sequence[str]) -> None:
    """Seat many members with one INSERT ... SELECT (active members not seated yet).

    New members start with everything before their arrival read: they can page back through it,
    but it does not count as unread.
    """
    if not member_ids:
        return
    already = (
        scoped(ConversationMember, org_id, ConversationMember.member_id)
        .where(ConversationMember.conversation_id == conversation.id, ConversationMember.member_id == Membership.id)
        .exists()
    )
    source = scoped(
        Membership, org_id,
        literal(org_id), literal(conversation.id), Membership.id, literal(ConversationRole.member.value),
        literal(MemberSource.manual.value), literal(conversation.last_seq), literal(utcnow(), ConversationMember.joined_at.type),
    ).where(Membership.id.in_(list(member_ids)), Membership.status == MemberStatus.active, ~already)
    await db.execute(
        insert(ConversationMember).from_select(
            ["org_id", "conversation_id", "member_id", "role", "source", "read_seq", "joined_at"], source
        )
    )


async def create_department_group(db: AsyncSession, ctx: OrgContext, body: DepartmentGroupIn) -> tuple[Seat, bool]:
    """The group of a department or class, made if there is none; (seat, created)."""
    department = await orgs_service.get_department(db, ctx.org_id, body.department_id)
    kind = ConversationKind(body.kind)
    if kind == ConversationKind.klass:
        if ctx.org.kind != OrgKind.school or department.kind != DepartmentKind.klass:
            raise Unprocessable("Class groups are made for classes of a school.", code="not_a_class")
        teaches_here = ctx.has_role(Role.teacher) and (
            await db.execute(
                select(
                    scoped(MemberDepartment, ctx.org_id, MemberDepartment.member_id)
                    .where(MemberDepartment.member_id == ctx.member.id, MemberDepartment.department_id == department.id)
                    .exists()
                )
            )
        ).scalar_one()
        if not (ctx.is_admin or teaches_here):
            raise Forbidden(
                "Only administrators and the class's teachers can make its group.", code="admin_required"
            )
    elif not ctx.is_admin:
        raise Forbidden("Only the organization's administrators can make a department group.", code="admin_required")
    existing = (
        await db.execute(scoped(Conversation, ctx.org_id).where(Conversation.department_id == department.id))
    ).scalar_one_or_none()
    if existing is not None:
        try:
            return await get_seat(db, ctx, existing.id), False
        except NotFound:
            raise Conflict(
                "This department already has a group, and you are not in it.",
                code="department_group_exists", details={"conversation_id": existing.id},
            ) from None
    me = ctx.member.id
    now = utcnow()
    conversation = Conversation(
        org_id=ctx.org_id, kind=kind, name=body.name or department.name, owner_id=me, department_id=department.id,
        created_by=me, created_at=now, last_activity_at=now, last_seq=0,
    )
    db.add(conversation)
    await db.flush()
    mine = _seat_row(ctx.org_id, conversation.id, me, role=ConversationRole.owner)
    db.add(mine)
    await db.flush()
    # A department's group holds the people of its sub-departments too, as the contacts tree shows them.
    subtree = sorted(_subtree(department.id, await _department_parents(db, ctx.org_id)))
    people = _department_people(ctx.org_id, subtree, with_parents=kind == ConversationKind.klass).subquery()
    source = select(
        literal(ctx.org_id), literal(conversation.id), people.c.member_id, literal(ConversationRole.member.value),
        literal(MemberSource.department.value), literal(0), literal(now, ConversationMember.joined_at.type),
    ).where(people.c.member_id != me)
    await db.execute(
        insert(ConversationMember).from_select(
            ["org_id", "conversation_id", "member_id", "role", "source", "read_seq", "joined_at"], source
        )
    )
    seated = (
        await db.execute(
            scoped(ConversationMember, ctx.org_id, ConversationMember.member_id).where(
                ConversationMember.conversation_id == conversation.id
            )
        )
    ).scalars()
    await _announce_joined(db, ctx.org_id, conversation.id, list(seated))
    return Seat(conversation, mine), True


async def _department_parents(db: AsyncSession, org_id: str) -> dict[str, str | None]:
    return dict((await db.execute(scoped(Department, org_id, Department.id, Department.parent_id))).all())


def _with_ancestors(department_ids: Iterable[str], parents: dict[str, str | None]) -> set[str]:
    """The departments and every department above them."""
    found: set[str] = set()
    for department_id in department_ids:
        current: str | None = department_id
        while current is not None and current not in found:
            found.add(current)
            current = parents.get(current)
    return found


def _subtree(department_id: str, parents: dict[str, str | None]) -> set[str]:
    return {d for d in parents if department_id in _with_ancestors([d], parents)}


def _department_people(org_id: str, department_ids: Sequence[str], *, with_parents: bool):  # type: ignore[no-untyped-def]
    """SELECT member_id: the active members of the departments, each once; with the parents of
    their students for a class."""
    active = and_(Membership.org_id == MemberDepartment.org_id, Membership.id == MemberDepartment.member_id,
                  Membership.status == MemberStatus.active)
    direct = (
        scoped(MemberDepartment, org_id, MemberDepartment.member_id.label("member_id"))
        .join(Membership, active)
        .where(MemberDepartment.department_id.in_(list(department_ids)))
    )
    if not with_parents:
        return direct.distinct()
    parents = (
        scoped(GuardianLink, org_id, GuardianLink.parent_member_id.label("member_id"))
        .join(
            MemberDepartment,
            and_(MemberDepartment.org_id == GuardianLink.org_id, MemberDepartment.member_id == GuardianLink.student_member_id),
        )
        .join(Membership, and_(Membership.org_id == GuardianLink.org_id, Membership.id == GuardianLink.parent_member_id,
                               Membership.status == MemberStatus.active))
        .where(MemberDepartment.department_id.in_(list(department_ids)))
    )
    return union(direct, parents)


async def sync_department_groups(db: AsyncSession, org_id: str, member_ids: set[str]) -> None:
    """Make department and class groups follow the organization after `member_ids` changed
    departments, guardian links or membership (called by tack.orgs.service in the same transaction).

    A student's parents follow the student into and out of class groups; someone who left the
    organization leaves every conversation. Every row changes first and the events come last (see
    tack/core/events.py: the organization's event counter stays locked from the first event on).
    """
    if not member_ids:
        return
    people = set(member_ids)
    people |= set(
        (
            await db.execute(
                scoped(GuardianLink, org_id, GuardianLink.parent_member_id).where(
                    GuardianLink.student_member_id.in_(sorted(people))
                )
            )
        ).scalars()
    )
    active = await _active_member_ids(db, org_id, sorted(people))
    gone = people - active
    left: dict[str, list[str]] = defaultdict(list)
    joined: dict[str, list[str]] = defaultdict(list)
    new_owners: dict[str, str | None] = {}
    if gone:
        rows = (
            await db.execute(
                scoped(ConversationMember, org_id, ConversationMember.conversation_id, ConversationMember.member_id,
                       ConversationMember.role)
                .where(ConversationMember.member_id.in_(sorted(gone)))
            )
        ).all()
        await db.execute(scoped_delete(ConversationMember, org_id).where(ConversationMember.member_id.in_(sorted(gone))))
        for conversation_id, member_id, role in rows:
            left[conversation_id].append(member_id)
            if role == ConversationRole.owner:
                new_owners[conversation_id] = await _hand_over(db, org_id, conversation_id)
    if active:
        await _follow_departments(db, org_id, active, joined, left)
    await db.flush()
    for conversation_id, owner_id in sorted(new_owners.items()):
        await emit(
            db, org_id=org_id, channel=conversation_channel(conversation_id), kind="conversation.roles_changed",
            data={"conversation_id": conversation_id, "owner_id": owner_id,
                  "roles": {owner_id: ConversationRole.owner.value} if owner_id else {}},
        )
    for conversation_id, members in sorted(left.items()):
        await _announce_left(db, org_id, conversation_id, sorted(members))
    for conversation_id, members in sorted(joined.items()):
        await _announce_joined(db, org_id, conversation_id, members)
        await emit(db, org_id=org_id, channel=conversation_channel(conversation_id), kind="conversation.members_added",
                   data={"conversation_id": conversation_id, "member_ids": members})


async def _hand_over(db: AsyncSession, org_id: str, conversation_id: str) -> str | None:
    """A group whose owner left the organization passes to an admin, else to its longest member."""
    successor = (
        await db.execute(
            scoped(ConversationMember, org_id, ConversationMember.member_id)
            .where(ConversationMember.conversation_id == conversation_id)
            .order_by(case((ConversationMember.role == ConversationRole.admin, 0), else_=1),
                      ConversationMember.joined_at, ConversationMember.member_id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if successor is not None:
        await db.execute(
            scoped_update(ConversationMember, org_id)
            .where(ConversationMember.conversation_id == conversation_id, ConversationMember.member_id == successor)
            .values(role=ConversationRole.owner)
        )
    await db.execute(
        scoped_update(Conversation, org_id).where(Conversation.id == conversation_id).values(owner_id=successor)
    )
    return successor


async def _follow_departments(db: AsyncSession, org_id: str, active: set[str], joined: dict[str, list[str]],
                              left: dict[str, list[str]]) -> None:
    """Seat `active` members in the department and class groups they belong in and unseat them from
    the others; record who joined and left which conversation."""
    tree = await _department_parents(db, org_id)
    departments_of: dict[str, set[str]] = defaultdict(set)
    for member_id, department_id in (
        await db.execute(
            scoped(MemberDepartment, org_id, MemberDepartment.member_id, MemberDepartment.department_id).where(
                MemberDepartment.member_id.in_(sorted(active))
            )
        )
    ).all():
        departments_of[member_id].add(department_id)
    # Where each member sits (their departments and all above them), and where their children sit.
    under = {m: _with_ancestors(departments_of[m], tree) for m in active}
    children_under: dict[str, set[str]] = defaultdict(set)
    children = (
        await db.execute(
            scoped(GuardianLink, org_id, GuardianLink.parent_member_id, GuardianLink.student_member_id)
            .join(Membership, and_(Membership.org_id == GuardianLink.org_id,
                                   Membership.id == GuardianLink.student_member_id,
                                   Membership.status == MemberStatus.active))
            .where(GuardianLink.parent_member_id.in_(sorted(active)))
        )
    ).all()
    if children:
        student_departments: dict[str, set[str]] = defaultdict(set)
        for student_id, department_id in (
            await db.execute(
                scoped(MemberDepartment, org_id, MemberDepartment.member_id, MemberDepartment.department_id).where(
                    MemberDepartment.member_id.in_(sorted({s for _, s in children}))
                )
            )
        ).all():
            student_departments[student_id].add(department_id)
        for parent_id, student_id in children:
            children_under[parent_id] |= _with_ancestors(student_departments[student_id], tree)
    departments = sorted(set().union(*under.values(), *children_under.values()))
    groups: list[Conversation] = []
    if departments:
        groups = list(
            (
                await db.execute(
                    scoped(Conversation, org_id).where(
                        Conversation.department_id.in_(departments),
                        Conversation.kind.in_([k.value for k in DERIVED_KINDS]),
                    )
                )
            ).scalars()
        )
    wanted: set[tuple[str, str]] = set()
    for group in groups:
        for member_id in active:
            if group.department_id in under[member_id] or (
                group.kind == ConversationKind.klass and group.department_id in children_under.get(member_id, ())
            ):
                wanted.add((group.id, member_id))
    seated = {
        (cid, mid): source
        for cid, mid, source in (
            await db.execute(
                scoped(ConversationMember, org_id, ConversationMember.conversation_id, ConversationMember.member_id,
                       ConversationMember.source)
                .where(ConversationMember.member_id.in_(sorted(active)))
            )
        ).all()
    }
    derived = {pair for pair, source in seated.items() if source == MemberSource.department}
    to_add = sorted(wanted - set(seated))
    to_remove = sorted(derived - wanted)
    last_seq = {g.id: g.last_seq for g in groups}
    if to_add:
        now = utcnow()
        await db.execute(
            insert(ConversationMember),
            [
                {"org_id": org_id, "conversation_id": cid, "member_id": mid, "role": ConversationRole.member.value,
                 "source": MemberSource.department.value, "read_seq": last_seq[cid], "joined_at": now}
                for cid, mid in to_add
            ],
        )
        for cid, mid in to_add:
            joined[cid].append(mid)
    removed: dict[str, list[str]] = defaultdict(list)
    for cid, mid in to_remove:
        removed[cid].append(mid)
    for cid, mids in sorted(removed.items()):
        await db.execute(
            scoped_delete(ConversationMember, org_id).where(
                ConversationMember.conversation_id == cid, ConversationMember.member_id.in_(mids)
            )
        )
        left[cid].extend(mids)


async def update_conversation(db: AsyncSession, ctx: OrgContext, conversation_id: str, changes: ConversationUpdate) -> None:
    seat = await get_seat(db, ctx, conversation_id)
    _require_manager(seat)
    conversation = seat.conversation
    sent = changes.model_fields_set
    if changes.name is not None:
        conversation.name = changes.name
    if "announcement" in sent:
        conversation.announcement = changes.announcement or None
    await db.flush()
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation.id), kind="conversation.updated",
        data={"conversation_id": conversation.id, "name": conversation.name,
              "announcement": conversation.announcement},
    )


async def add_members(db: AsyncSession, ctx: OrgContext, conversation_id: str, member_ids: Sequence[str]) -> MembersChanged:
    seat = await get_seat(db, ctx, conversation_id)
    _require_manager(seat)
    if seat.conversation.kind in DERIVED_KINDS:
        raise Conflict(
            "This group's members follow its department: change the department instead.",
            code="membership_follows_department",
        )
    wanted = _unique(member_ids)
    await _require_active_members(db, ctx.org_id, wanted)
    seated = await _seated(db, ctx.org_id, conversation_id, wanted)
    new = [m for m in wanted if m not in seated]
    count = await _member_count(db, ctx.org_id, conversation_id)
    if count + len(new) > MAX_GROUP_MEMBERS:
        raise Conflict(
            f"A group has at most {MAX_GROUP_MEMBERS} members; this one has {count}.",
            code="too_many_members", details={"member_count": count, "max": MAX_GROUP_MEMBERS},
        )
    if new:
        await _insert_seats(db, ctx.org_id, seat.conversation, new)
        await _announce_joined(db, ctx.org_id, conversation_id, new)
        await emit(
            db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="conversation.members_added",
            data={"conversation_id": conversation_id, "member_ids": new, "added_by": ctx.member.id},
        )
    await db.flush()
    return MembersChanged(conversation_id=conversation_id, added=new, member_count=count + len(new))


async def remove_member(db: AsyncSession, ctx: OrgContext, conversation_id: str, member_id: str) -> None:
    """Owners and admins remove members; anyone may leave (except the owner, who hands over first)."""
    seat = await get_seat(db, ctx, conversation_id)
    _require_group(seat)
    conversation = seat.conversation
    leaving = member_id == ctx.member.id
    if conversation.kind in DERIVED_KINDS and not (leaving and seat.member.source == MemberSource.manual):
        raise Conflict(
            "This group's members follow its department: change the department instead.",
            code="membership_follows_department",
        )
    target = (
        await db.execute(
            scoped(ConversationMember, ctx.org_id).where(
                ConversationMember.conversation_id == conversation_id, ConversationMember.member_id == member_id
            )
        )
    ).scalar_one_or_none()
    if target is None:
        raise NotFound("This person is not in the conversation.", code="member_not_found")
    if target.role == ConversationRole.owner:
        raise Conflict("The owner cannot leave or be removed; hand the group over first.", code="owner_cannot_leave")
    if not leaving:
        if seat.member.role not in MANAGER_ROLES:
            raise Forbidden("Only the group's owner and admins can remove people.", code="group_admin_required")
        if target.role == ConversationRole.admin and seat.member.role != ConversationRole.owner:
            raise Forbidden("Only the owner can remove an admin.", code="owner_required")
    await db.execute(
        scoped_delete(ConversationMember, ctx.org_id).where(
            ConversationMember.conversation_id == conversation_id, ConversationMember.member_id == member_id
        )
    )
    await _announce_left(db, ctx.org_id, conversation_id, [member_id])
    await db.flush()


async def set_member_role(db: AsyncSession, ctx: OrgContext, conversation_id: str, member_id: str,
                          role: ConversationRole) -> None:
    seat = await get_seat(db, ctx, conversation_id)
    _require_group(seat)
    if seat.member.role != ConversationRole.owner:
        raise Forbidden("Only the group's owner can choose its admins.", code="owner_required")
    if member_id == ctx.member.id:
        if role == ConversationRole.owner:
            return
        raise Conflict("Hand the group over to someone else instead.", code="owner_cannot_leave")
    target = (
        await db.execute(
            scoped(ConversationMember, ctx.org_id).where(
                ConversationMember.conversation_id == conversation_id, ConversationMember.member_id == member_id
            )
        )
    ).scalar_one_or_none()
    if target is None:
        raise NotFound("This person is not in the conversation.", code="member_not_found")
    changed = {member_id: role.value}
    target.role = role
    if role == ConversationRole.owner:
        seat.member.role = ConversationRole.admin
        seat.conversation.owner_id = member_id
        changed[ctx.member.id] = ConversationRole.admin.value
    await db.flush()
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="conversation.roles_changed",
        data={"conversation_id": conversation_id, "roles": changed, "owner_id": seat.conversation.owner_id},
    )


# ---- messages: reading --------------------------------------------------------------------------


def _file_out(org_id: str, attachment: dict[str, Any]) -> FileOut:
    return FileOut(
        upload_id=attachment["upload_id"], name=attachment["name"], content_type=attachment["content_type"],
        size=attachment["size"], url=f"/api/v1/orgs/{org_id}/uploads/{attachment['upload_id']}",
    )


def _snippet(message: Message) -> str:
    if message.recalled_at is not None:
        return ""
    return _preview_text(message)[:SNIPPET_CHARS]


def message_out(message: Message | WrittenMessage, names: dict[str, str], *, quoted: Message | None = None,
                reactions: list[ReactionOut] | None = None) -> MessageOut:
    attachment = message.attachment or {}
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        sender_name=names.get(message.sender_id, ""),
        client_msg_id=message.client_msg_id,
        kind=MessageKind(message.kind),
        body=message.body,
        mentions=list(message.mentions or []),
        mention_all=message.mention_all,
        file=_file_out(message.org_id, attachment) if message.kind in (MessageKind.image, MessageKind.file)
        and attachment else None,
        link=LinkCardOut(**attachment) if message.kind == MessageKind.link and attachment else None,
        reply_to=QuotedMessage(
            id=quoted.id, seq=quoted.seq, sender_id=quoted.sender_id, sender_name=names.get(quoted.sender_id, ""),
            kind=MessageKind(quoted.kind), snippet=_snippet(quoted), recalled=quoted.recalled_at is not None,
        ) if quoted is not None else None,
        reactions=reactions or [],
        is_ding=message.is_ding,
        created_at=message.created_at,
        edited_at=message.edited_at,
        recalled_at=message.recalled_at,
        recalled_by=message.recalled_by,
    )


async def _reactions(db: AsyncSession, org_id: str, me: str, message_ids: Sequence[str]) -> dict[str, list[ReactionOut]]:
    if not message_ids:
        return {}
    rows = await db.execute(
        scoped(Reaction, org_id, Reaction.message_id, Reaction.emoji, Reaction.member_id)
        .where(Reaction.message_id.in_(list(message_ids)))
        .order_by(Reaction.message_id, Reaction.created_at, Reaction.member_id)
    )
    grouped: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for message_id, emoji, member_id in rows:
        grouped[message_id].setdefault(emoji, []).append(member_id)
    return {
        message_id: [
            ReactionOut(emoji=emoji, count=len(members), member_ids=members[:REACTORS_SHOWN], me=me in members)
            for emoji, members in by_emoji.items()
        ]
        for message_id, by_emoji in grouped.items()
    }


async def _read_counts(db: AsyncSession, org_id: str, messages: Sequence[Message]) -> dict[str, tuple[int, int]]:
    """(read, unread) per message: the members who were there when it was sent, other than its
    sender, whose read position has reached it. One query over the watermarks."""
    if not messages:
        return {}
    read = func.sum(case((ConversationMember.read_seq >= Message.seq, 1), else_=0))
    rows = await db.execute(
        scoped(Message, org_id, Message.id, read, func.count(ConversationMember.member_id))
        .join(
            ConversationMember,
            and_(
                ConversationMember.org_id == Message.org_id,
                ConversationMember.conversation_id == Message.conversation_id,
                ConversationMember.member_id != Message.sender_id,
                ConversationMember.joined_at <= Message.created_at,
            ),
        )
        .where(Message.id.in_([m.id for m in messages]))
        .group_by(Message.id)
    )
    counts = {message_id: (int(r or 0), int(total) - int(r or 0)) for message_id, r, total in rows}
    return {m.id: counts.get(m.id, (0, 0)) for m in messages}


async def message_outs(db: AsyncSession, ctx: OrgContext, messages: Sequence[Message]) -> list[MessageOut]:
    """MessageOut for a page of messages: names, quotes, reactions and (for my own) read counts in
    at most four queries."""
    if not messages:
        return []
    me = ctx.member.id
    quoted_ids = {m.reply_to_id for m in messages if m.reply_to_id}
    quoted: dict[str, Message] = {}
    if quoted_ids:
        quoted = {
            q.id: q for q in (await db.execute(scoped(Message, ctx.org_id).where(Message.id.in_(sorted(quoted_ids))))).scalars()
        }
    names = await _names(db, ctx.org_id, {m.sender_id for m in messages} | {q.sender_id for q in quoted.values()})
    live = [m.id for m in messages if m.recalled_at is None]
    reactions = await _reactions(db, ctx.org_id, me, live)
    counts = await _read_counts(db, ctx.org_id, [m for m in messages if m.sender_id == me and m.recalled_at is None])
    result = []
    for m in messages:
        out = message_out(m, names, quoted=quoted.get(m.reply_to_id or ""), reactions=reactions.get(m.id))
        if m.id in counts:
            out.read_count, out.unread_count = counts[m.id]
        result.append(out)
    return result


async def _get_message(db: AsyncSession, org_id: str, conversation_id: str, message_id: str) -> Message:
    message = (
        await db.execute(
            scoped(Message, org_id).where(Message.id == message_id, Message.conversation_id == conversation_id)
        )
    ).scalar_one_or_none()
    if message is None:
        raise NotFound("There is no such message in this conversation.", code="message_not_found")
    return message


async def get_message(db: AsyncSession, ctx: OrgContext, conversation_id: str, message_id: str) -> MessageOut:
    await get_seat(db, ctx, conversation_id)
    [out] = await message_outs(db, ctx, [await _get_message(db, ctx.org_id, conversation_id, message_id)])
    return out


async def history(db: AsyncSession, ctx: OrgContext, conversation_id: str, *, before: int | None,
                  after: int | None, limit: int) -> MessagePage:
    """A page of messages by sequence: the latest, those before `before`, or those after `after`."""
    if before is not None and after is not None:
        raise Unprocessable("Page either before or after a message, not both.", code="invalid_paging")
    await get_seat(db, ctx, conversation_id)
    stmt = scoped(Message, ctx.org_id).where(Message.conversation_id == conversation_id)
    if after is not None:
        stmt = stmt.where(Message.seq > after).order_by(Message.seq)
    else:
        if before is not None:
            stmt = stmt.where(Message.seq < before)
        stmt = stmt.order_by(Message.seq.desc())
    rows = list((await db.execute(stmt.limit(limit + 1))).scalars())
    page, more = rows[:limit], len(rows) > limit
    if after is None:
        page.reverse()
    return MessagePage(items=await message_outs(db, ctx, page), has_more=more)


# ---- messages: sending and changing -------------------------------------------------------------


@dataclass
class _Content:
    kind: MessageKind
    body: str | None
    mentions: list[str]
    mention_all: bool
    attachment: dict[str, Any] | None
    upload_id: str | None
    reply_to: Message | None


async def _check_mentions(db: AsyncSession, ctx: OrgContext, seat: Seat | SendSeat, mentions: Sequence[str],
                          mention_all: bool) -> list[str]:
    if mention_all and not seat.manages:
        raise Forbidden("Only a group's owner and admins can mention everyone.", code="mention_all_forbidden")
    wanted = _unique(mentions)
    if wanted:
        seated = await _seated(db, ctx.org_id, seat.conversation_id, wanted)
        if len(seated) != len(wanted):
            raise Unprocessable(
                "You can only mention people in this conversation.", code="mention_not_member",
                details={"member_ids": [m for m in wanted if m not in seated][:20]},
            )
    return wanted


async def _content(db: AsyncSession, ctx: OrgContext, seat: SendSeat, body: MessageIn) -> _Content:
    kind = MessageKind(body.kind)
    text_ = body.body if body.body and body.body.strip() else None
    attachment: dict[str, Any] | None = None
    upload_id: str | None = None
    if kind in (MessageKind.text, MessageKind.markdown):
        if text_ is None:
            raise Unprocessable("A message needs some text.", code="empty_message")
        if body.upload_id or body.link:
            raise Unprocessable("Text and markdown messages carry no file or link card.", code="attachment_mismatch")
    elif kind in (MessageKind.image, MessageKind.file):
        if not body.upload_id or body.link:
            raise Unprocessable("Image and file messages need an upload_id (and no link card).",
                                code="attachment_mismatch")
        upload = (
            await db.execute(
                scoped(Upload, ctx.org_id).where(Upload.id == body.upload_id, Upload.uploader_id == ctx.member.id)
            )
        ).scalar_one_or_none()
        if upload is None:
            raise NotFound("There is no such upload of yours.", code="upload_not_found")
        if kind == MessageKind.image and not upload.content_type.startswith("image/"):
            raise Unprocessable("This file is not an image; send it as a file.", code="not_an_image")
        upload_id = upload.id
        attachment = {"upload_id": upload.id, "name": upload.name, "content_type": upload.content_type,
                      "size": upload.size}
    else:  # link
        if body.link is None or body.upload_id:
            raise Unprocessable("A link message needs a link card (and no upload).", code="attachment_mismatch")
        attachment = body.link.model_dump()
    mentions = await _check_mentions(db, ctx, seat, body.mentions, body.mention_all)
    reply_to = None
    if body.reply_to_id:
        reply_to = (
            await db.execute(
                scoped(Message, ctx.org_id).where(
                    Message.id == body.reply_to_id, Message.conversation_id == seat.conversation_id
                )
            )
        ).scalar_one_or_none()
        if reply_to is None:
            raise NotFound("The message replied to is not in this conversation.", code="reply_not_found")
    return _Content(kind=kind, body=text_, mentions=mentions, mention_all=body.mention_all,
                    attachment=attachment, upload_id=upload_id, reply_to=reply_to)


async def _find_sent(db: AsyncSession, ctx: OrgContext, conversation_id: str, client_msg_id: str) -> Message | None:
    return (
        await db.execute(
            _SENT_BY_CLIENT_ID,
            {"org_id": ctx.org_id, "conversation_id": conversation_id, "sender_id": ctx.member.id,
             "client_msg_id": client_msg_id},
        )
    ).scalar_one_or_none()


_SENT_BY_CLIENT_ID = select(Message).where(
    Message.org_id == bindparam("org_id"),
    Message.conversation_id == bindparam("conversation_id"),
    Message.sender_id == bindparam("sender_id"),
    Message.client_msg_id == bindparam("client_msg_id"),
)


@dataclass(frozen=True, slots=True)
class WrittenMessage:
    """A message row just written, as plain values: what message_out reads of a Message, without
    making an ORM object for the busiest write."""

    org_id: str
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    client_msg_id: str
    kind: str
    body: str | None
    mentions: list[str]
    mention_all: bool
    attachment: dict[str, Any] | None
    upload_id: str | None
    reply_to_id: str | None
    is_ding: bool
    created_at: datetime
    edited_at: datetime | None
    recalled_at: datetime | None
    recalled_by: str | None


async def _append(db: AsyncSession, ctx: OrgContext, seat: SendSeat, client_msg_id: str, content: _Content,
                  *, is_ding: bool = False) -> WrittenMessage | None:
    """Number and store a message; None if this sender already sent one with this client_msg_id.

    The seat was read with the conversation row locked (get_send_seat; on SQLite the transaction
    holds the write lock), so the sequence number after the conversation's last is ours to take,
    and a retry racing its first attempt waited for it and now meets its row here.
    Prepared Core statements (tack/core/prepared.py), not the ORM's unit of work: this is the path
    every message takes. What it returns describes the row that was written.
    """
    conversation_id = seat.conversation_id
    message_id = new_id()
    now = utcnow()
    seq = seat.last_seq + 1
    row = {
        "org_id": ctx.org_id, "id": message_id, "conversation_id": conversation_id, "seq": seq,
        "sender_id": ctx.member.id, "client_msg_id": client_msg_id, "kind": content.kind, "body": content.body,
        "mentions": content.mentions, "mention_all": content.mention_all, "attachment": content.attachment,
        "upload_id": content.upload_id, "reply_to_id": content.reply_to.id if content.reply_to else None,
        "is_ding": is_ding, "created_at": now, "edited_at": None, "recalled_at": None, "recalled_by": None,
    }
    if await _INSERT_MESSAGE_ONCE[_dialect(db)].rowcount(db, row) == 0:
        return None
    keys = {"w_org_id": ctx.org_id, "w_conversation_id": conversation_id, "w_seq": seq, "w_now": now}
    await _SET_LAST_MESSAGE.run(db, {**keys, "w_message_id": message_id})
    # Writing in a conversation means having read it.
    await _READ_OWN.run(db, {**keys, "w_member_id": ctx.member.id})
    return WrittenMessage(**row)


_SET_LAST_MESSAGE = Prepared(
    update(_conversations)
    .where(_conversations.c.org_id == bindparam("w_org_id"), _conversations.c.id == bindparam("w_conversation_id"))
    .values(last_seq=bindparam("w_seq"), last_message_id=bindparam("w_message_id"), last_activity_at=bindparam("w_now"))
)
_IDEMPOTENCY_KEY = ["org_id", "conversation_id", "sender_id", "client_msg_id"]
_INSERT_MESSAGE_ONCE = {
    "sqlite": Prepared(sqlite_insert(Message.__table__).on_conflict_do_nothing(index_elements=_IDEMPOTENCY_KEY)),
    "postgresql": Prepared(
        postgresql_insert(Message.__table__).on_conflict_do_nothing(index_elements=_IDEMPOTENCY_KEY)
    ),
}
_READ_OWN = Prepared(
    update(_conversation_members)
    .where(
        _conversation_members.c.org_id == bindparam("w_org_id"),
        _conversation_members.c.conversation_id == bindparam("w_conversation_id"),
        _conversation_members.c.member_id == bindparam("w_member_id"),
        _conversation_members.c.read_seq < bindparam("w_seq"),
    )
    .values(read_seq=bindparam("w_seq"), read_at=bindparam("w_now"))
)


async def send_message(db: AsyncSession, ctx: OrgContext, conversation_id: str, body: MessageIn) -> tuple[MessageOut, bool]:
    """Send a message; (message, created). A retry with the same client_msg_id returns the first
    message and changes nothing."""
    seat = await get_send_seat(db, ctx, conversation_id)
    try:
        content = await _content(db, ctx, seat, body)
    except TackError:
        # A retry whose first attempt went through is answered with it, even if the message
        # would not be accepted now (a mentioned person left meanwhile).
        if (existing := await _find_sent(db, ctx, conversation_id, body.client_msg_id)) is not None:
            [out] = await message_outs(db, ctx, [existing])
            return out, False
        raise
    message = await _append(db, ctx, seat, body.client_msg_id, content)
    if message is None:
        existing = await _find_sent(db, ctx, conversation_id, body.client_msg_id)
        assert existing is not None  # the insert met it
        [out] = await message_outs(db, ctx, [existing])
        return out, False
    names = {ctx.member.id: ctx.member.display_name}
    if content.reply_to is not None and content.reply_to.sender_id not in names:
        names |= await _names(db, ctx.org_id, [content.reply_to.sender_id])
    out = message_out(message, names, quoted=content.reply_to)
    others = seat.member_count - 1
    # Last: from its first event until the commit, the transaction holds the organization's event
    # counter (see tack/core/events.py).
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="message.created",
        data={"message": out.model_dump(mode="json")},
    )
    out.read_count, out.unread_count = 0, others
    return out, True


async def edit_message(db: AsyncSession, ctx: OrgContext, conversation_id: str, message_id: str,
                       changes: MessageEdit) -> MessageOut:
    seat = await get_seat(db, ctx, conversation_id)
    message = await _get_message(db, ctx.org_id, conversation_id, message_id)
    if message.sender_id != ctx.member.id:
        raise Forbidden("Only the sender can edit a message.", code="not_sender")
    if message.recalled_at is not None:
        raise Conflict("This message was recalled.", code="message_recalled")
    if not _within_edit_window(message, utcnow()):
        raise Conflict("Messages can be edited for 24 hours after sending.", code="edit_window_passed")
    body = changes.body if changes.body.strip() else None
    if body is None and message.kind in (MessageKind.text, MessageKind.markdown):
        raise Unprocessable("A message needs some text.", code="empty_message")
    if changes.mentions is not None:
        message.mentions = await _check_mentions(db, ctx, seat, changes.mentions, False)
    message.body = body
    message.edited_at = utcnow()
    await db.flush()
    [out] = await message_outs(db, ctx, [message])
    event = out.model_copy(update={"read_count": None, "unread_count": None, "reactions": []})
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="message.edited",
        data={"message": event.model_dump(mode="json", exclude={"reactions"})},
    )
    return out


async def recall_message(db: AsyncSession, ctx: OrgContext, conversation_id: str, message_id: str) -> MessageOut:
    """Take a message back: its content goes, a marker stays. The sender may for 24 hours; a group's
    owner and admins may recall anyone's message."""
    seat = await get_seat(db, ctx, conversation_id)
    message = await _get_message(db, ctx.org_id, conversation_id, message_id)
    if message.recalled_at is None:
        now = utcnow()
        if message.sender_id == ctx.member.id:
            if not _within_edit_window(message, now) and not seat.manages:
                raise Conflict("Messages can be recalled for 24 hours after sending.", code="recall_window_passed")
        elif not seat.manages:
            raise Forbidden("Only the sender, or a group's owner and admins, can recall a message.",
                            code="not_sender")
        message.body = None
        message.mentions = []
        message.mention_all = False
        message.attachment = None
        message.upload_id = None
        message.recalled_at = now
        message.recalled_by = ctx.member.id
        await db.execute(scoped_delete(Reaction, ctx.org_id).where(Reaction.message_id == message.id))
        if message.is_ding:
            await db.execute(
                scoped_update(Ding, ctx.org_id).where(Ding.id == message.id).values(next_remind_at=None)
            )
        await db.flush()
        await emit(
            db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="message.recalled",
            data={"conversation_id": conversation_id, "message_id": message.id, "seq": message.seq,
                  "recalled_at": now.isoformat(), "recalled_by": ctx.member.id},
        )
    [out] = await message_outs(db, ctx, [message])
    return out


async def toggle_reaction(db: AsyncSession, ctx: OrgContext, conversation_id: str, message_id: str,
                          emoji: str) -> ReactionToggled:
    await get_seat(db, ctx, conversation_id)
    message = await _get_message(db, ctx.org_id, conversation_id, message_id)
    if message.recalled_at is not None:
        raise Conflict("This message was recalled.", code="message_recalled")
    me = ctx.member.id
    removed = await db.execute(
        scoped_delete(Reaction, ctx.org_id).where(
            Reaction.message_id == message_id, Reaction.emoji == emoji, Reaction.member_id == me
        )
    )
    added = removed.rowcount == 0  # type: ignore[attr-defined]
    if added:
        db.add(Reaction(org_id=ctx.org_id, message_id=message_id, emoji=emoji, member_id=me, created_at=utcnow()))
    await db.flush()
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="reaction.changed",
        data={"conversation_id": conversation_id, "message_id": message_id, "emoji": emoji, "member_id": me,
              "added": added},
    )
    reactions = (await _reactions(db, ctx.org_id, me, [message_id])).get(message_id, [])
    return ReactionToggled(message_id=message_id, emoji=emoji, added=added, reactions=reactions)


# ---- read receipts ------------------------------------------------------------------------------


async def mark_read(db: AsyncSession, ctx: OrgContext, conversation_id: str, seq: int) -> ReadState:
    """Move my read position forward to `seq` (never back, never past the last message)."""
    seat = await get_seat(db, ctx, conversation_id, for_read=True)
    target = min(seq, seat.conversation.last_seq)
    before = seat.member.read_seq
    moved = await db.execute(
        scoped_update(ConversationMember, ctx.org_id)
        .where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.member_id == ctx.member.id,
            ConversationMember.read_seq < target,
        )
        .values(read_seq=target, read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    read_seq = before
    if moved.rowcount:  # type: ignore[attr-defined]
        read_seq = target
        set_committed_value(seat.member, "read_seq", target)
        await _announce_read(db, ctx, seat, before, target)
    unread = (await _unread_counts(db, ctx.org_id, ctx.member.id, [conversation_id])).get(conversation_id, 0)
    return ReadState(conversation_id=conversation_id, read_seq=read_seq, unread_count=unread)


async def _announce_read(db: AsyncSession, ctx: OrgContext, seat: Seat, before: int, target: int) -> None:
    """Say who read how far. In a conversation of up to READ_BROADCAST_MEMBERS everyone hears it
    (receipts of every member update live). In a larger one only those it concerns do: the reader's
    own devices and the senders of the messages just read, whose read counts moved. Broadcasting
    there would cost members x readers deliveries per message: 250,000 for one message read by a
    500-member class."""
    conversation_id = seat.conversation.id
    data = {"conversation_id": conversation_id, "member_id": ctx.member.id, "read_seq": target}
    if not seat.large:
        await emit(db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="read.updated", data=data)
        return
    senders = (
        await db.execute(
            _SENDERS_READ,
            {"org_id": ctx.org_id, "conversation_id": conversation_id, "after": max(before, target - READ_SENDERS_SPAN),
             "through": target, "reader": ctx.member.id},
        )
    ).scalars()
    channels = [member_channel(ctx.member.id), *sorted(member_channel(sender) for sender in senders)]
    await emit_many(db, org_id=ctx.org_id, events=[NewEvent(channel, "read.updated", data) for channel in channels])


# Above this many members, read positions go only to those they concern (see _announce_read).
READ_BROADCAST_MEMBERS = 100
# ...and to the senders of at most this many of the messages just read (older ones refresh when
# their sender next looks).
READ_SENDERS_SPAN = 200
_SENDERS_READ = (
    select(Message.sender_id)
    .where(
        Message.org_id == bindparam("org_id"),
        Message.conversation_id == bindparam("conversation_id"),
        Message.seq > bindparam("after"),
        Message.seq <= bindparam("through"),
        Message.sender_id != bindparam("reader"),
    )
    .distinct()
)


async def receipts(db: AsyncSession, ctx: OrgContext, conversation_id: str, message_id: str) -> Receipts:
    """Who has read my message and who has not: those who were in the conversation when it was sent."""
    await get_seat(db, ctx, conversation_id)
    message = await _get_message(db, ctx.org_id, conversation_id, message_id)
    if message.sender_id != ctx.member.id:
        raise Forbidden("Only the sender sees who has read a message.", code="not_sender")
    rows = await db.execute(
        scoped(ConversationMember, ctx.org_id, ConversationMember.member_id, ConversationMember.read_seq,
               Membership.display_name)
        .join(Membership, and_(Membership.org_id == ConversationMember.org_id,
                               Membership.id == ConversationMember.member_id))
        .where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.member_id != message.sender_id,
            ConversationMember.joined_at <= message.created_at,
        )
        .order_by(Membership.sort_name, Membership.id)
    )
    read, unread = [], []
    for member_id, read_seq, name in rows:
        (read if read_seq >= message.seq else unread).append(MemberBrief(member_id=member_id, display_name=name))
    return Receipts(message_id=message.id, read_count=len(read), unread_count=len(unread), read=read, unread=unread)


# ---- search -------------------------------------------------------------------------------------


async def search(db: AsyncSession, ctx: OrgContext, *, q: str, conversation_id: str | None, cursor: str | None,
                 limit: int) -> SearchPage:
    """Messages matching `q` in the conversations the caller is in, newest first.

    Words are matched by the engine's full-text index (SQLite FTS5; PostgreSQL tsvector with the
    'simple' configuration). Queries in scripts written without spaces (Chinese, Japanese, ...) are
    matched as substrings instead, since neither index splits such text into words.
    """
    query = " ".join(q.split())
    if not query:
        return SearchPage(items=[])
    if conversation_id is not None:
        await get_seat(db, ctx, conversation_id)
    mine = scoped(ConversationMember, ctx.org_id, ConversationMember.conversation_id).where(
        ConversationMember.member_id == ctx.member.id
    )
    stmt = scoped(Message, ctx.org_id).where(Message.conversation_id.in_(mine), Message.recalled_at.is_(None))
    if conversation_id is not None:
        stmt = stmt.where(Message.conversation_id == conversation_id)
    if _UNSEGMENTED.search(query):
        stmt = stmt.where(Message.body.like(like_pattern(query), escape="\\"))
    else:
        words = _WORD.findall(query.lower())
        if not words:
            return SearchPage(items=[])
        if _dialect(db) == "sqlite":
            match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
            fts = text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :match").bindparams(match=match)
            stmt = stmt.where(literal_column("messages.rowid").in_(fts.columns(column("rowid"))))
        else:
            # Spelled exactly as the index expression of migration 0003, so the planner can use it.
            document = func.to_tsvector(
                literal_column("'simple'::regconfig"), func.coalesce(Message.body, literal_column("''"))
            )
            stmt = stmt.where(
                document.op("@@")(func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words)))
            )
    if cursor:
        [after_id] = _decode_cursor(cursor, 1)
        if not _ID.match(after_id):
            raise Unprocessable("This cursor is not valid; start again from the first page.", code="invalid_cursor")
        stmt = stmt.where(Message.id < after_id)
    # Ids are time-ordered, so newest first is id order.
    rows = list((await db.execute(stmt.order_by(Message.id.desc()).limit(limit + 1))).scalars())
    page, more = rows[:limit], len(rows) > limit
    outs = await message_outs(db, ctx, page)
    conversations = {
        c.id: c
        for c in (
            await db.execute(scoped(Conversation, ctx.org_id).where(Conversation.id.in_({m.conversation_id for m in page})))
        ).scalars()
    } if page else {}
    peers = {cid: _peer_id(c, ctx.member.id) for cid, c in conversations.items()}
    peer_names = await _names(db, ctx.org_id, {p for p in peers.values() if p})
    items = [
        SearchHit(
            message=out,
            conversation_name=(peer_names.get(peers[out.conversation_id] or "", "")
                               if peers.get(out.conversation_id) else conversations[out.conversation_id].name) or "",
        )
        for out in outs
    ]
    return SearchPage(items=items, next_cursor=_encode_cursor(page[-1].id) if more else None)


# ---- DING ---------------------------------------------------------------------------------------


def _ding_out(ding: Ding, message: Message | WrittenMessage, names: dict[str, str], counts: tuple[int, int],
              acknowledged_at: datetime | None) -> DingOut:
    return DingOut(
        id=ding.id, conversation_id=ding.conversation_id, sender_id=ding.sender_id,
        sender_name=names.get(ding.sender_id, ""), body=message.body, created_at=ding.created_at,
        remind_after_minutes=ding.remind_after_minutes, next_remind_at=ding.next_remind_at,
        recipient_count=counts[0], acknowledged_count=counts[1], acknowledged_at=acknowledged_at,
    )


async def _ding_counts(db: AsyncSession, org_id: str, ding_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    if not ding_ids:
        return {}
    rows = await db.execute(
        scoped(DingRecipient, org_id, DingRecipient.ding_id, func.count(), func.count(DingRecipient.acknowledged_at))
        .where(DingRecipient.ding_id.in_(list(ding_ids)))
        .group_by(DingRecipient.ding_id)
    )
    return {ding_id: (int(total), int(acked)) for ding_id, total, acked in rows}


async def send_ding(db: AsyncSession, ctx: OrgContext, conversation_id: str, body: DingIn) -> tuple[DingSent, bool]:
    """An urgent message to chosen people in the conversation; (result, created)."""
    seat = await get_send_seat(db, ctx, conversation_id)
    existing = await _find_sent(db, ctx, conversation_id, body.client_msg_id)
    if existing is not None:
        if not existing.is_ding:
            raise Conflict("This client_msg_id was used for a message that is not a DING.", code="client_msg_id_taken")
        return await _ding_sent(db, ctx, existing), False
    recipients = [m for m in _unique(body.recipient_ids) if m != ctx.member.id]
    if not recipients:
        raise Unprocessable("Choose at least one person other than yourself.", code="no_recipients")
    seated = await _seated(db, ctx.org_id, conversation_id, recipients)
    if len(seated) != len(recipients):
        raise Unprocessable(
            "A DING goes to people in this conversation.", code="recipient_not_member",
            details={"member_ids": [m for m in recipients if m not in seated][:20]},
        )
    content = _Content(kind=MessageKind.text, body=body.body, mentions=[], mention_all=False, attachment=None,
                       upload_id=None, reply_to=None)
    message = await _append(db, ctx, seat, body.client_msg_id, content, is_ding=True)
    if message is None:  # cannot be: it was looked for above, under the conversation's lock
        raise Conflict("This client_msg_id is already taken.", code="client_msg_id_taken")
    reminders = body.max_reminders if body.remind_after_minutes else 0
    ding = Ding(
        org_id=ctx.org_id, id=message.id, conversation_id=conversation_id, sender_id=ctx.member.id,
        remind_after_minutes=body.remind_after_minutes, max_reminders=reminders, reminders_sent=0,
        next_remind_at=message.created_at + timedelta(minutes=body.remind_after_minutes)
        if reminders else None,
        created_at=message.created_at,
    )
    db.add(ding)
    await db.flush()
    await db.execute(
        insert(DingRecipient),
        [{"org_id": ctx.org_id, "ding_id": ding.id, "member_id": m, "acknowledged_at": None} for m in recipients],
    )
    names = {ctx.member.id: ctx.member.display_name}
    out = message_out(message, names)
    others = seat.member_count - 1
    await emit(
        db, org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="message.created",
        data={"message": out.model_dump(mode="json")},
    )
    ding_out = _ding_out(ding, message, names, (len(recipients), 0), None)
    ding_data = {"ding": ding_out.model_dump(mode="json")}
    await emit_many(
        db, org_id=ctx.org_id,
        events=[NewEvent(member_channel(member_id), "ding.created", ding_data) for member_id in recipients],
    )
    out.read_count, out.unread_count = 0, others
    return DingSent(ding=ding_out, message=out), True


async def _ding_sent(db: AsyncSession, ctx: OrgContext, message: Message) -> DingSent:
    ding = (await db.execute(scoped(Ding, ctx.org_id).where(Ding.id == message.id))).scalar_one()
    [out] = await message_outs(db, ctx, [message])
    counts = (await _ding_counts(db, ctx.org_id, [ding.id])).get(ding.id, (0, 0))
    return DingSent(ding=_ding_out(ding, message, {ctx.member.id: ctx.member.display_name}, counts, None), message=out)


async def list_dings(db: AsyncSession, ctx: OrgContext, *, box: str, limit: int) -> list[DingOut]:
    """inbox: DINGs to me, those I have not acknowledged first, then the newest; sent: mine, newest first."""
    me = ctx.member.id
    if box == "sent":
        rows = (
            await db.execute(
                scoped(Ding, ctx.org_id).add_columns(Message, literal(None))
                .join(Message, and_(Message.org_id == Ding.org_id, Message.id == Ding.id))
                .where(Ding.sender_id == me)
                .order_by(Ding.created_at.desc(), Ding.id.desc())
                .limit(limit)
            )
        ).all()
    else:
        rows = (
            await db.execute(
                scoped(Ding, ctx.org_id).add_columns(Message, DingRecipient.acknowledged_at)
                .join(DingRecipient, and_(DingRecipient.org_id == Ding.org_id, DingRecipient.ding_id == Ding.id))
                .join(Message, and_(Message.org_id == Ding.org_id, Message.id == Ding.id))
                .where(DingRecipient.member_id == me)
                .order_by(DingRecipient.acknowledged_at.is_not(None), Ding.created_at.desc(), Ding.id.desc())
                .limit(limit)
            )
        ).all()
    counts = await _ding_counts(db, ctx.org_id, [d.id for d, _, _ in rows])
    names = await _names(db, ctx.org_id, {d.sender_id for d, _, _ in rows})
    return [_ding_out(d, m, names, counts.get(d.id, (0, 0)), acked) for d, m, acked in rows]


async def _visible_ding(db: AsyncSession, ctx: OrgContext, ding_id: str) -> tuple[Ding, Message, list[DingRecipient]]:
    row = (
        await db.execute(
            scoped(Ding, ctx.org_id).add_columns(Message)
            .join(Message, and_(Message.org_id == Ding.org_id, Message.id == Ding.id))
            .where(Ding.id == ding_id)
        )
    ).first()
    recipients: list[DingRecipient] = []
    if row is not None:
        recipients = list(
            (await db.execute(scoped(DingRecipient, ctx.org_id).where(DingRecipient.ding_id == ding_id))).scalars()
        )
    if row is None or (row[0].sender_id != ctx.member.id and all(r.member_id != ctx.member.id for r in recipients)):
        raise NotFound("There is no such DING for you.", code="ding_not_found")
    return row[0], row[1], recipients


async def ding_detail(db: AsyncSession, ctx: OrgContext, ding_id: str) -> DingDetail:
    ding, message, recipients = await _visible_ding(db, ctx, ding_id)
    names = await _names(db, ctx.org_id, {ding.sender_id, *(r.member_id for r in recipients)})
    mine = next((r for r in recipients if r.member_id == ctx.member.id), None)
    acked = sum(1 for r in recipients if r.acknowledged_at is not None)
    out = _ding_out(ding, message, names, (len(recipients), acked), mine.acknowledged_at if mine else None)
    listed = sorted(recipients, key=lambda r: (r.acknowledged_at is not None, names.get(r.member_id, ""), r.member_id))
    return DingDetail(
        **out.model_dump(),
        recipients=[DingRecipientOut(member_id=r.member_id, display_name=names.get(r.member_id, ""),
                                     acknowledged_at=r.acknowledged_at) for r in listed],
    )


async def acknowledge_ding(db: AsyncSession, ctx: OrgContext, ding_id: str) -> DingDetail:
    ding, _, recipients = await _visible_ding(db, ctx, ding_id)
    if all(r.member_id != ctx.member.id for r in recipients):
        raise Forbidden("Only the people a DING was sent to acknowledge it.", code="not_a_recipient")
    now = utcnow()
    done = await db.execute(
        scoped_update(DingRecipient, ctx.org_id)
        .where(DingRecipient.ding_id == ding_id, DingRecipient.member_id == ctx.member.id,
               DingRecipient.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount:  # type: ignore[attr-defined]
        for r in recipients:
            if r.member_id == ctx.member.id:
                set_committed_value(r, "acknowledged_at", now)
        if all(r.acknowledged_at is not None for r in recipients):
            ding.next_remind_at = None
            await db.flush()
        data = {"ding_id": ding_id, "conversation_id": ding.conversation_id, "member_id": ctx.member.id,
                "acknowledged_at": now.isoformat()}
        for channel in sorted({member_channel(ding.sender_id), member_channel(ctx.member.id)}):
            await emit(db, org_id=ctx.org_id, channel=channel, kind="ding.acknowledged", data=data)
    return await ding_detail(db, ctx, ding_id)


async def send_due_reminders(db: AsyncSession, *, now: datetime | None = None, batch: int = 100) -> int:
    """Notify again the recipients of due DINGs who have not acknowledged; returns how many DINGs.

    Runs across organizations (it is the server's job, not a request). Several processes may run it
    at once: each claims due DINGs with one UPDATE that moves their next reminder time, and on
    PostgreSQL skips rows another process has locked, so a DING is never reminded twice.
    """
    now = now or utcnow()
    due = (
        select(Ding.org_id, Ding.id)
        .where(Ding.next_remind_at <= now)
        .order_by(Ding.next_remind_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        await db.execute(
            update(Ding)
            .where(tuple_(Ding.org_id, Ding.id).in_(due), Ding.next_remind_at <= now)
            .values(reminders_sent=Ding.reminders_sent + 1, next_remind_at=None)
            .returning(Ding.org_id, Ding.id, Ding.conversation_id, Ding.sender_id, Ding.remind_after_minutes,
                       Ding.max_reminders, Ding.reminders_sent)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not claimed:
        return 0
    pending: dict[tuple[str, str], list[str]] = defaultdict(list)
    for org_id, ding_id, member_id in (
        await db.execute(
            select(DingRecipient.org_id, DingRecipient.ding_id, DingRecipient.member_id)
            .where(tuple_(DingRecipient.org_id, DingRecipient.ding_id).in_([(c.org_id, c.id) for c in claimed]),
                   DingRecipient.acknowledged_at.is_(None))
        )
    ).all():
        pending[(org_id, ding_id)].append(member_id)
    for ding in claimed:
        members = sorted(pending.get((ding.org_id, ding.id), []))
        reminded = {"ding_id": ding.id, "conversation_id": ding.conversation_id, "sender_id": ding.sender_id,
                    "reminder": ding.reminders_sent}
        await emit_many(
            db, org_id=ding.org_id,
            events=[NewEvent(member_channel(member_id), "ding.reminded", reminded) for member_id in members],
        )
        if members and ding.reminders_sent < ding.max_reminders and ding.remind_after_minutes:
            await db.execute(
                scoped_update(Ding, ding.org_id)
                .where(Ding.id == ding.id)
                .values(next_remind_at=now + timedelta(minutes=ding.remind_after_minutes))
            )
    return len(claimed)


# ---- uploads ------------------------------------------------------------------------------------


def upload_out(upload: Upload) -> UploadOut:
    return UploadOut(
        id=upload.id, name=upload.name, content_type=upload.content_type, size=upload.size, sha256=upload.sha256,
        url=f"/api/v1/orgs/{upload.org_id}/uploads/{upload.id}", created_at=upload.created_at,
    )


async def store_upload(db: AsyncSession, ctx: OrgContext, *, name: str, content_type: str, chunks) -> Upload:  # type: ignore[no-untyped-def]
    upload_id = new_id()
    key = f"{ctx.org_id}/{upload_id}"
    storage = get_storage()
    stored = await storage.put(key, chunks, max_bytes=get_settings().upload_max_bytes)
    upload = Upload(
        org_id=ctx.org_id, id=upload_id, uploader_id=ctx.member.id, name=name, content_type=content_type,
        size=stored.size, sha256=stored.sha256, storage_key=key, created_at=utcnow(),
    )
    db.add(upload)
    await db.flush()
    return upload


async def get_upload(db: AsyncSession, ctx: OrgContext, upload_id: str) -> Upload:
    """An upload the caller may see: their own, or one sent in a conversation they are in."""
    upload = (await db.execute(scoped(Upload, ctx.org_id).where(Upload.id == upload_id))).scalar_one_or_none()
    if upload is not None and upload.uploader_id != ctx.member.id:
        shared = (
            await db.execute(
                select(
                    scoped(Message, ctx.org_id, Message.id)
                    .join(ConversationMember, and_(
                        ConversationMember.org_id == Message.org_id,
                        ConversationMember.conversation_id == Message.conversation_id,
                        ConversationMember.member_id == ctx.member.id,
                    ))
                    .where(Message.upload_id == upload_id)
                    .exists()
                )
            )
        ).scalar_one()
        if not shared:
            upload = None
    if upload is None:
        raise NotFound("There is no such file, or it was not shared with you.", code="upload_not_found")
    return upload


async def typing(db: AsyncSession, ctx: OrgContext, conversation_id: str, is_typing: bool) -> None:
    """Tell the people of a conversation connected now that I am typing; nothing is stored."""
    await get_seat(db, ctx, conversation_id)
    await publish_ephemeral(
        org_id=ctx.org_id, channel=conversation_channel(conversation_id), kind="typing",
        data={"conversation_id": conversation_id, "member_id": ctx.member.id, "typing": is_typing},
    )


# The stream subscribes each connection to the conversations of its member; department and class
# groups follow the organization's changes.
register_channel_provider(member_conversation_channels)
orgs_service.on_members_changed(sync_department_groups)
