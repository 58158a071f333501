"""Settings from the environment, prefix ``INTHEGRID_``, validated at start-up.

Every service has one settings class; the operator renders exactly these variables into the
Deployments it creates, and a contract test parses a rendered Deployment's env with these classes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from inthegrid.domain.plausibility import (
    DEFAULT_MAX_CLOCK_SKEW,
    DEFAULT_MAX_LEAD,
    EARLIEST_DELIVERY,
    TimeWindow,
)
from inthegrid.domain.price_sources import DEFAULT_SOURCE, SOURCE_NAMES, SourceKind
from inthegrid.domain.prices import HARMONISED_MAX_EUR_MWH, HARMONISED_MIN_EUR_MWH, PriceLimits
from inthegrid.domain.shards import MAX_SHARDS, check_shard
from inthegrid.domain.zones import zone_code

ENV_PREFIX = "INTHEGRID_"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated")
    nats_user: str | None = Field(None, description="NATS user, if the server requires one")
    nats_password: SecretStr | None = Field(None, description="NATS password (from a Secret)")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "text"] = Field("json", description="json for machines, text for people")
    metrics_port: int = Field(
        9100, ge=0, le=65535, description="port of /metrics, /healthz, /readyz (0 = off)"
    )
    metrics_host: str = Field("0.0.0.0", description="address the metrics server binds")
    price_min_eur_mwh: float = Field(HARMONISED_MIN_EUR_MWH, description="lowest accepted price")
    price_max_eur_mwh: float = Field(HARMONISED_MAX_EUR_MWH, description="highest accepted price")
    plausible_earliest_delivery: datetime = Field(
        EARLIEST_DELIVERY, description="prices and events delivered before this are refused (UTC)"
    )
    plausible_max_lead_hours: float = Field(
        DEFAULT_MAX_LEAD.total_seconds() / 3600,
        gt=0,
        le=87600,
        description="prices and events delivered more than this after now are refused",
    )
    plausible_clock_skew_seconds: float = Field(
        DEFAULT_MAX_CLOCK_SKEW.total_seconds(),
        ge=0,
        le=86400,
        description="publication and detection times at most this far in the future are accepted",
    )
    stream_max_age_hours: float = Field(168.0, gt=0, description="how long JetStream keeps prices and events")
    prices_stream_max_bytes: int = Field(
        1024**3, ge=1024**2, description="bytes the PRICES stream keeps at most (oldest dropped first)"
    )
    opportunities_stream_max_bytes: int = Field(
        512 * 1024**2, ge=1024**2, description="bytes the OPPORTUNITIES stream keeps at most"
    )
    deadletter_max_bytes: int = Field(
        128 * 1024**2, ge=1024**2, description="bytes the DEADLETTER stream keeps at most"
    )
    deadletter_max_message_bytes: int = Field(
        4096, ge=256, le=1024**2, description="a rejected message is kept truncated to this many bytes"
    )
    stream_replicas: int = Field(1, ge=1, le=5, description="JetStream replicas of the streams")
    connect_timeout_seconds: float = Field(300.0, gt=0, description="give up connecting after this long")

    @property
    def price_limits(self) -> PriceLimits:
        return PriceLimits(self.price_min_eur_mwh, self.price_max_eur_mwh)

    @property
    def time_window(self) -> TimeWindow:
        return plausible_window(
            self.plausible_earliest_delivery, self.plausible_max_lead_hours, self.plausible_clock_skew_seconds
        )

    @field_validator("plausible_earliest_delivery")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (suffix Z for UTC)")
        return value


def plausible_window(earliest: datetime, max_lead_hours: float, clock_skew_seconds: float) -> TimeWindow:
    return TimeWindow(earliest, timedelta(hours=max_lead_hours), timedelta(seconds=clock_skew_seconds))


def split_list(value: Any) -> Any:
    """A list from the environment: a JSON list, or comma-separated text (what people type)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _split_zones(value: Any) -> Any:
    if isinstance(value, str):
        value = [z for z in value.replace(";", ",").split(",") if z.strip()]
    if isinstance(value, list):
        return [zone_code(z) for z in value]
    return value


