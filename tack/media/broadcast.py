"""Broadcast of a large class: the teacher's feed, forwarded by Janus (`rtp_forward`) to ffmpeg, which
writes HLS that Tack serves to viewers beyond the room's interactive capacity.

The process that starts a broadcast owns it: its ffmpeg is a child that dies with it (PR_SET_PDEATHSIG),
and RoomMedia.broadcast_owner names it. Cleanup happens when the class ends, when the teacher stops
publishing, and, for broadcasts of a process that is gone, at the next housekeeping round of any
process (the forwarders are stopped and the broadcast starts again under a live owner).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from tack.core.config import get_settings
from tack.media.janus import JanusControl, JanusError, JanusUnreachable

log = structlog.get_logger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"
# RTP payload types the forwarder stamps (ffmpeg reads them from the SDP).
OPUS_PT, VP8_PT, H264_PT = 111, 96, 126


def hls_root() -> Path:
    return get_settings().var_dir / "media" / "hls"


def hls_folder(media_room: int) -> Path:
    return hls_root() / str(media_room)


# ---- who may watch: the playlist's address carries a signed, expiring key ----------------------------------


def _hls_key() -> bytes:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, b"tack:hls", hashlib.sha256).digest()


def viewer_key(media_room: int, *, hours: float | None = None) -> str:
    expires = int(time.time() + (hours or get_settings().room_ticket_hours) * 3600)
    signature = hmac.new(_hls_key(), f"{media_room}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{expires}-{signature}"


def viewer_key_valid(media_room: int, key: str) -> bool:
    expires, _, signature = key.partition("-")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    expected = hmac.new(_hls_key(), f"{media_room}.{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return hmac.compare_digest(expected, signature)


def playlist_url(media_room: int) -> str:
    return f"/api/v1/media/hls/{media_room}/{viewer_key(media_room)}/index.m3u8"


# ---- ports -------------------------------------------------------------------------------------------


def _free_udp_pair() -> tuple[int, int]:
    """Two consecutive even UDP ports (RTP, and RTCP above each) that nothing listens on now."""
    low, high = (int(x) for x in get_settings().media_broadcast_ports.split("-"))
    for start in range(low + (low % 2), high - 3, 4):
        taken = False
        for port in (start, start + 2):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("0.0.0.0", port))
                except OSError:
                    taken = True
                    break
        if not taken and start not in _ports_in_use:
            return start, start + 2
    raise RuntimeError(f"no free UDP ports for a broadcast in {low}-{high} (TACK_MEDIA_BROADCAST_PORTS)")


_ports_in_use: set[int] = set()


# ---- one running broadcast ----------------------------------------------------------------------------


@dataclass
class Broadcast:
    media_room: int
    feed: int
    audio_port: int
    video_port: int
    process: subprocess.Popen[bytes]
    forwarders: list[int] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return hls_folder(self.media_room)


_running: dict[int, Broadcast] = {}


def running(media_room: int) -> Broadcast | None:
    found = _running.get(media_room)
    if found is not None and found.process.poll() is not None:
        log.warning("broadcast_ffmpeg_exited", room=media_room, code=found.process.returncode)
        return None
    return found


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _sdp(audio_port: int, video_port: int, video_codec: str) -> str:
    video = f"H264/90000\r\na=fmtp:{H264_PT} packetization-mode=1" if video_codec == "h264" else "VP8/90000"
    video_pt = H264_PT if video_codec == "h264" else VP8_PT
    return (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=tack broadcast\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {audio_port} RTP/AVP {OPUS_PT}\r\na=rtpmap:{OPUS_PT} opus/48000/2\r\n"
        f"m=video {video_port} RTP/AVP {video_pt}\r\na=rtpmap:{video_pt} {video}\r\n"
    )


def _start_ffmpeg(media_room: int, audio_port: int, video_port: int, video_codec: str) -> subprocess.Popen[bytes]:
    folder = hls_folder(media_room)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    sdp = folder / "forward.sdp"
    sdp.write_text(_sdp(audio_port, video_port, video_codec))
    video_args = (["-c:v", "copy"] if video_codec == "h264" else
                  ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30", "-sc_threshold", "0"])
    command = [
        get_settings().media_ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostdin",
        "-protocol_whitelist", "file,udp,rtp", "-fflags", "+genpts", "-i", str(sdp),
        *video_args, "-c:a", "aac", "-b:a", "96k", "-ar", "48000",
        "-f", "hls", "-hls_time", "2", "-hls_list_size", "6",
        "-hls_flags", "delete_segments+independent_segments+program_date_time",
        str(folder / "index.m3u8"),
    ]
    with open(folder / "ffmpeg.log", "ab") as log_file:
        return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)


async def start(janus: JanusControl, *, media_room: int, secret: str, admin_key: str, feed: int,
                video_codec: str = "vp8") -> Broadcast:
    """Forward `feed` of the VideoRoom to a new ffmpeg writing HLS (or keep the one running)."""
    found = running(media_room)
    if found is not None and found.feed == feed:
        return found
    if found is not None:
        await stop(janus, media_room=media_room, secret=secret, admin_key=admin_key)
    audio_port, video_port = _free_udp_pair()
    _ports_in_use.update((audio_port, video_port))
    process = _start_ffmpeg(media_room, audio_port, video_port, video_codec)
    await asyncio.sleep(0.3)  # ffmpeg opens its UDP sockets before the first packet comes
    try:
        answer = await janus.videoroom(
            "rtp_forward", room=media_room, publisher_id=feed, host=get_settings().media_forward_host,
            secret=secret, admin_key=admin_key,
            streams=[{"mid": "0", "port": audio_port, "pt": OPUS_PT},
                     {"mid": "1", "port": video_port, "pt": H264_PT if video_codec == "h264" else VP8_PT}],
        )
    except (JanusError, JanusUnreachable):
        _end_process(process)
        _ports_in_use.difference_update((audio_port, video_port))
        raise
    forwarders = [int(f["stream_id"]) for f in answer.get("forwarders", []) if "stream_id" in f]
    broadcast = Broadcast(media_room, feed, audio_port, video_port, process, forwarders)
    _running[media_room] = broadcast
    log.info("broadcast_started", room=media_room, feed=feed, ports=(audio_port, video_port))
    return broadcast


def _end_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            # Waited for: an ffmpeg still ending holds the UDP ports and writes a last playlist.
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def stop(janus: JanusControl | None, *, media_room: int, secret: str, admin_key: str,
               keep_files: bool = False) -> bool:
    """Stop the forwarders and ffmpeg of a room's broadcast (if this process runs one)."""
    broadcast = _running.pop(media_room, None)
    if broadcast is None:
        return False
    if janus is not None:
        for stream_id in broadcast.forwarders:
            try:
                await janus.videoroom("stop_rtp_forward", room=media_room, publisher_id=broadcast.feed,
                                      stream_id=stream_id, secret=secret, admin_key=admin_key)
            except (JanusError, JanusUnreachable):
                pass  # the publisher or the room is gone already: so is the forwarder
    await asyncio.to_thread(_end_process, broadcast.process)
    _ports_in_use.difference_update((broadcast.audio_port, broadcast.video_port))
    if not keep_files:
        shutil.rmtree(broadcast.folder, ignore_errors=True)
    log.info("broadcast_stopped", room=media_room)
    return True


async def stop_all() -> None:
    """At shutdown: this process's ffmpegs end (their forwarders go with the rooms or the next owner)."""
    for media_room in list(_running):
        broadcast = _running.pop(media_room)
        await asyncio.to_thread(_end_process, broadcast.process)
        _ports_in_use.difference_update((broadcast.audio_port, broadcast.video_port))
