"""The messages of the stream protocol (docs/stream.md is the reference for clients).

Client messages are parsed with Pydantic. Server frames are built here as compact JSON text; an
event's frame is serialised once when it is emitted (tack.core.events) and the same text goes to
every connection, so nothing in this module runs per delivery.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tack.core.events import dumps
from tack.core.ids import ID_PATTERN
from tack.stream.errors import ProtocolError, StreamError

OrgId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class Cursor(BaseModel):
    """Where a client is in one organization's stream: the last position it has, and its epoch."""

    model_config = ConfigDict(extra="ignore")
    position: int = Field(ge=0)
    # Without an epoch the position is trusted as it is.
    epoch: Annotated[str, StringConstraints(max_length=64)] | None = None


class Hello(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["hello"]
    cursors: dict[OrgId, Cursor] = Field(default_factory=dict, max_length=1000)


def parse_hello(text: str) -> Hello:
    try:
        return Hello.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ProtocolError(
            f"The first frame must be a hello ({where or 'frame'}: {first.get('msg', 'invalid')})."
        ) from None


class Call(BaseModel):
    """A request over the stream (tack/stream/calls.py)."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["call"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    action: Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z_]+)+$", max_length=64)]
    org_id: OrgId
    params: dict[str, Any] = Field(default_factory=dict)


class CallRefused(Exception):
    def __init__(self, call_id: str | None, message: str) -> None:
        super().__init__(message)
        self.call_id = call_id
        self.message = message


def parse_call(text: str) -> Call:
    try:
        return Call.model_validate_json(text)
    except ValidationError as exc:
        try:
            raw_id = json.loads(text).get("id")
        except (ValueError, AttributeError):
            raw_id = None
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise CallRefused(
            raw_id if isinstance(raw_id, str) and len(raw_id) <= 64 else None,
            f"A call needs an id, an action, an org_id and params ({where or 'frame'}: {first.get('msg', 'invalid')}).",
        ) from None


def message_type(text: str) -> str | None:
    """The `type` of a client frame after the hello; None when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value.get("type") if isinstance(value, dict) else None


# ---- server frames ------------------------------------------------------------------------------

PONG = dumps({"type": "pong"})


def ready_frame(orgs: dict[str, dict[str, Any]], ping_interval: float) -> str:
    return dumps({"type": "ready", "orgs": orgs, "ping_interval": ping_interval})


def live_frame(positions: dict[str, int]) -> str:
    return dumps({"type": "live", "positions": positions})


def resync_frame(org_id: str, reason: str, epoch: str, position: int) -> str:
    return dumps({"type": "resync", "org_id": org_id, "reason": reason, "epoch": epoch, "position": position})


def left_frame(org_id: str, reason: str) -> str:
    return dumps({"type": "left", "org_id": org_id, "reason": reason})


def ping_frame(positions: dict[str, int]) -> str:
    return dumps({"type": "ping", "positions": positions})


def result_frame(call_id: str, data: dict[str, Any]) -> str:
    return dumps({"type": "result", "id": call_id, "ok": True, "data": data})


def result_error_frame(call_id: str | None, status: int, code: str, message: str, details: Any) -> str:
    return dumps({"type": "result", "id": call_id, "ok": False, "status": status,
                  "error": {"code": code, "message": message, "details": details}})


def error_frame(error: StreamError) -> str:
    frame = {"type": "error", "code": error.code, "message": error.message}
    retry_after = (error.details or {}).get("retry_after") if isinstance(error.details, dict) else None
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return dumps(frame)