class FeedSettings(CommonSettings):
    feed_name: str = Field("simulator", description="name of the feed (the MarketFeed's name)")
    # NoDecode: the env value is comma-separated (as the operator renders it), not a JSON list.
    feed_zones: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["DE-LU", "FR", "NL", "BE", "AT"],
        description="zones the feed publishes, comma-separated",
    )
    feed_source: SourceKind = Field(DEFAULT_SOURCE, description=f"price source: {', '.join(SOURCE_NAMES)}")
    feed_market: Literal["day_ahead", "intraday", "ida1", "ida2", "ida3"] = Field(
        "day_ahead", description="market of the prices"
    )
    feed_resolution: Literal["PT15M", "PT60M"] = Field("PT15M", description="delivery period length")
    feed_paused: bool = Field(False, description="publish nothing while true")
    simulator_seed: int = Field(42, description="simulator random seed (same seed, same prices)")
    simulator_volatility: float = Field(1.0, ge=0, le=10, description="scale of the simulator's randomness")
    simulator_speed: float = Field(450.0, gt=0, description="simulated seconds per wall-clock second")
    simulator_tick_seconds: float = Field(1.0, gt=0, description="how often the simulator wakes")
    simulator_start: str | None = Field(
        None, description="ISO-8601 UTC start of simulated time (default: now)"
    )
    entsoe_token: SecretStr | None = Field(None, description="ENTSO-E security token (from a Secret)")
    entsoe_base_url: str = Field("https://web-api.tp.entsoe.eu/api", description="ENTSO-E API endpoint")
    entsoe_requests_per_minute: int = Field(300, ge=1, le=399, description="client-side throttle")
    replay_path: Path | None = Field(None, description="price table (CSV, CSV.gz or Parquet) to replay")
    replay_speed: float = Field(86400.0, gt=0, description="simulated seconds per second of replay")
    replay_from: str | None = Field(None, description="first day to replay (ISO date)")
    replay_to: str | None = Field(None, description="last day to replay (ISO date), inclusive")

    @field_validator("feed_zones", mode="before")
    @classmethod
    def _zones(cls, value: Any) -> Any:
        return _split_zones(value)


class CalculatorSettings(CommonSettings):
    rule_name: str = Field("proof-of-concept", description="name of the rule (the ArbitrageRule's name)")
    rule_file: Path | None = Field(
        None, description="YAML or JSON rule: an ArbitrageRule manifest or its spec"
    )
    calculator_horizon_hours: float = Field(48.0, gt=0, description="periods older than this are forgotten")
    calculator_batch: int = Field(256, ge=1, le=10000, description="messages fetched per pull")
    alert_webhook_url: SecretStr | None = Field(None, description="POST opened opportunities here")
    calculator_shard_count: int = Field(
        1,
        ge=1,
        le=MAX_SHARDS,
        description="calculator replicas the rule's pairs are split over (shards)",
    )
    calculator_shard_index: int = Field(0, ge=0, description="which shard this replica runs, 0 to count - 1")

    @model_validator(mode="after")
    def _shard_in_range(self) -> CalculatorSettings:
        check_shard(self.calculator_shard_index, self.calculator_shard_count)
        return self


