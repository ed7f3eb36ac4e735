"""The durable, ordered event log that the real-time stream is built on.

Every change a client must learn about in real time is written by the action that makes it, in the
same transaction, with `emit(...)`. Each organization has its own dense sequence of positions
(1, 2, 3, ... with no holes), handed out by a per-organization counter row that is incremented with
UPDATE ... RETURNING inside the writing transaction: the row lock is held until commit, so positions
commit in order and a reader that has seen position p has seen every position below it.

An event goes to a *channel*; a connection receives the events of the channels its person may see:
- `org`                    everyone in the organization
- `member:<member_id>`     one member (their own DINGs, their read state on other devices, ...)
- `conv:<conversation_id>` the members of a conversation
Domains add channels (e.g. a class room) by naming them `<kind>:<id>` and registering a provider
with `register_channel_provider`. When a member gains or loses a channel while connected (added to a
conversation, removed from it), the action emits an event on `member:<member_id>` whose data holds
`"join_channel": "<channel>"` or `"leave_channel": "<channel>"`; the stream applies it to that
member's open connections before delivering later events.

After the transaction commits, the positions are announced on the broker (tack/core/broker.py) so
every server process wakes its connections; nothing is announced for a rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

ORG_CHANNEL = "org"


def member_channel(member_id: str) -> str:
    return f"member:{member_id}"


def conversation_channel(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


ChannelProvider = Callable[[AsyncSession, str, str], Awaitable[set[str]]]
"""(db, org_id, member_id) -> the channels this member may receive, besides org and member:<id>."""

_channel_providers: list[ChannelProvider] = []


def register_channel_provider(provider: ChannelProvider) -> None:
    _channel_providers.append(provider)


async def channels_for(db: AsyncSession, org_id: str, member_id: str) -> set[str]:
    channels = {ORG_CHANNEL, member_channel(member_id)}
    for provider in _channel_providers:
        channels |= await provider(db, org_id, member_id)
    return channels


async def emit(db: AsyncSession, *, org_id: str, channel: str, kind: str, data: dict[str, Any]) -> int:
    """Append an event in the current transaction and return its position.

    `kind` is dotted, e.g. "message.created"; `data` is JSON-serialisable and is what clients get.
    The event is announced to the stream only after the transaction commits.
    """
    raise NotImplementedError
