"""Requests a client makes over its open stream connection: `call` frames, answered by `result`.

A client that holds a stream already proved who it is; sending a chat message over that socket
skips what a separate HTTP request costs (its parsing, routing, and the dependency machinery around
it), which is most of the server's work for a message. Domains register actions here
(`register_action`, e.g. chat's "chat.send"); this module does what the request wrapper of a REST
route does: checks the caller (the session and the membership, read fresh in the action's own
transaction), runs the action in one transaction, commits, and only then lets its events out.

The caller is checked on every call with one prepared statement (tack/core/prepared.py) that reads
the session and every column the caller's context is made of (the organization, the membership,
its roles). When none of that changed since the connection's previous call in that organization,
the context built then (its ORM objects, detached) is used again: building it anew costs more than
the rest of a chat send. Actions read the context; they do not change its objects.

Only session-authenticated connections call; applications and tokens use the REST API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tack.core.auth import SESSION_COLUMNS, SESSION_FROM, SESSION_ID, session_principal
from tack.core.db import run_after_commit
from tack.core.errors import TackError
from tack.core.prepared import Prepared
from tack.orgs.access import OrgContext, load_org_context
from tack.orgs.models import MemberRole, Membership, MemberStatus, Organization
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
            caller = await _caller(db, conn, principal.session_id, call.org_id)
            if caller is None:
                await db.rollback()
                conn.fail(SessionEnded())
                return
            ctx, made_of = caller
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
    # Kept only once committed: a rollback expires the objects its session loaded.
    conn.call_contexts[call.org_id] = (made_of, ctx)
    await run_after_commit(db)
    conn.push(schemas.result_frame(call.id, data))


async def _caller(db: AsyncSession, conn: Connection, session_id: str, org_id: str) -> tuple[OrgContext, Any] | None:
    """The caller's context in `org_id` and what it is made of, read in the call's transaction;
    None when the session is no longer good. 404 (org_not_found) when not an active member."""
    rows, _ = await _CALLER.run(db, {"session_id": session_id, "org_id": org_id, "status": MemberStatus.active})
    if not rows or await session_principal(db, session_id, rows[0][:_SESSION_WIDTH]) is None:
        return None
    made_of = (rows[0][_SESSION_WIDTH:-1], frozenset(row[-1] for row in rows))
    known = conn.call_contexts.get(org_id)
    if known is not None and known[0] == made_of:
        return known[1], made_of
    return await load_org_context(db, org_id, rows[0][0]), made_of


_organizations = Organization.__table__
_memberships = Membership.__table__
_roles = MemberRole.__table__
_SESSION_WIDTH = len(SESSION_COLUMNS)
# The session, then everything an OrgContext is made of (a row per role). Outer joins: a good
# session without a membership is "not a member" (404), not "not signed in".
_CALLER = Prepared(
    select(*SESSION_COLUMNS, *_organizations.c, *_memberships.c, _roles.c.role)
    .select_from(SESSION_FROM)
    .outerjoin(
        _memberships,
        and_(
            _memberships.c.org_id == bindparam("org_id"),
            _memberships.c.account_id == SESSION_COLUMNS[0],
            _memberships.c.status == bindparam("status"),
        ),
    )
    .outerjoin(_organizations, _organizations.c.id == _memberships.c.org_id)
    .outerjoin(_roles, and_(_roles.c.org_id == _memberships.c.org_id, _roles.c.member_id == _memberships.c.id))
    .where(SESSION_ID == bindparam("session_id"))
)
