"""One error envelope for the whole API.

Services raise `TackError` subclasses; routes never build error responses by hand. Every error is
`{"error": {"code": ..., "message": ..., "details": ...}}` with a stable, machine-readable code and a
message a person can act on.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class TackError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details
        self.headers = headers
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(TackError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(TackError):
    status_code = 401
    code = "not_authenticated"
    message = "Sign in first."


class Forbidden(TackError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(TackError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(TackError):
    status_code = 409
    code = "conflict"
    message = "This conflicts with what is already there."


class Gone(TackError):
    status_code = 410
    code = "gone"
    message = "This is no longer available."


class PayloadTooLarge(TackError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class Unprocessable(TackError):
    status_code = 422
    code = "validation_error"
    message = "Some fields are not valid."


class RateLimited(TackError):
    status_code = 429
    code = "rate_limited"
    message = "Too many attempts. Wait a little and try again."

    def __init__(self, retry_after: int, message: str | None = None, *, code: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            code=code,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceBusy(TackError):
    # An overload the caller should wait out (like admission control's Busy), not a server error.
    status_code = 429
    code = "busy"
    message = "The server is very busy right now. Try again in a few seconds."

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(details={"reason": "database_busy", "retry_after": retry_after},
                         headers={"Retry-After": str(retry_after)})


# ---- OpenAPI description of the envelope -------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERROR_STATUSES = {
    400: "The request is malformed.",
    401: "Not signed in, or the session or token is no longer valid.",
    403: "Signed in, but not allowed.",
    404: "Not found, or not visible to you.",
    409: "Conflicts with the current state.",
    410: "No longer available.",
    413: "The request body is too large.",
    422: "A field is missing or invalid.",
    429: "Too many requests; see Retry-After.",
}


# character_not_in_repertoire (e.g. NUL in text) and untranslatable_character.
UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def _envelope(exc: TackError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=exc.headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TackError)
    async def _tack_error(_: Request, exc: TackError) -> JSONResponse:
        return _envelope(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _location(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        first = fields[0] if fields else {"field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        return _envelope(Unprocessable(message, details={"fields": fields}))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated", 403: "forbidden"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404:
            message = "There is nothing at this address."
        body = {"error": {"code": code, "message": message, "details": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique or foreign-key rule caught a race the service could not see; nothing was written.
        log.warning("integrity_error", error=str(exc.orig))
        return _envelope(Conflict("This conflicts with something saved at the same time. Try again."))

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL refuses text it cannot store (NUL, or characters outside the encoding). Input
        # schemas keep such text out; this catches a field that lets it through, as the client's
        # mistake it is rather than a 500.
        if getattr(exc.orig, "sqlstate", None) in UNSTORABLE_TEXT_SQLSTATES:
            log.warning("unstorable_text", error=str(exc.orig), path=request.url.path)
            return _envelope(
                Unprocessable("Some text contains characters that cannot be stored, such as NUL.", code="invalid_text")
            )
        return await _unexpected(request, exc)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every database connection stayed busy for the pool's whole timeout: an overload, which the
        # caller should hear about as such (and retry later), not as a server error.
        log.warning("database_pool_timeout")
        return _envelope(ServiceBusy(retry_after=5))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        body = {
            "error": {
                "code": "internal_error",
                "message": "Something went wrong on the server. It has been logged; try again.",
                "details": None,
            }
        }
        return JSONResponse(body, status_code=500)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses an operation can return."""
    return {s: {"model": ErrorEnvelope, "description": ERROR_STATUSES[s]} for s in statuses}
