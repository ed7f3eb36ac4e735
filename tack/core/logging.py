"""Structured logs with structlog: readable lines by default, JSON with TACK_LOG_JSON=1."""

from __future__ import annotations

import logging
import re

import structlog

from tack.core.config import get_settings

_configured = False
_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s\"']+")


class _RedactTokensInPaths(logging.Filter):
    """Stream clients that cannot set headers send `?access_token=...`; servers log request paths
    with their query (uvicorn's WebSocket and access lines). Keep the tokens out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "access_token=" in a for a in record.args):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def configure_logging() -> None:
    global _configured
    if _configured:
        return
    settings = get_settings()
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer() if settings.log_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(_RedactTokensInPaths())
    _configured = True
