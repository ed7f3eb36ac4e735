"""The app tries its domains' routes busiest first (tack/app.py); that is only safe while no route of
one domain matches a path meant for another's."""

from __future__ import annotations

import re

from fastapi.routing import _IncludedRouter

from tack.app import create_app


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)(:path)?\}", lambda m: ".*" if m.group(2) else "[^/]+", path) + "$")


def _example(path: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", "x1", path)


def test_no_route_of_one_domain_matches_a_path_of_another() -> None:
    app = create_app()
    routes = []
    for position, included in enumerate(app.router.routes):
        if isinstance(included, _IncludedRouter):
            prefix = included.include_context.prefix
            for route in included.original_router.routes:
                methods = set(getattr(route, "methods", None) or {"WEBSOCKET"})
                routes.append((position, prefix + route.path, methods, route.name))
    assert len(routes) > 50
    shadowed = [
        (mine[3], other[3])
        for mine in routes
        for other in routes
        if mine[0] != other[0] and mine[2] & other[2] and _pattern(other[1]).match(_example(mine[1]))
    ]
    assert shadowed == []
    # And the check itself sees an overlap when there is one.
    assert _pattern("/api/v1/orgs/{org_id}/rooms/{room_id}").match(_example("/api/v1/orgs/{org_id}/rooms/{x}"))


def test_each_domain_router_lets_through_every_path_of_its_own_and_no_other() -> None:
    from starlette.routing import Match

    from tack.core.routing import DomainRouter

    app = create_app()
    domains = [r.original_router for r in app.router.routes
               if isinstance(r, _IncludedRouter) and isinstance(r.original_router, DomainRouter)]
    assert len(domains) >= 5
    for router in domains:
        assert router.served_at == "/api/v1"
        for route in router.routes:
            path = _example(router.served_at + route.path)
            for other in domains:
                scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
                path_filter = other._filter()
                assert path_filter is not None
                assert bool(path_filter.match(path)) == (other is router or bool(
                    [r for r in other.routes if r.path_regex.match(path[len("/api/v1"):])])), (route.path, other)
                if other is not router:
                    assert other.matches(scope) == (Match.NONE, {})


async def test_requests_find_their_routes_through_the_filters(client) -> None:  # type: ignore[no-untyped-def]
    # A path of the rooms domain, another of identity (last in line), one of none (404 envelope).
    assert (await client.get("/auth/session")).status_code in (200, 401)
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
