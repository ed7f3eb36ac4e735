"""Broadcast of a large class: beyond the room's interactive capacity (or when they ask to, on a poor
network) a student watches the teacher's feed as HLS (Janus rtp_forward -> ffmpeg), served by Tack
behind a signed link."""

from __future__ import annotations

import asyncio
import json
import subprocess

from sqlalchemy import select

from tack.core.config import get_settings
from tack.core.db import get_database
from tack.media import broadcast
from tack.media import service as media
from tack.media.models import MediaGrant
from tack.rooms.models import Room
from tests.janus_peer import JanusPeer, Publisher
from tests.test_media import UNAUTHORIZED_TOKEN, _janus_join, _media
from tests.test_rooms import join, school_class, start_class


async def _playlist_with_segments(client, url: str, timeout_s: float = 20) -> str:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        response = await client.get(url.removeprefix("/api/v1"))
        if response.status_code == 200 and ".ts" in response.text:
            return response.text
        await asyncio.sleep(0.5)
    raise AssertionError(f"no HLS segments at {url} within {timeout_s} s")


async def test_beyond_the_interactive_capacity_a_student_watches_the_broadcast(
    new_client, media_server, janus, monkeypatch, tmp_path
):
    monkeypatch.setattr(get_settings(), "media_interactive_capacity", 1)
    org, _, (teacher, _), [(first, _), (second, _)], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    teacher_media = await _media(teacher, org, room)
    assert teacher_media["mode"] == "interactive"  # hosts are always in the video
    publisher = Publisher(janus.api_url, teacher_media["core_token"])
    try:
        await publisher.open()
        joined = await publisher.join(teacher_media["room"], teacher_media["feed_id"], teacher_media["join_token"])
        assert joined["videoroom"] == "joined", joined
        await publisher.publish()

        await join(first, org, room)
        watching = await _media(first, org, room)
        assert watching["mode"] == "broadcast" and watching["reason"] == "room_full"
        assert watching["join_token"] is None and watching["broadcast"]["hls_url"].endswith("/index.m3u8")
        playlist = await _playlist_with_segments(first, watching["broadcast"]["hls_url"])
        segment = next(line for line in playlist.splitlines() if line.endswith(".ts"))
        base = watching["broadcast"]["hls_url"].rsplit("/", 1)[0]
        got = await first.get(f"{base}/{segment}".removeprefix("/api/v1"))
        assert got.status_code == 200 and got.headers["content-type"] == "video/mp2t"
        (tmp_path / "segment.ts").write_bytes(got.content)
        probe = await asyncio.to_thread(
            subprocess.run, ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "segment.ts")],
            capture_output=True, text=True, check=True)
        codecs = {s["codec_type"]: s["codec_name"] for s in json.loads(probe.stdout)["streams"]}
        assert codecs.get("video") == "h264" and codecs.get("audio") == "aac"

        # A second viewer shares the same broadcast; a forged or expired link is refused.
        await join(second, org, room)
        also = await _media(second, org, room)
        assert also["mode"] == "broadcast" and also["broadcast"] is not None
        key_part = watching["broadcast"]["hls_url"].split("/")[-2]
        forged = watching["broadcast"]["hls_url"].replace(key_part, key_part[:-4] + "0000")
        assert (await first.get(forged.removeprefix("/api/v1"))).status_code == 403
    finally:
        await publisher.close()
    # The class ends: the forwarder and ffmpeg stop, the files go.
    assert (await teacher.post(f"/orgs/{org['id']}/rooms/{room['id']}/end")).status_code == 200
    assert broadcast.running(teacher_media["room"]) is None
    assert not broadcast.hls_folder(teacher_media["room"]).exists()



async def test_a_student_who_asks_to_watch_gets_the_broadcast_and_frees_their_place(
    new_client, media_server, janus, monkeypatch
):
    """A poor network (or a choice): the student watches the broadcast instead; their join token comes
    off the allow-list and their feed out of the VideoRoom, so someone else takes their place."""
    monkeypatch.setattr(get_settings(), "media_interactive_capacity", 2)  # the teacher and one student
    org, _, (teacher, _), [(first, _), (second, _)], group = await school_class(new_client)
    room = await start_class(teacher, org, group)
    await join(teacher, org, room)
    teacher_media = await _media(teacher, org, room)
    publisher = Publisher(janus.api_url, teacher_media["core_token"])
    first_peer: JanusPeer | None = None
    try:
        await publisher.open()
        assert (await publisher.join(teacher_media["room"], teacher_media["feed_id"],
                                     teacher_media["join_token"]))["videoroom"] == "joined"
        await publisher.publish()

        ticket = await join(first, org, room)
        live = await _media(first, org, room, {"token": ticket["media"]["token"]})
        assert live["mode"] == "interactive"
        first_peer = JanusPeer(janus.api_url, live["core_token"])
        await first_peer.open()
        assert (await first_peer.join(live["room"], live["feed_id"], live["join_token"]))["videoroom"] == "joined"
        await join(second, org, room)
        assert (await _media(second, org, room))["reason"] == "room_full"

        # The first student's network is poor: they ask to watch.
        watching = await _media(first, org, room, {"watch": True})
        assert watching["mode"] == "broadcast" and watching["reason"] == "chosen"
        assert watching["join_token"] is None and watching["broadcast"]["hls_url"].endswith("/index.m3u8")
        assert ".ts" in await _playlist_with_segments(first, watching["broadcast"]["hls_url"])
        # Their feed left the VideoRoom, and Janus refuses the token they had.
        listed = await media.control(media_server).videoroom(
            "listparticipants", room=live["room"], secret=media.room_secret(await _room_row(room)))
        assert live["feed_id"] not in [p["id"] for p in listed["participants"]]
        assert (await _janus_join(janus, live))["error_code"] == UNAUTHORIZED_TOKEN
        async with get_database().session() as db:
            grants = (await db.execute(select(MediaGrant).where(
                MediaGrant.room_id == room["id"], MediaGrant.participant_id == ticket["participant"]["id"]))).all()
        assert grants == []
        # Their place is free: the second student gets into the live room now; asking to watch again
        # changes nothing for the first, and asking for the live room finds it full.
        assert (await _media(second, org, room))["mode"] == "interactive"
        assert (await _media(first, org, room, {"watch": True}))["reason"] == "chosen"
        assert (await _media(first, org, room))["reason"] == "room_full"
        # The teacher stays in the live room: the broadcast is made from their camera.
        refused = await teacher.post(f"/orgs/{org['id']}/rooms/{room['id']}/media", json={"watch": True})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "watch_not_allowed"
    finally:
        if first_peer is not None:
            await first_peer.close()
        await publisher.close()
    assert (await teacher.post(f"/orgs/{org['id']}/rooms/{room['id']}/end")).status_code == 200
    assert broadcast.running(teacher_media["room"]) is None


async def _room_row(room: dict) -> Room:
    async with get_database().session() as db:
        return (await db.execute(select(Room).where(Room.id == room["id"]))).scalar_one()
