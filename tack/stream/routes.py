"""The stream's one endpoint: GET /api/v1/stream, upgraded to a WebSocket (docs/stream.md)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from tack.stream import service

router = APIRouter(tags=["stream"])


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Events of every organization the caller belongs to, resumable from per-organization positions."""
    await service.serve(websocket)
