"""Requests a client makes over its open stream connection: `call` frames, answered by `result`.

A client that holds a stream already proved who it is; sending a chat message over that socket
skips what a separate HTTP request costs (its parsing, routing, and the dependency machinery around
it), which is most of the server's work for a message. Domains register actions here
(`register_action`, e.g. chat's "chat.send"); this module does what the request wrapper of a REST
route does: checks the caller (the session and the membership, read fresh in the action's own
transaction), runs the action in one transaction, commits, and only then lets its events out.

Only session-authenticated connections call; applications and tokens use the REST API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.db import run_after_commit
from tack.core.errors import TackError
from tack.orgs.access import OrgContext, org_context_of, session_org_context
from tack.stream import schemas
from tack.stream.errors import SessionEnded
from tack.stream.hub import Connection, Hub

log = structlog.get_logger(__name__)

# An action: (the transaction, the caller in the call's organization, the call's params) -> the
# result's data (JSON-ready). Raise TackError for a refusal; pydantic's ValidationError for params
# that do not fit.
Action = Callable[[AsyncSession, OrgContext, dict[str, Any]], Awaitable[dict[str, Any]]]


_actions: dict[str, Action] = {}


def register_action(name: str, run: Action) -> None:
    """Make `name` callable over the stream. Actions write; each runs in a write transaction."""
    _actions[name] = run


async def handle_call(hub: Hub, conn: Connection, text: str) -> None:
    """Answer one call frame with a result frame. Refusals are results; only a session that ended
    ends the connection."""
    try:
        call = schemas.parse_call(text)
    except schemas.CallRefused as refused:
        conn.push(schemas.result_error_frame(refused.call_id, 400, "invalid_call", refused.message, None))
        return
    action = _actions.get(call.action)
    if action is None:
        conn.push(schemas.result_error_frame(call.id, 404, "unknown_action",
                                             f"There is no action {call.action!r} on the stream.", None))
        return
    principal = conn.principal
    if principal.kind != "session" or principal.session_id is None:
        conn.push(schemas.result_error_frame(call.id, 403, "use_the_api",
                                             "Applications and tokens make this request with the REST API.", None))
        return
    async with hub.database.session() as db:
        await db.connection(execution_options={"tack_write": True})
        try:
            signed_in, rows = await session_org_context(db, principal.session_id, call.org_id)
            if signed_in is None:
                await db.rollback()
                conn.fail(SessionEnded())
                return
            ctx = org_context_of(rows)
            data = await action(db, ctx, call.params)
        except TackError as error:
            await db.rollback()
            conn.push(schemas.result_error_frame(call.id, error.status_code, error.code, error.message, error.details))
            return
        except ValidationError as error:
            await db.rollback()
            details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()][:20]
            conn.push(schemas.result_error_frame(call.id, 422, "validation_error",
                                                 "Some fields are missing or invalid.", details))
            return
        await db.commit()
    await run_after_commit(db)
    conn.push(schemas.result_frame(call.id, data))
