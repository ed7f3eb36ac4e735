"""Settings, read from the environment (prefix TACK_) with defaults that make one machine work.

Every setting is documented in README.md ("Configuration"); keep the two in step.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TACK_", extra="ignore")
    # The generated secret key, once read from var/ (see resolved_secret_key).
    _secret_from_file: str | None = PrivateAttr(default=None)

    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8700
    # Set when Tack is served over HTTPS, so cookies are only sent over TLS.
    cookie_secure: bool = False
    session_ttl_days: int = 30
    signin_max_failures_per_account: int = 5
    signin_max_failures_per_address: int = 30
    signin_window_seconds: int = 900
    # Invitation codes that do not exist, tried from one address within signin_window_seconds.
    invitation_max_misses_per_address: int = 30
    invitation_default_days: int = 7
    log_level: str = "info"
    log_json: bool = False
    # Where the built web client lives; empty means "the packaged default".
    web_dist: Path | None = None
    db_pool_size: int = 10
    # The real-time stream (docs/stream.md).
    # Seconds between heartbeats; a client silent for about two of them is dropped.
    stream_ping_seconds: float = 20.0
    # Frames a connection may have waiting to be sent before it is dropped as too slow (4008).
    stream_send_queue: int = 2000
    # Events a resuming client may be sent per organization; a bigger gap is answered with resync.
    stream_max_replay: int = 1000
    # Days events are kept for resuming clients; older cursors get resync. 0 keeps them forever.
    stream_retention_days: float = 7.0
    # Seconds between the safety-net reads of the event log (announcements can be lost).
    stream_poll_seconds: float = 3.0
    # Seconds between re-checks of connected clients' sessions, tokens and memberships.
    stream_recheck_seconds: float = 30.0
    # Stream connections opened (hello to live) at once per process, how many may wait, and how long,
    # before the answer is "busy, come back in N s" (4503); TACK_ROOM_ADMISSION=off turns it off too.
    stream_opens_in_flight: int = 256
    stream_open_queue: int = 10000
    # Waiting costs a socket and a coroutine; a refusal costs the client a new handshake and sign-in
    # check, so connections wait rather long (but less than a heartbeat timeout).
    stream_open_wait_seconds: float = 30.0
    # Whether stream connections are also turned away at once while the event loop runs late
    # (TACK_ADMISSION_SHED_AT_LAG_SECONDS), like new attendees.
    stream_open_shed_at_lag: bool = True
    # Requests and stream connections that start per turn of the event loop; the others wait for
    # the next turns (tack/core/pacing.py), a request at most front_door_wait_seconds before it is
    # answered 429 busy. 0 lets all start at once.
    requests_per_turn: int = 200
    front_door_wait_seconds: float = 10.0
    # While a request has waited this long at the front door, newcomers are answered 429 busy at
    # once (leaves and rejoins never are). 0: they join the line.
    front_door_shed_after_seconds: float = 0.0
    # While a turn of the event loop takes longer than this (milliseconds), fewer requests start per
    # turn (down to 2), and more again once turns are shorter. 0: always requests_per_turn.
    front_door_turn_target_ms: float = 100.0
    # Listening sockets on the port (SO_REUSEPORT), in one server process; the kernel spreads new
    # connections over them. Each is emptied in bursts (tack/core/serving.py), so one is enough.
    listen_sockets: int = 1
    # Seconds an idle HTTP connection is kept open for the client's next request. Phones and
    # browsers keep theirs for a minute or more; closing them sooner makes every later request pay
    # for a new connection, which a server under a join storm accepts only slowly.
    http_keep_alive_seconds: float = 75.0
    # Origins besides the server's own whose pages may open the stream with the session cookie.
    stream_allowed_origins: str = ""
    # Turns on test-only endpoints; never set it in production.
    testing: bool = False
    # Uploaded files: the largest accepted, and an S3-compatible bucket instead of the local disk.
    upload_max_bytes: int = 50 * 1024 * 1024
    s3_bucket: str = ""
    s3_endpoint: str = ""
    s3_region: str = "us-east-1"
    # Keys for the bucket; left empty, boto3's usual sources are used (AWS_ACCESS_KEY_ID /
    # AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role).
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # How often each server process looks for DINGs due to be sent again (0: never).
    ding_reminder_interval_seconds: float = 30.0
    # Rooms (meetings and classes; docs/rooms.md).
    # The time zone of timetables ("08:00 on Monday").
    timezone: str = "Asia/Shanghai"
    # Seats a new room has unless its creator asks for fewer.
    room_default_capacity: int = 300
    # Seconds a person who dropped keeps their seat and gets back in ahead of everyone.
    room_rejoin_grace_seconds: float = 300.0
    # Admission control of joins, per server process ("off" only to compare, in benchmarks).
    room_admission: bool = True
    # Turn new attendees and state loads away at once while the event loop runs this many seconds
    # late (0: never; they wait in line instead). The join storm measured in docs/benchmarks.md ran
    # with 1 s.
    admission_shed_at_lag_seconds: float = 1.0
    room_joins_in_flight: int = 24
    room_join_queue: int = 5000
    room_join_wait_seconds: float = 8.0
    # How long before a timetabled lesson its room is prepared and opened.
    room_warmup_minutes: float = 5.0
    # Seconds between the rounds that open timetabled rooms and give up seats dropped too long.
    room_housekeeping_seconds: float = 15.0
    # Lifetimes of a join's ticket (proof of a held seat) and of its media token.
    room_ticket_hours: float = 12.0
    room_media_token_seconds: float = 300.0
    # Early warning (docs/rooms.md "Early warning"): joins a minute this installation was measured
    # to take (tack bench join-storm), and the thresholds that warn organization administrators.
    # 10,000 students took 3 to 5 minutes on 2 cores with SQLite (docs/benchmarks.md): about 2,000.
    room_join_capacity_per_minute: int = 2000
    room_warn_joins_per_minute: int = 0  # 0: 80% of the capacity
    room_warn_queue_wait_seconds: float = 2.0
    # Media (docs/media.md). Media servers are registered with `tack media up` (this machine) or
    # `tack media add` (Janus on hosts of their own). The join tokens' signing secret (they are
    # checked against the rooms' allow-lists; empty: derived from the secret key).
    media_token_secret: str = ""
    # People in a room's audio and video at once; beyond them, others than hosts and presenters
    # watch the broadcast.
    media_interactive_capacity: int = 50
    # Active publishers (cameras, microphones, screens) a room's media server allows.
    media_publishers: int = 16
    # RTCPeerConnection iceServers for clients, as JSON (TURN in production), e.g.
    # [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}].
    media_ice_servers: str = ""
    # Seconds between the looks at every media server (load, failover; 0: never).
    media_check_seconds: float = 10.0
    # Broadcasts (tack/media/broadcast.py): the ffmpeg to run, the UDP ports Janus forwards to, and the
    # address of this machine as the media servers reach it.
    media_ffmpeg: str = "ffmpeg"
    media_broadcast_ports: str = "25000-25999"
    media_forward_host: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        # People paste the URL their PostgreSQL tools use; the async driver needs its own scheme.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://") :]
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / 'tack.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The secret that signs CSRF tokens and media tickets.

        When none is configured it is generated once and kept under var/, so restarts keep sessions valid.
        Read once: every signed-in request checks its CSRF token with it.
        """
        if self.secret_key:
            return self.secret_key
        if self._secret_from_file is not None:
            return self._secret_from_file
        path = self.var_dir / "secret_key"
        if path.exists():
            key = path.read_text().strip()
        else:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            path.write_text(key)
            path.chmod(0o600)
        self._secret_from_file = key
        return key

    def allowed_origins(self) -> set[str]:
        return {o.strip().rstrip("/").lower() for o in self.stream_allowed_origins.split(",") if o.strip()}

    def resolved_web_dist(self) -> Path:
        if self.web_dist:
            return self.web_dist
        return Path(__file__).resolve().parents[2] / "web" / "dist"


@lru_cache
def get_settings() -> Settings:
    return Settings()
