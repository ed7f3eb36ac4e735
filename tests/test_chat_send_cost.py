"""How much database work one message costs: a send must stay a handful of statements, whatever the
size of the conversation (the fan-out to members happens on the stream, not in the database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event

from tack.core import prepared
from tack.core.db import get_database
from tests.factories import add_member, group_chat, owner_with_org, send_text

# Set in the test's own task: the server's background rounds (housekeeping, reminders, the log poll)
# run statements on the same engine meanwhile, in tasks of their own, and are not the request's.
_RECORDING: ContextVar[bool] = ContextVar("recording_statements", default=False)


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _RECORDING.get():
            statements.append(statement)

    def record_prepared(statement: str) -> None:
        if _RECORDING.get():
            statements.append(statement)

    engine = get_database().engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    # Prepared statements run on the SQLite driver without SQLAlchemy's cursor events.
    prepared.statement_observers.append(record_prepared)
    token = _RECORDING.set(True)
    try:
        yield statements
    finally:
        _RECORDING.reset(token)
        event.remove(engine, "before_cursor_execute", record)
        prepared.statement_observers.remove(record_prepared)


async def _statements_of_a_send(new_client, owner, org, group_size: int) -> list[str]:  # type: ignore[no-untyped-def]
    members = [(await add_member(new_client, owner, org))[1] for _ in range(group_size)]
    conversation = await group_chat(owner, org, [m["id"] for m in members])
    await send_text(owner, org, conversation, "warm up")
    with recorded_statements() as statements:
        await send_text(owner, org, conversation, "hello")
    return statements


async def test_a_send_is_a_handful_of_statements_whatever_the_group_size(new_client) -> None:  # type: ignore[no-untyped-def]
    owner, org = await owner_with_org(new_client)
    small = await _statements_of_a_send(new_client, owner, org, 2)
    large = await _statements_of_a_send(new_client, owner, org, 25)
    # BEGIN; the session with the organization, membership and roles; the seat with the member
    # count (and the conversation's lock); the message (its idempotency key makes a retry insert
    # nothing); the conversation's last message; the sender's read position; the event position;
    # the event.
    assert 5 <= len(small) <= 8, "\n".join(small)
    assert len(large) == len(small), "\n".join(large)


async def test_making_a_group_costs_the_same_statements_for_few_or_many_members(new_client) -> None:  # type: ignore[no-untyped-def]
    owner, org = await owner_with_org(new_client)
    people = [(await add_member(new_client, owner, org))[1]["id"] for _ in range(14)]
    await group_chat(owner, org, people[:1])  # the organization's first event creates its log
    with recorded_statements() as few:
        await group_chat(owner, org, people[:2])
    with recorded_statements() as many:
        await group_chat(owner, org, people)
    # Each new member gets an event telling their connections to subscribe: one batched insert.
    assert len(few) >= 3, few  # the recording sees the request's statements
    assert len(many) == len(few), "\n".join(many)
