"""A participant's side of Janus for tests: what a browser would send, over Janus's HTTP API."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import delete

from tack.core.db import get_database
from tack.media import local
from tack.media import service as media
from tack.media.models import MediaGrant, MediaServer, RoomMedia


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


class Publisher(JanusPeer):
    """A participant who publishes generated audio and video (aiortc), as a teacher's browser would."""

    def __init__(self, api_url: str, core_token: str | None) -> None:
        super().__init__(api_url, core_token)
        self.pc = None

    async def _event(self, wanted) -> dict[str, Any]:  # noqa: ANN001
        while True:
            url = f"{self.api_url}/{self.session}?maxev=1"
            if self.core_token:
                url += f"&token={quote(self.core_token)}"
            event = (await self.client.get(url, timeout=15)).json()
            if wanted(event):
                return event

    async def publish(self) -> None:
        from aiortc import (
            AudioStreamTrack,
            RTCConfiguration,
            RTCPeerConnection,
            RTCSessionDescription,
            VideoStreamTrack,
        )

        # No ICE servers: aiortc's default would ask a public STUN server, and the test stays on this machine.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(AudioStreamTrack())  # audio first: it is mid "0", which hosts' mutes act on
        self.pc.addTrack(VideoStreamTrack())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.request(f"/{self.session}/{self.handle}", {
            "janus": "message", "body": {"request": "configure", "audio": True, "video": True},
            "jsep": {"type": "offer", "sdp": self.pc.localDescription.sdp},
        })
        answer = await self._event(lambda e: "jsep" in e)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["jsep"]["sdp"], "answer"))
        await self._event(lambda e: e.get("janus") == "webrtcup")

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        await super().close()


# ---- fixtures (made available to every test module by tests/conftest.py) ---------------------------

@pytest.fixture(scope="session")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.LocalJanus]:
    if local.janus_binary() is None:
        pytest.fail("Janus is not installed; `make test` installs it (apt-get install janus), or run `tack media up`.")
    j = start_janus(tmp_path_factory.mktemp("janus"), "24000-24199")
    yield j
    local.stop(j)


async def register_janus(name: str, j: local.LocalJanus) -> MediaServer:
    async with get_database().session() as db:
        server = await media.register_server(db, name=name, api_url=j.api_url, public_url=j.public_url,
                                             admin_url=j.admin_url, admin_secret=j.admin_secret,
                                             admin_key=j.admin_key, token_secret=j.token_secret)
        await db.commit()
        return server


async def forget_media_servers() -> None:
    async with get_database().session() as db:
        await db.execute(delete(MediaGrant))
        await db.execute(delete(RoomMedia))
        await db.execute(delete(MediaServer))
        await db.commit()
    await media.close_controls()
    media.remember_availability(False)


@pytest.fixture
async def media_server(janus: local.LocalJanus) -> AsyncIterator[MediaServer]:
    await forget_media_servers()
    server = await register_janus("test-janus", janus)
    media.remember_availability(True)
    yield server
    await forget_media_servers()


