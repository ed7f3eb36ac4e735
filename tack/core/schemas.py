"""Shared Pydantic building blocks for request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from tack.core.ids import ID_PATTERN

# Text a person typed: no NUL or other C0 control characters besides tab and newlines, which no
# database stores faithfully and no person means.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
TEXT_PATTERN = _TEXT

Text = Annotated[str, StringConstraints(pattern=_TEXT)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_TEXT)]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=_TEXT)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

IdPath = Annotated[str, Path(pattern=ID_PATTERN, description="An identifier (26 characters).")]
# Keyset cursors carry the sort key of the last row seen (up to 200 characters of any script),
# base64url-encoded, so they can be several times longer than the key itself.
CursorQuery = Annotated[
    str | None, Query(max_length=2048, pattern=r"^[A-Za-z0-9_\-=]*$", description="From next_cursor.")
]
LimitQuery = Annotated[int, Query(ge=1, le=200)]
SearchQuery = Annotated[str | None, Query(max_length=100, pattern=_TEXT)]


class Schema(BaseModel):
    """A response body: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    """A request body: unknown fields are refused so typos are caught."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class Timestamped(Schema):
    created_at: datetime


# For bodies that need an email address or a mobile number (or both): says in the schema what the
# model's validator checks, so clients and generated tests know the rule.
EMAIL_OR_MOBILE = ConfigDict(
    extra="forbid",
    json_schema_extra={
        "anyOf": [
            {"required": ["email"], "properties": {"email": {"type": "string"}}},
            {"required": ["mobile"], "properties": {"mobile": {"type": "string"}}},
        ]
    },
)
