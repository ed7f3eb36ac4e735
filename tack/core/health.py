"""Liveness and readiness: /healthz says the process answers, /readyz that it can serve."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from tack.core.db import get_database
from tack.core.migrations import head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None
    migrations: str | None = None


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz() -> JSONResponse:
    database = get_database()
    try:
        async with database.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    except Exception as exc:  # not ready is an answer, not an error
        body = Health(status="unavailable", database=f"unreachable: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    head = head_revision()
    if current != head:
        body = Health(status="unavailable", database="ok", migrations=f"at {current}, need {head}: run tack migrate")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", database="ok", migrations=current).model_dump())
