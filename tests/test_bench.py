"""`tack bench chat` end to end: the real command starts a server, drives it and reports JSON.

A few seconds with three receivers: enough to prove the harness, the chat API and the stream work
together and that nothing is lost; the real figures are taken by hand (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import BACKEND, PG_ADMIN_URL
from tests.live import ROOT, tack_command

KEYS = {"p50_ms", "p95_ms", "p99_ms", "deliveries_per_s", "server_cpu_s_per_1k", "server_rss_kb_per_client", "lost"}


def test_bench_chat_reports_figures_and_loses_nothing() -> None:
    args = ["bench", "chat", "--receivers", "3", "--rate", "20", "--duration", "2", "--warmup", "0.5",
            "--drain-timeout", "3", "--json"]
    if BACKEND == "postgres":
        args += ["--database-url", PG_ADMIN_URL]
        if os.environ.get("TACK_REDIS_URL"):
            args += ["--redis-url", os.environ["TACK_REDIS_URL"]]
    done = subprocess.run(tack_command(*args), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout)
    assert KEYS <= result.keys()
    assert result["lost"] == 0
    assert result["duplicates"] == 0
    assert result["send_errors"] == 0
    assert result["receivers"] == 3
    assert result["sent"] == 50  # 0.5 s warm-up + 2 s, at 20 a second
    assert result["expected"] == result["received"] == 150
    assert result["measured_deliveries"] == 120
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        assert result[key] is not None and 0 < result[key] < 5000
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert result["deliveries_per_s"] > 0
    assert result["server_cpu_s_per_1k"] is not None and result["server_cpu_s_per_1k"] >= 0
    assert result["server_rss_kb_per_client"] is not None
    # Progress goes to stderr, so stdout stays one JSON object.
    assert "receivers connected" in done.stderr
