"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium), headless."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import LiveServer, ServerProcess, free_port, live_database, run_live_server

CHROMIUM = os.environ.get("TACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("TACK_TEST_ARTIFACTS", "test-results"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def e2e_server() -> Iterator[LiveServer]:
    """A server of its own with the demo data, so nothing else the suite does can disturb it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; `make test` installs it (apt-get install chromium).")
    with run_live_server() as server:
        yield server


@asynccontextmanager
async def _chromium(args: list[str]) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with _chromium(CHROMIUM_ARGS) as instance:
        yield instance


# ---- media: a private Janus, registered for a live server of its own -------------------------------------

# Chromium with a fake camera and microphone (a test pattern and a beep), and no permission prompts.
MEDIA_CHROMIUM_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass(frozen=True)
class MediaLiveServer:
    """A live Tack with the demo data and a Janus of its own, registered as its media server."""

    server: LiveServer
    janus: object  # tack.media.local.LocalJanus


@contextmanager
def _media_live_server(folder: Path, *, rtp_ports: str, env: dict[str, str] | None = None) -> Iterator[MediaLiveServer]:
    """Janus on free ports (its log in `folder`), registered with `tack media add` in a fresh demo
    database before the server starts, so the server's first look finds it up."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; `make test` installs it (apt-get install chromium).")
    from tack.media import local

    if local.janus_binary() is None:
        pytest.fail("Janus is not installed (apt-get install janus); the media browser tests need it.")
    j = local.prepare(folder, http_port=free_port(), admin_port=free_port(), ws_port=free_port(), rtp_ports=rtp_ports)
    local.start(j)
    try:
        with live_database(seed_demo=True, env={"TACK_MEDIA_CHECK_SECONDS": "2", **(env or {})}) as database:
            # The installed `tack` command (`python -m tack.cli` runs before tack/cli.py registers its
            # media commands, which come after its __main__ block).
            tack = Path(sys.executable).parent / "tack"
            added = subprocess.run(
                [str(tack) if tack.exists() else "tack", "media", "add", "--name", "test", "--api-url", j.api_url,
                 "--public-url", j.public_url, "--admin-url", j.admin_url, "--admin-secret", j.admin_secret,
                 "--admin-key", j.admin_key, "--token-secret", j.token_secret],
                env=database.env, capture_output=True, text=True, timeout=60, check=False,
            )
            if added.returncode != 0:
                pytest.fail(f"`tack media add` failed ({added.returncode}):\n{added.stdout}\n{added.stderr}")
            process = ServerProcess(database)
            try:
                yield MediaLiveServer(server=process.start(), janus=j)
            finally:
                process.stop()
    finally:
        local.stop(j)


@pytest.fixture(scope="module")
def media_e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaLiveServer]:
    """A live server with the demo data and a private Janus."""
    with _media_live_server(tmp_path_factory.mktemp("janus"), rtp_ports="23000-23499") as media:
        yield media


@pytest.fixture(scope="module")
def broadcast_e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaLiveServer]:
    """The same with an interactive capacity of one: everyone but the teacher watches the broadcast."""
    with _media_live_server(tmp_path_factory.mktemp("janus-broadcast"), rtp_ports="23500-23999",
                            env={"TACK_MEDIA_INTERACTIVE_CAPACITY": "1"}) as media:
        yield media


@pytest.fixture
async def media_browser() -> AsyncIterator[object]:
    """Chromium with a fake camera and microphone."""
    async with _chromium(MEDIA_CHROMIUM_ARGS) as instance:
        yield instance
