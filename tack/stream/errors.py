"""Why the server ends a stream connection: each error has a stable code and a WebSocket close code.

The client gets a final `{"type": "error", "code", "message"}` frame, then the close with
`close_code`. Close codes follow 4000 + the HTTP status where one fits (4401, 4403, 4408); 4008 is
"too slow" (after 1008, policy violation).
"""

from __future__ import annotations

from tack.core.errors import TackError


class StreamError(TackError):
    status_code = 400
    code = "protocol_error"
    message = "The stream protocol was not followed."
    close_code = 4400
    # Whether a client should connect again (with backoff) after this close.
    retry = True


class ProtocolError(StreamError):
    code = "protocol_error"
    message = "The first frame must be a JSON hello: {\"type\": \"hello\", \"cursors\": {...}}."
    retry = False


class HelloTimeout(StreamError):
    code = "hello_timeout"
    message = "No hello came in time."
    close_code = 4408


class StreamNotAuthenticated(StreamError):
    status_code = 401
    code = "not_authenticated"
    message = "Sign in first: send the session cookie or a Bearer token."
    close_code = 4401
    retry = False


class InvalidToken(StreamNotAuthenticated):
    code = "invalid_token"
    message = "This token is not valid or was revoked."


class SessionEnded(StreamNotAuthenticated):
    code = "session_ended"
    message = "The session or token was revoked or has expired. Sign in again."


class OriginNotAllowed(StreamError):
    status_code = 403
    code = "origin_not_allowed"
    message = "Pages of another site may not open the stream with your session cookie."
    close_code = 4403
    retry = False


class TooSlow(StreamError):
    status_code = 429
    code = "too_slow"
    message = "This connection fell too far behind. Reconnect and resume from your positions."
    close_code = 4008


class HeartbeatTimeout(StreamError):
    status_code = 408
    code = "heartbeat_timeout"
    message = "Nothing was heard from this client for too long."
    close_code = 4408


class StreamInternalError(StreamError):
    status_code = 500
    code = "internal_error"
    message = "Something went wrong on the server. Reconnect and resume from your positions."
    close_code = 1011


class StreamBusy(StreamError):
    """Admission control turned the connection away for now (tack/core/admission.py)."""

    status_code = 429
    code = "busy"
    message = "The server is very busy right now. Connect again in a few seconds."
    close_code = 4503

    def __init__(self, retry_after: int) -> None:
        super().__init__(details={"retry_after": retry_after})
        self.retry_after = retry_after
