"""Settings, read from the environment (prefix TACK_) with defaults that make one machine work.

Every setting is documented in README.md ("Configuration"); keep the two in step.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TACK_", extra="ignore")

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
    invitation_default_days: int = 7
    log_level: str = "info"
    log_json: bool = False
    # Where the built web client lives; empty means "the packaged default".
    web_dist: Path | None = None
    db_pool_size: int = 10

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
        """
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    def resolved_web_dist(self) -> Path:
        if self.web_dist:
            return self.web_dist
        return Path(__file__).resolve().parents[2] / "web" / "dist"


@lru_cache
def get_settings() -> Settings:
    return Settings()
