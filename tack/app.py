"""The ASGI application: API routers under /api/v1, health, metrics and the web client."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tack.chat.reminders import ding_reminders
from tack.chat.routes import router as chat_router
from tack.core import health
from tack.core.config import get_settings
from tack.core.db import get_database, set_database
from tack.core.errors import NotFound, install_error_handlers
from tack.core.logging import configure_logging
from tack.core.loop_lag import loop_lag_watched
from tack.core.pacing import FrontDoor
from tack.core.routing import include_domain
from tack.identity.routes import router as identity_router
from tack.media import service as media_service
from tack.media.housekeeping import media_housekeeping
from tack.media.routes import router as media_router
from tack.orgs.routes import router as orgs_router
from tack.rooms import service as rooms_service
from tack.rooms.housekeeping import room_housekeeping
from tack.rooms.routes import router as rooms_router
from tack.stream.routes import router as stream_router
from tack.stream.wire import KeepServerSend

API_PREFIX = "/api/v1"
# (young, middle, old) collection thresholds; see lifespan().
GC_THRESHOLDS = (20_000, 20, 20)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    database = get_database()
    # Everything loaded so far (modules, routes, schemas) lives as long as the process; moving it
    # out of the collector's reach keeps full collections short, and so the latency tail of
    # requests and stream deliveries that happen to meet one.
    gc.collect()
    gc.freeze()
    # A young collection every 700 new objects (Python's default) also runs in the middle of every
    # request, and whatever it finds alive moves on towards the old generation, which at 10,000
    # connections holds millions of objects: each full pass then held the loop for over a second.
    # Collecting the young generation less often lets a request's objects die of their reference
    # counts first, so far fewer reach the old generation and full passes become rare.
    gc.set_threshold(*GC_THRESHOLDS)
    async with database.background_checkpoints(), loop_lag_watched():
        async with ding_reminders(), room_housekeeping(), media_housekeeping():
            yield
        await _stop_stream()
        await database.dispose()
    set_database(None)


async def _stop_stream() -> None:
    from tack.core.broker import get_broker, set_broker
    from tack.stream.hub import close_hub

    await close_hub()
    await get_broker().close()
    set_broker(None)


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPI(
        title="Tack API",
        version="1",
        description="Organizations, people, sign-in and chat of Tack. Errors use one envelope: "
        '`{"error": {"code", "message", "details"}}`.',
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Media follows the rooms: removals revoke and kick, mutes mute, an end destroys (docs/media.md).
    rooms_service.on_room_change(media_service.follow_room)
    rooms_service.set_media_availability(media_service.known_available)
    app.add_middleware(KeepServerSend)
    # Outermost: a crowd that arrives at once starts a few per turn of the event loop.
    settings = get_settings()
    app.add_middleware(FrontDoor, per_turn=settings.requests_per_turn, max_wait_s=settings.front_door_wait_seconds,
                       shed_after_s=settings.front_door_shed_after_seconds,
                       target_turn_s=settings.front_door_turn_target_ms / 1000)
    # The busiest domains first: FastAPI tries routes in order (each domain's router turns away the
    # paths that are not its own at once, tack/core/routing.py). No two domains' routes match the same
    # path (tests/test_routing.py), so the order changes nothing else.
    for router in (rooms_router, chat_router, stream_router, media_router, orgs_router, identity_router):
        include_domain(app, router, prefix=API_PREFIX)
    app.include_router(health.router)
    if settings.testing:
        from tack.stream.testing import router as testing_router

        app.include_router(testing_router, prefix=API_PREFIX)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _install_openapi(app)
    _install_web_client(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """Describe validation errors with our envelope instead of FastAPI's default shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                response = operation.get("responses", {}).get("422")
                if response is not None:
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                    }
                    response["description"] = "A field is missing or invalid."
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_web_client(app: FastAPI) -> None:
    """Serve the built single-page client; every non-API path falls back to its index.html."""
    dist = get_settings().resolved_web_dist()

    @app.get("/{path:path}", include_in_schema=False)
    async def web_client(path: str) -> Response:
        if path.startswith(("api/", "api")) and (path == "api" or path.startswith("api/")):
            raise NotFound("There is no API endpoint at this address.", code="not_found")
        candidate = (dist / path).resolve()
        if path and candidate.is_file() and dist.resolve() in candidate.parents:
            headers = {"Cache-Control": "public, max-age=31536000, immutable"} if "/assets/" in f"/{path}" else {}
            return FileResponse(candidate, headers=headers)
        index = dist / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_NO_CLIENT_PAGE, status_code=200)


_NO_CLIENT_PAGE = """<!doctype html><meta charset="utf-8"><title>Tack</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Tack is running</h1><p>The web client has not been built yet. Run <code>make run</code>
(or <code>make web</code>) to build it. The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p>"""


