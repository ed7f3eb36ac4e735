"""Endpoints for tests that drive a server process from outside: emit events, publish signals.

Mounted only when TACK_TESTING is set (tests/live.py sets it for the servers it starts); never in
production. Any member of an organization may call them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from tack.core.auth import DB
from tack.core.broker import publish_ephemeral
from tack.core.db import TransactionalRoute
from tack.core.errors import Conflict
from tack.core.events import emit
from tack.core.schemas import Input
from tack.orgs.access import OrgMember

router = APIRouter(prefix="/orgs/{org_id}/testing", route_class=TransactionalRoute, include_in_schema=False)


class EmitIn(Input):
    channel: str
    kind: str = "test.event"
    data: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(default=1, ge=1, le=5000)
    # Emit, then fail the request: the transaction rolls back and nothing may be announced.
    fail: bool = False


class SignalIn(Input):
    channel: str
    kind: str = "test.signal"
    data: dict[str, Any] = Field(default_factory=dict)


@router.post("/events")
async def emit_events(body: EmitIn, ctx: OrgMember, db: DB) -> dict[str, list[int]]:
    positions = []
    for index in range(body.count):
        data = {**body.data, "n": index} if body.count > 1 else body.data
        positions.append(await emit(db, org_id=ctx.org_id, channel=body.channel, kind=body.kind, data=data))
    if body.fail:
        raise Conflict("Rolled back on purpose.", code="rolled_back")
    return {"positions": positions}


@router.post("/signals")
async def send_signal(body: SignalIn, ctx: OrgMember) -> dict[str, bool]:
    await publish_ephemeral(ctx.org_id, body.channel, body.kind, body.data)
    return {"ok": True}
