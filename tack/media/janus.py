"""Talking to one Janus server over its HTTP API: the VideoRoom requests Tack needs as its control plane.

Tack keeps one Janus session with one VideoRoom handle per server (`JanusControl`), kept alive by the
media housekeeping, and sends only synchronous VideoRoom requests on it (create, destroy, edit,
exists, list, listparticipants, allowed, kick, moderate, rtp_forward, stop_rtp_forward): their answers
come in the HTTP response itself. Plugin errors arrive inside a "success" envelope, so every answer's
`error_code` is checked. Browsers never see the secrets used here.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

VIDEOROOM = "janus.plugin.videoroom"

# VideoRoom error codes Tack reacts to.
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
# Core error codes.
SESSION_NOT_FOUND = 458
HANDLE_NOT_FOUND = 459


class JanusError(Exception):
    """Janus answered with an error (`code` is Janus's error code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnreachable(Exception):
    """Janus did not answer (down, wrong address, or too slow)."""


@dataclass(frozen=True)
class JanusEndpoint:
    """How Tack reaches one Janus server (the registry row's connection part)."""

    api_url: str  # e.g. http://127.0.0.1:8088/janus
    admin_url: str  # e.g. http://127.0.0.1:7088/admin ("" when the Admin API is not reachable)
    admin_secret: str
    admin_key: str  # the VideoRoom plugin's admin_key (room creation, rtp_forward)
    core_token: str  # a token_auth token for Tack's own session ("" without token_auth)


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusControl:
    """Tack's control session on one Janus server."""

    def __init__(self, endpoint: JanusEndpoint, *, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.endpoint = endpoint
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None
        self._session: int | None = None
        self._handle: int | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        session, self._session, self._handle = self._session, None, None
        if session is not None:
            try:
                await self._post(f"/{session}", {"janus": "destroy"})
            except (JanusError, JanusUnreachable):
                pass
        if self._owns_client:
            await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
        body = {**body, "transaction": _transaction()}
        if admin:
            body["admin_secret"] = self.endpoint.admin_secret
            url = self.endpoint.admin_url + path
        else:
            if self.endpoint.core_token:
                body["token"] = self.endpoint.core_token
            url = self.endpoint.api_url + path
        try:
            response = await self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise JanusUnreachable(f"{url}: {exc.__class__.__name__} {exc}") from None
        if response.status_code != 200:
            raise JanusUnreachable(f"{url}: HTTP {response.status_code}")
        answer = response.json()
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return answer

    async def info(self) -> dict[str, Any]:
        try:
            response = await self._client.get(self.endpoint.api_url + "/info")
        except httpx.HTTPError as exc:
            raise JanusUnreachable(f"{self.endpoint.api_url}: {exc.__class__.__name__} {exc}") from None
        if response.status_code != 200:
            raise JanusUnreachable(f"{self.endpoint.api_url}/info: HTTP {response.status_code}")
        return response.json()

    async def _ensure_handle(self) -> tuple[int, int]:
        if self._session is not None and self._handle is not None:
            return self._session, self._handle
        async with self._lock:  # one session for all: whoever comes first makes it, the others wait
            if self._session is None or self._handle is None:
                created = await self._post("", {"janus": "create"})
                session = int(created["data"]["id"])
                attached = await self._post(f"/{session}", {"janus": "attach", "plugin": VIDEOROOM})
                self._session, self._handle = session, int(attached["data"]["id"])
        return self._session, self._handle

    def _forget(self, session: int) -> None:
        """The session is gone on the server (Janus restarted, or timed it out): make a new one."""
        if self._session == session:
            self._session = self._handle = None

    async def keepalive(self) -> None:
        session, _ = await self._ensure_handle()
        try:
            await self._post(f"/{session}", {"janus": "keepalive"})
        except JanusError as exc:
            if exc.code != SESSION_NOT_FOUND:
                raise
            self._forget(session)
            await self._ensure_handle()

    async def videoroom(self, request: str, **fields: Any) -> dict[str, Any]:
        """One synchronous VideoRoom request; the plugin's answer, or JanusError. Requests run
        concurrently on the one handle (Janus matches answers by transaction)."""
        body = {"request": request, **fields}
        for attempt in (0, 1):
            session, handle = await self._ensure_handle()
            try:
                answer = await self._post(f"/{session}/{handle}", {"janus": "message", "body": body})
                break
            except JanusError as exc:
                if exc.code in (SESSION_NOT_FOUND, HANDLE_NOT_FOUND) and attempt == 0:
                    self._forget(session)
                    continue
                raise
        data = (answer.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return data

    async def admin(self, request: str, path: str = "", **fields: Any) -> dict[str, Any]:
        if not self.endpoint.admin_url:
            raise JanusUnreachable("this media server's Admin API is not configured")
        return await self._post(path, {"janus": request, **fields}, admin=True)
