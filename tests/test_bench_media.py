"""`tack bench media` end to end: the real command starts a server and a Janus of its own, a publisher
sends generated audio and video through Janus, and two subscribers decode it.

A few seconds: enough to prove that Tack's media sessions, Janus and the synthetic participants work
together; the real figures are taken by hand (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.live import ROOT, tack_command

KEYS = {"first_frame_ms_p50", "first_frame_ms_p95", "fps_p50", "fps_min", "loss_pct",
        "janus_cpu_pct_per_participant", "tack_cpu_pct_per_participant", "participants", "rooms", "duration_s",
        "janus_rss_mb"}

needs_janus = pytest.mark.skipif(not os.path.exists("/usr/bin/janus"),
                                 reason="Janus is not installed (/usr/bin/janus): apt-get install janus")


@needs_janus
def test_bench_media_subscribers_get_pictures() -> None:
    args = ["bench", "media", "--publishers", "1", "--subscribers", "2", "--duration", "3", "--json"]
    done = subprocess.run(tack_command(*args), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout)
    assert KEYS <= result.keys()
    assert result["participants"] == 3 and result["rooms"] == 1
    assert result["no_picture"] == 0 and result["errors"] == []
    assert 0 < result["first_frame_ms_p50"] <= result["first_frame_ms_p95"] < 30000
    # 15 fps are sent; frames must arrive all through the window (a loaded test machine may drop some).
    assert result["fps_min"] > 3
    assert result["packets_received"] > 0
    assert result["loss_pct"] is not None and result["loss_pct"] < 20
    assert result["janus_cpu_pct_per_participant"] is not None and result["janus_cpu_pct_per_participant"] >= 0
    assert result["tack_cpu_pct_per_participant"] is not None
    assert result["janus_rss_mb"] > 0
    assert result["janus_version"]
    # Progress goes to stderr, so stdout stays one JSON object.
    assert "see a picture" in done.stderr


async def test_generated_tracks_move_and_keep_time() -> None:
    """The publishers' sound and picture: 20 ms of Opus-ready audio, and colour bars that move."""
    from tack.bench.media import make_tracks

    audio, video = make_tracks(64, 48, 30)
    sound = await audio.recv()
    assert (sound.samples, sound.sample_rate, sound.pts) == (960, 48000, 0)
    first, second = await video.recv(), await video.recv()
    assert (first.width, first.height, first.format.name) == (64, 48, "yuv420p")
    assert second.pts == 3000  # 90 kHz clock at 30 fps
    assert bytes(first.planes[0]) != bytes(second.planes[0])
    audio.stop()
    video.stop()


def test_video_codec_is_read_from_the_first_video_section() -> None:
    from tack.bench.media import _video_codec

    sdp = "\r\n".join(["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2",
                        "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000"])
    assert _video_codec(sdp) == "VP8"
    assert _video_codec("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n") is None
