"""A participant's side of Janus for tests: what a browser would send, over Janus's HTTP API."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tack.media import local


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_janus(folder: Path, rtp_ports: str) -> local.LocalJanus:
    """A private Janus for a test session (free ports of its own)."""
    j = local.prepare(folder, http_port=free_port(), admin_port=free_port(), ws_port=free_port(), rtp_ports=rtp_ports)
    local.start(j)
    return j


class JanusPeer:
    """One browser's session: created with a core token, the VideoRoom attached."""

    def __init__(self, api_url: str, core_token: str | None) -> None:
        self.api_url = api_url
        self.core_token = core_token
        self.client = httpx.AsyncClient(timeout=10)
        self.session: int | None = None
        self.handle: int | None = None

    async def request(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(6)}
        if self.core_token:
            body["token"] = self.core_token
        return (await self.client.post(self.api_url + path, json=body)).json()

    async def open(self) -> dict[str, Any]:
        """Create the session and attach the VideoRoom; Janus's answer to the create."""
        created = await self.request("", {"janus": "create"})
        if created.get("janus") != "success":
            return created
        self.session = created["data"]["id"]
        attached = await self.request(f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        self.handle = attached["data"]["id"]
        return created

    async def join(self, room: int, feed_id: int, token: str | None) -> dict[str, Any]:
        """Join as a publisher; the VideoRoom's answer (`videoroom: joined`, or an error_code)."""
        body = {"request": "join", "ptype": "publisher", "room": room, "id": feed_id, "display": "test"}
        if token is not None:
            body["token"] = token
        await self.request(f"/{self.session}/{self.handle}", {"janus": "message", "body": body})
        while True:
            url = f"{self.api_url}/{self.session}?maxev=1"
            if self.core_token:
                url += f"&token={quote(self.core_token)}"
            event = (await self.client.get(url, timeout=15)).json()
            data = (event.get("plugindata") or {}).get("data")
            if event.get("janus") == "event" and data is not None:
                return data

    async def close(self) -> None:
        if self.session is not None:
            try:
                await self.request(f"/{self.session}", {"janus": "destroy"})
            except httpx.HTTPError:
                pass
        await self.client.aclose()
