"""The router every domain uses: transactional routes, the documented error envelope, and a quick
way past the routes of other domains."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

from tack.core.db import TransactionalRoute
from tack.core.errors import error_responses

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class DomainRouter(APIRouter):
    """A domain's routes. FastAPI looks for a request's route by trying every route of every router in
    turn, at a few microseconds each (most of a small request's routing, when its route comes late).
    This router first asks one regular expression made of all its routes' paths whether any of them
    can match, and turns the request away at once when none can."""

    served_at: str | None = None
    _path_filter: tuple[int, re.Pattern[str]] | None = None

    def _filter(self) -> re.Pattern[str] | None:
        if self.served_at is None:
            return None  # not included through `include_domain`: try every route, as FastAPI does
        known = self._path_filter
        if known is not None and known[0] == len(self.routes):
            return known[1]
        alternatives = []
        for route in self.routes:
            pattern = getattr(route, "path_regex", None)
            if pattern is None:
                return None  # a route of another kind: no shortcut
            alternatives.append(_NAMED_GROUP.sub("(?:", pattern.pattern.removeprefix("^").removesuffix("$")))
        compiled = re.compile(f"^{re.escape(self.served_at)}(?:{'|'.join(alternatives)})$")
        self._path_filter = (len(self.routes), compiled)
        return compiled

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path_filter = self._filter()
        if path_filter is not None and not path_filter.match(get_route_path(scope)):
            return Match.NONE, {}
        return super().matches(scope)


def domain_router(*, prefix: str = "", tags: list[str], **options: Any) -> DomainRouter:
    return DomainRouter(
        prefix=prefix,
        tags=list(tags),
        route_class=TransactionalRoute,
        responses=error_responses(400, 401, 403, 404, 409, 422, 429),
        **options,
    )


def include_domain(app: FastAPI, router: APIRouter, *, prefix: str = "") -> None:
    """Include a domain's router under `prefix` (its routes' paths then start with it)."""
    app.include_router(router, prefix=prefix)
    if isinstance(router, DomainRouter):
        router.served_at = prefix


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