class RecorderSettings(CommonSettings):
    database_url: SecretStr = Field(
        SecretStr("postgresql://inthegrid@127.0.0.1:5432/inthegrid"),
        description="PostgreSQL URL (TimescaleDB when the extension exists)",
    )
    recorder_batch: int = Field(10000, ge=1, le=50000, description="rows per COPY batch")
    recorder_flush_seconds: float = Field(0.05, gt=0, description="longest wait to fill a batch")
    recorder_writers: int = Field(
        2, ge=1, le=4, description="batches per stream written at once, each in its own transaction"
    )
    compress_after_days: float = Field(
        30.0, ge=0, description="TimescaleDB: compress chunks older than this many days (0 = never)"
    )
    retention_days: float = Field(
        0.0,
        ge=0,
        description="TimescaleDB: drop raw chunks older than this many days (0 = keep forever; else > 60,"
        " the aggregates' refresh window, so daily aggregates outlive the raw rows)",
    )

    @field_validator("retention_days")
    @classmethod
    def _retention_beyond_refresh(cls, value: float) -> float:
        if 0 < value <= 60:
            raise ValueError(
                "retention_days must be 0 (keep) or more than 60 (the aggregates' refresh window)"
            )
        return value


class GatewaySettings(CommonSettings):
    database_url: SecretStr = Field(
        SecretStr("postgresql://inthegrid@127.0.0.1:5432/inthegrid"), description="PostgreSQL URL"
    )
    http_host: str = Field("127.0.0.1", description="address the gateway binds")
    http_port: int = Field(8000, ge=1, le=65535, description="gateway port")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="API keys, comma-separated or a JSON list; empty = no auth (local)"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS, comma-separated or a JSON list"
    )

    rate_limit_per_minute: int = Field(0, ge=0, description="requests per minute per client (0 = off)")
    rate_limit_burst: int = Field(
        0, ge=0, description="requests a client may make at once (0 = the per-minute rate)"
    )
    login_attempts_per_minute: int = Field(
        10, ge=0, description="dashboard sign-ins per minute per address, when API keys are set (0 = off)"
    )
    login_attempts_burst: int = Field(
        0, ge=0, description="dashboard sign-ins an address may try at once (0 = the per-minute rate)"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses whose X-Forwarded-For is believed (comma-separated; default none)",
    )
    dashboard: bool = Field(True, description="mount the Gradio dashboard at /dashboard")
    gateway_opportunity_max_age_seconds: float = Field(
        300.0,
        gt=0,
        description="/api/spreads/opportunities lists opportunities whose latest event is this recent",
    )
    gateway_opportunity_window_minutes: float = Field(
        1440.0, gt=0, description="opportunity events replayed into memory at start and kept open at most"
    )
    gateway_recent_periods: int = Field(
        192, ge=1, le=5000, description="delivery periods kept in memory per zone to align pairs"
    )
    sse_queue_size: int = Field(1024, ge=1, le=100000, description="events buffered per SSE client")
    sse_hopeless_seconds: float = Field(
        10.0, gt=0, description="disconnect an SSE client whose queue stays full this long"
    )
    sse_heartbeat_seconds: float = Field(15.0, gt=0, description="comment line sent to idle SSE clients")
    sse_ring_size: int = Field(
        10000, ge=0, le=1000000, description="recent events kept per stream to resume SSE without NATS"
    )
    database_pool_size: int = Field(10, ge=1, le=100, description="gateway connections to PostgreSQL")
    forecast_model_path: str | None = Field(
        None,
        description="spread forecast model file (inthegrid forecast train) served at /api/forecast; "
        "unset = no forecasts",
    )

    @field_validator("api_keys", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        if any(origin.strip() == "*" for origin in value):
            raise ValueError("a wildcard origin would let any site read the API; list the origins")
        return value


class DashboardSettings(BaseSettings):
    """The stand-alone dashboard (``inthegrid dashboard``); mounted in the gateway it needs none of these."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    dashboard_api_url: str = Field("http://127.0.0.1:8000", description="base URL of the gateway API")
    dashboard_api_key: SecretStr | None = Field(None, description="API key sent to the gateway, if needed")
    dashboard_host: str = Field("127.0.0.1", description="address the stand-alone dashboard binds")
    dashboard_port: int = Field(7860, ge=1, le=65535, description="port of the stand-alone dashboard")
    dashboard_refresh_seconds: float = Field(5.0, gt=0, description="how often views re-read the API")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "text"] = Field("text", description="json for machines, text for people")
