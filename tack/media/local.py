"""A Janus for this machine: `tack media up` / `tack media down`, and the test suite's media server.

Writes a minimal configuration (only the VideoRoom plugin and the HTTP and WebSocket transports,
bound to 127.0.0.1; token_auth with a generated secret; Admin API with a generated secret) under
`<var>/media/janus/`, starts Janus with it, and waits until it answers. In production Janus runs on
hosts of its own (docs/operations.md, "Media servers").

The one trap on a machine without a network card (a container, a CI runner): Janus gathers no ICE
candidates on loopback interfaces, so media could never connect. Janus is then given a private
virtual link (a veth pair with 10.77.0.1, made with `ip link`, which needs root), which the kernel
routes locally like loopback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

JANUS_LIBS = "/usr/lib/x86_64-linux-gnu/janus"
VETH = ("tackm0", "tackm1")
VETH_ADDRESS = "10.77.0.1"


class LocalMediaError(Exception):
    """Something a person can act on (the message says what)."""


@dataclass
class LocalJanus:
    """The addresses and secrets of a Janus started here."""

    folder: str
    http_port: int
    admin_port: int
    ws_port: int
    rtp_ports: str
    ice_address: str
    admin_secret: str
    admin_key: str
    token_secret: str
    ws_listen: str = "127.0.0.1"
    public_ws_url: str = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/admin"

    @property
    def public_url(self) -> str:
        return self.public_ws_url or f"ws://127.0.0.1:{self.ws_port}"

    @property
    def pidfile(self) -> Path:
        return Path(self.folder) / "janus.pid"

    @property
    def logfile(self) -> Path:
        return Path(self.folder) / "janus.log"


def janus_binary() -> str | None:
    return shutil.which("janus") or (("/usr/bin/janus") if os.path.exists("/usr/bin/janus") else None)


def install_janus(say=print) -> None:  # noqa: ANN001
    """Install Janus (and ffmpeg, for broadcasts) from the system's packages, where that is possible."""
    if janus_binary() is not None:
        return
    if shutil.which("apt-get") is None:
        raise LocalMediaError(
            "Janus is not installed and this system has no apt-get. Install the package 'janus' "
            "(Janus WebRTC Server 1.x) with your system's package manager, then run this again.")
    if os.geteuid() != 0:
        raise LocalMediaError("Janus is not installed. Install it with: sudo apt-get install janus ffmpeg")
    say("Installing Janus and ffmpeg from the system's packages (about a minute)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "janus", "ffmpeg"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise LocalMediaError(f"'{' '.join(command)}' failed: {done.stderr.strip()[-400:]}")


def _ipv4_addresses() -> list[tuple[str, str]]:
    """(interface, address) of every IPv4 address on an interface that is up, loopback excluded."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "up"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] != "lo" and not parts[1].startswith("docker"):
            found.append((parts[1].split("@")[0], parts[3].split("/")[0]))
    return found


def ice_address() -> str:
    """An address Janus can gather ICE candidates on: the private link when it exists, else the
    first network card's, else a private link made now."""
    addresses = _ipv4_addresses()
    for name, address in addresses:
        if name == VETH[0]:
            return address
    for _, address in addresses:
        if not address.startswith("127."):
            return address
    if os.geteuid() != 0:
        raise LocalMediaError(
            "This machine has no network interface besides loopback, and Janus cannot use loopback for "
            "media. Run this as root once so that a private virtual link can be made for it.")
    commands = [
        ["ip", "link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1]],
        ["ip", "addr", "add", f"{VETH_ADDRESS}/32", "dev", VETH[0]],
        ["ip", "link", "set", VETH[0], "up"],
        ["ip", "link", "set", VETH[1], "up"],
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 and "File exists" not in done.stderr:
            raise LocalMediaError(f"Could not make the media link ('{' '.join(command)}'): {done.stderr.strip()}")
    return VETH_ADDRESS


def _config_files(j: LocalJanus) -> dict[str, str]:
    folder = j.folder
    return {
        "janus.jcfg": f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{JANUS_LIBS}/plugins"
    transports_folder = "{JANUS_LIBS}/transports"
    events_folder = "{JANUS_LIBS}/events"
    loggers_folder = "{JANUS_LIBS}/loggers"
    debug_level = 3
    debug_timestamps = true
    debug_colors = false
    server_name = "tack-media"
    admin_secret = "{j.admin_secret}"
    token_auth = true
    token_auth_secret = "{j.token_secret}"
    session_timeout = 60
    interface = "{j.ice_address}"
    protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var"]
}}
certificates: {{
}}
media: {{
    rtp_port_range = "{j.rtp_ports}"
}}
nat: {{
    ice_enforce_list = "{j.ice_address}"
    ignore_mdns = true
}}
plugins: {{
    disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so,libjanus_echotest.so,libjanus_streaming.so"
}}
transports: {{
    disable = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
events: {{
    disable = "libjanus_gelfevh.so,libjanus_mqttevh.so,libjanus_nanomsgevh.so,libjanus_rabbitmqevh.so,libjanus_sampleevh.so,libjanus_wsevh.so"
}}
""",
        "janus.plugin.videoroom.jcfg": f"""general: {{
    admin_key = "{j.admin_key}"
    lock_rtp_forward = true
}}
""",
        "janus.transport.http.jcfg": f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    ip = "127.0.0.1"
    port = {j.http_port}
    https = false
}}
admin: {{
    admin_base_path = "/admin"
    admin_http = true
    admin_ip = "127.0.0.1"
    admin_port = {j.admin_port}
    admin_https = false
}}
cors: {{
}}
certificates: {{
}}
""",
        "janus.transport.websockets.jcfg": f"""general: {{
    json = "compact"
    ws = true
    ws_ip = "{j.ws_listen}"
    ws_port = {j.ws_port}
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
cors: {{
}}
certificates: {{
}}
""",
    }


def prepare(folder: Path, *, http_port: int = 8088, admin_port: int = 7088, ws_port: int = 8188,
            rtp_ports: str = "20000-20999", ws_listen: str = "127.0.0.1", public_url: str = "") -> LocalJanus:
    """The configuration in `folder`: secrets made once and kept, files written afresh."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / "secrets.json"
    known = json.loads(kept.read_text()) if kept.exists() else {}
    made = {key: known.get(key) or secrets.token_urlsafe(24) for key in ("admin_secret", "admin_key", "token_secret")}
    kept.write_text(json.dumps(made))
    kept.chmod(0o600)
    j = LocalJanus(folder=str(folder.resolve()), http_port=http_port, admin_port=admin_port, ws_port=ws_port,
                   rtp_ports=rtp_ports, ice_address=ice_address(), ws_listen=ws_listen, public_ws_url=public_url,
                   **made)
    for name, text in _config_files(j).items():
        (folder / name).write_text(text)
    (folder / "local.json").write_text(json.dumps(asdict(j)))
    return j


def running_pid(j: LocalJanus) -> int | None:
    try:
        pid = int(j.pidfile.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:  # a zombie of ours, or another program that got the number
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nState:\tZ" in status or "janus" not in Path(f"/proc/{pid}/cmdline").read_text():
            return None
    except OSError:
        return None
    return pid


def answers(j: LocalJanus, timeout_s: float = 1.0) -> bool:
    try:
        return httpx.get(j.api_url + "/info", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def start(j: LocalJanus, *, wait_s: float = 20.0) -> int:
    """Start Janus with the configuration in j.folder (unless it already runs); its pid."""
    pid = running_pid(j)
    if pid is not None and answers(j):
        return pid
    binary = janus_binary()
    if binary is None:
        raise LocalMediaError("Janus is not installed: run `tack media up`, which installs it.")
    with open(j.logfile, "ab") as log:
        process = subprocess.Popen(
            [binary, "-F", j.folder, "-C", f"{j.folder}/janus.jcfg"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    j.pidfile.write_text(str(process.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = j.logfile.read_text(errors="replace")[-800:]
            raise LocalMediaError(f"Janus stopped at start (exit {process.returncode}). The end of its log:\n{tail}")
        if answers(j, 0.5):
            return process.pid
        time.sleep(0.2)
    process.terminate()
    raise LocalMediaError(f"Janus did not answer within {wait_s:.0f} s; see {j.logfile}")


def stop(j: LocalJanus, *, wait_s: float = 10.0) -> bool:
    pid = running_pid(j)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if running_pid(j) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    j.pidfile.unlink(missing_ok=True)
    return True


def load(folder: Path) -> LocalJanus | None:
    saved = folder / "local.json"
    if not saved.exists():
        return None
    return LocalJanus(**json.loads(saved.read_text()))
