"""What the tenancy tables (tests/test_tenancy.py, tests/test_chat_tenancy.py) share: filling a
row's path and body with a world's ids, calling it, naming it, and listing the app's routes."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

# A path or body placeholder other than {org_id}: the row reaches an object inside the organization.
PLACEHOLDER = re.compile(r"\{(?!org_id\})\w+\}")
# A body sent as raw bytes rather than JSON (uploads).
RAW = {"raw": "file bytes"}


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


async def call(client: httpx.AsyncClient, method: str, path: str, body: dict | None,
               ids: dict[str, str]) -> httpx.Response:
    """One row of a table, as `client`, with `ids` filled in."""
    if body is RAW:
        return await client.request(method, path.format(**ids), content=body["raw"].encode())
    kwargs = {"json": fill(body, ids)} if body is not None else {}
    return await client.request(method, path.format(**ids), **kwargs)


def case_id(row: tuple) -> str:
    return f"{row[0]} {row[1]}"


def api_routes(app) -> list[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    """(full path, route) for every API route, including those of included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI versions that copy included routes into app.routes
        return [(r.path, r) for r in app.routes if isinstance(r, APIRoute)]
    return [
        (c.path, c.original_route) for c in iter_route_contexts(app.routes)
        if c.path and isinstance(c.original_route, APIRoute)
    ]
