"""`tack bench join-storm` end to end: the real command starts a server, seeds a small school into
its database, runs a two-second storm of 60 students over real HTTP and WebSockets, and reports JSON.

Enough to prove the harness, the rooms API, admission and the stream work together and that no
join or rejoin is lost; the real figures are taken by hand (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import BACKEND, PG_ADMIN_URL
from tests.live import ROOT, tack_command

KEYS = {"admitted", "refused", "failed", "lost_rejoins", "p50_ms", "p95_ms", "p99_ms", "max_queue_wait_ms",
        "students", "classes", "window_s", "rejoins", "server_cpu_s", "server_rss_mb", "other_cpu_busy",
        "admission"}


def test_bench_join_storm_admits_everyone_and_loses_no_rejoin() -> None:
    args = ["bench", "join-storm", "--students", "60", "--classes", "3", "--window", "2", "--hold", "1",
            "--give-up", "20", "--seed", "7", "--json"]
    if BACKEND == "postgres":
        args += ["--database-url", PG_ADMIN_URL]
    done = subprocess.run(tack_command(*args), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout)
    assert KEYS <= result.keys()
    assert result["students"] == 60 and result["classes"] == 3 and result["admission"] is True
    assert result["admitted"] == 60
    assert result["failed"] == 0, result["failure_samples"]
    assert result["lost_rejoins"] == 0
    assert result["rejoins"] == 6  # 10 % drop once they are in
    assert result["rejoined"] == 6
    assert result["sign_ins"] == 3  # 5 % sign in with their password during the window
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        assert result[key] is not None and 0 < result[key] < 20000
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["max_queue_wait_ms"] is not None
    assert result["server_cpu_s"] is not None and result["server_rss_mb"] is not None
    assert result["stream_events"] > 0  # the class saw its students come in
    # Progress goes to stderr, so stdout stays one JSON object.
    assert "The storm:" in done.stderr
