"""The router every domain uses: transactional routes and the documented error envelope."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tack.core.db import TransactionalRoute
from tack.core.errors import error_responses


def domain_router(*, prefix: str = "", tags: list[str]) -> APIRouter:
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        route_class=TransactionalRoute,
        responses=error_responses(400, 401, 403, 404, 409, 422, 429),
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
