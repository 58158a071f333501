"""The recorder against a real nats-server and PostgreSQL: exactly-once storage by natural key,
corrections, dead letters, opportunity revisions, a SIGKILL mid-stream and a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import REGISTRY

from inthegrid.domain.codec import encode_event, encode_price
from inthegrid.domain.opportunities import EventKind, OpportunityEvent
from inthegrid.domain.prices import Price, make_price
from inthegrid.local.launcher import _server_storage
from inthegrid.platform.bus import (
    DEADLETTER_STREAM,
    Bus,
    connect_bus,
    opportunity_subject,
    price_subject,
    publish_all,
)
from inthegrid.platform.db import connect_pool, load_migrations, run_migrations
from inthegrid.platform.metrics import HealthState
from inthegrid.platform.settings import RecorderSettings
from inthegrid.platform.storage_policies import apply_storage_policies
from inthegrid.recorder.service import PRICES_DURABLE, run_recorder
from tests.support import servers
from tests.support.events import de_fr_event
from tests.support.polling import wait_until_async as wait_until
from tests.support.servers import EmbeddedPostgres

# Storage is what this module tests: every database test runs on plain PostgreSQL and on TimescaleDB.
pytestmark = pytest.mark.both_storages

ZONES = ("DE-LU", "FR", "NL", "BE", "AT")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PUBLISHED = datetime(2025, 12, 31, 12, tzinfo=UTC)


def build_prices(hours: int, *, published_at: datetime = PUBLISHED, offset: float = 0.0) -> list[Price]:
    return [
        make_price(
            zone,
            T0 + timedelta(hours=h),
            round(40 + 7 * i + (h % 24) + offset, 2),
            resolution="PT60M",
            market="day_ahead",
            source="test",
            published_at=published_at,
        )
        for h in range(hours)
        for i, zone in enumerate(ZONES)
    ]


def price_items(prices: list[Price], id_suffix: str = "") -> list[tuple[str, bytes, str]]:
    return [
        (price_subject(p.market.value, p.zone), encode_price(p), p.message_id + id_suffix) for p in prices
    ]


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # table names are test constants
    finally:
        await conn.close()


async def wait_for_rows(url: str, table: str, expected: int, timeout: float = 60.0) -> None:
    async def done() -> bool:
        try:
            return await count(url, table) >= expected
        except (OSError, asyncpg.PostgresError):
            return False  # schema not migrated yet, or the server is restarting

    await wait_until(done, timeout, f"{expected} rows in {table}")


def recorder_settings(**values: object) -> RecorderSettings:
    # model_validate: mypy (without the pydantic plugin) cannot see that every field has a default.
    return RecorderSettings.model_validate(values)


@dataclass
class RunningRecorder:
    task: asyncio.Task[None]
    stop: asyncio.Event
    health: HealthState


@contextlib.asynccontextmanager
async def recorder(nats_url: str, database_url: str, batch: int = 500) -> AsyncIterator[RunningRecorder]:
    settings = recorder_settings(
        nats_url=nats_url,
        database_url=database_url,
        metrics_port=0,
        recorder_batch=batch,
        recorder_flush_seconds=0.05,
        connect_timeout_seconds=30,
    )
    stop, health = asyncio.Event(), HealthState()
    task = asyncio.create_task(run_recorder(settings, stop, health))
    running = RunningRecorder(task, stop, health)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    settings = recorder_settings(nats_url=nats_url, metrics_port=0)
    connected = await connect_bus(settings, "test-publisher")
    yield connected
    await connected.close()


async def test_every_price_is_stored_once_even_when_delivered_twice(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    prices = build_prices(40)
    async with recorder(nats_url, database_url):
        stored, _ = await publish_all(bus, price_items(prices))
        assert stored == len(prices)
        await wait_for_rows(database_url, "prices", len(prices))
        # The same prices under new message ids pass JetStream's dedupe: the database must absorb them.
        stored, _ = await publish_all(bus, price_items(prices, ":again"))
        assert stored == len(prices)
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="consumer to ack everything")
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT zone, delivery_start, price_eur_mwh, stream_seq FROM prices")
    finally:
        await conn.close()
    assert len(rows) == len(prices)
    by_key = {(r["zone"], r["delivery_start"]): r for r in rows}
    for p in prices:
        row = by_key[(p.zone, p.delivery_start)]
        assert float(row["price_eur_mwh"]) == pytest.approx(p.eur_mwh)
        assert row["stream_seq"] <= len(prices)  # the first delivery's row, untouched by the second


async def _consumer_idle(bus: Bus, durable: str) -> bool:
    info = await bus.js.consumer_info("PRICES", durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_correction_replaces_the_price_and_an_older_one_does_not(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    original = build_prices(1)
    corrected = build_prices(1, published_at=PUBLISHED + timedelta(hours=1), offset=5.0)
    stale = build_prices(1, published_at=PUBLISHED - timedelta(hours=1), offset=-9.0)
    async with recorder(nats_url, database_url):
        await publish_all(bus, price_items(original))
        await wait_for_rows(database_url, "prices", len(ZONES))
        await publish_all(bus, price_items(corrected))
        await publish_all(bus, price_items(stale))
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="consumer to ack everything")
    conn = await asyncpg.connect(database_url)
    try:
        rows = {
            r["zone"]: r for r in await conn.fetch("SELECT zone, price_eur_mwh, published_at FROM prices")
        }
    finally:
        await conn.close()
    assert len(rows) == len(ZONES)
    for p in corrected:
        assert float(rows[p.zone]["price_eur_mwh"]) == pytest.approx(p.eur_mwh)
        assert rows[p.zone]["published_at"] == p.published_at


def _rejected() -> float:
    return (
        REGISTRY.get_sample_value(
            "inthegrid_bus_messages_rejected_total", {"service": "recorder", "stream": "PRICES"}
        )
        or 0.0
    )


async def test_a_malformed_message_is_dead_lettered_and_the_rest_is_stored(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    before = _rejected()
    prices = build_prices(4)
    async with recorder(nats_url, database_url):
        await bus.js.publish(price_subject("day_ahead", "FR"), b'{"schema": "inthegrid.price.v1", "zone": 7}')
        await bus.js.publish(price_subject("day_ahead", "FR"), b"\x00 not json")
        await publish_all(bus, price_items(prices))
        await wait_for_rows(database_url, "prices", len(prices))
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="consumer to settle every message")
    assert _rejected() - before == 2
    info = await bus.js.stream_info(DEADLETTER_STREAM)
    assert info.state.messages == 2
    kept = await bus.js.get_msg(DEADLETTER_STREAM, seq=1)
    assert kept.data == b'{"schema": "inthegrid.price.v1", "zone": 7}'
    assert kept.headers is not None and "zone" in kept.headers["InTheGrid-Reason"]


def _event(kind: EventKind, revision: int, sell: float | None, minute: int = 0) -> OpportunityEvent:
    detected = T0 - timedelta(hours=10) + timedelta(minutes=minute)
    return de_fr_event(kind, revision, sell, start=T0, detected_at=detected)


async def test_an_opportunity_keeps_its_newest_revision_and_every_event(
    bus: Bus, nats_url: str, database_url: str
) -> None:
    opened = _event(EventKind.OPENED, 1, 80.0, minute=0)
    updated = _event(EventKind.UPDATED, 2, 90.0, minute=1)
    closed = _event(EventKind.CLOSED, 3, None, minute=2)
    subject = opportunity_subject("poc", ("DE-LU", "FR"))
    async with recorder(nats_url, database_url):
        # A late second delivery of revision 2 (under a new id) must not move the row back.
        for event, suffix in ((opened, ""), (updated, ""), (closed, ""), (updated, ":again")):
            await publish_all(bus, [(subject, encode_event(event), event.message_id + suffix)])
        await wait_for_rows(database_url, "opportunity_events", 3)
        await wait_until(lambda: _events_idle(bus), what="opportunity consumer to ack everything")
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM opportunities")
        events = await conn.fetch(
            "SELECT kind, revision, strategy, profit_eur FROM opportunity_events ORDER BY revision"
        )
        assert await conn.fetchval("SELECT count(*) FROM opportunities") == 1
    finally:
        await conn.close()
    assert [(e["kind"], e["revision"]) for e in events] == [("opened", 1), ("updated", 2), ("closed", 3)]
    assert updated.value is not None
    assert events[1]["strategy"] == updated.value.strategy
    # DE-LU/FR is coupled day-ahead: congestion income, so no profit is stored.
    assert events[1]["profit_eur"] is None and updated.value.profit_eur is None
    assert row["status"] == "closed" and row["revision"] == 3
    assert (row["pair_a"], row["pair_b"], row["rule"], row["market"]) == ("DE-LU", "FR", "poc", "day_ahead")
    # A close without a value keeps what the opportunity last looked like.
    assert float(row["sell_price"]) == 90.0 and float(row["spread"]) == pytest.approx(
        updated.value.spread_eur_mwh
    )
    assert row["path"] == ["DE-LU", "FR"]
    assert row["first_detected_at"] == opened.detected_at and row["detected_at"] == closed.detected_at


async def _events_idle(bus: Bus) -> bool:
    info = await bus.js.consumer_info("OPPORTUNITIES", "recorder-opportunities")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_schema_records_which_storage_it_uses(nats_url: str, database_url: str, storage: str) -> None:
    async with recorder(nats_url, database_url) as running:
        await wait_until(lambda: _ready(running.health), what="recorder ready")
    conn = await asyncpg.connect(database_url)
    try:
        info = {r["key"]: r["value"] for r in await conn.fetch("SELECT key, value FROM schema_info")}
        versions = [
            r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        ]
        if storage == "timescaledb":
            hypertables = {
                r["hypertable_name"]: r["compression_enabled"]
                for r in await conn.fetch(
                    "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
                )
            }
            aggregates = {
                r["view_name"]: r["materialized_only"]
                for r in await conn.fetch(
                    "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
                )
            }
            jobs = {
                (r["hypertable_name"], r["proc_name"])
                for r in await conn.fetch(
                    "SELECT hypertable_name, proc_name FROM timescaledb_information.jobs"
                )
            }
            price_chunk = await conn.fetchval(
                "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'prices'"
            )
    finally:
        await conn.close()
    assert versions == [m.version for m in load_migrations()]
    assert info["storage"] == storage
    if storage == "postgresql":
        assert info["aggregates"] == "none"
        return
    assert info["aggregates"] == "continuous"
    assert hypertables == {"prices": True, "opportunities": True, "opportunity_events": True}
    # Real-time aggregates: periods not yet materialized still count.
    assert aggregates == {"prices_hourly": False, "prices_daily": False, "border_daily": False}
    assert price_chunk == timedelta(days=30)
    # The recorder's default settings: compress after 30 days, keep forever (no retention job).
    assert {t for t, proc in jobs if proc == "policy_compression"} == {
        "prices",
        "opportunities",
        "opportunity_events",
    }
    assert not {t for t, proc in jobs if proc == "policy_retention"}


async def test_storage_policies_follow_the_settings(database_url: str, storage: str) -> None:
    pool = await connect_pool(database_url, timeout=30)
    try:
        await run_migrations(pool)
        first = await apply_storage_policies(pool, compress_after_days=30, retention_days=0)
        changed = await apply_storage_policies(pool, compress_after_days=7, retention_days=400)
        async with pool.acquire() as conn:
            configs = (
                [
                    (r["hypertable_name"], r["proc_name"], json.loads(r["config"]))
                    for r in await conn.fetch(
                        "SELECT hypertable_name, proc_name, config FROM timescaledb_information.jobs"
                        " WHERE proc_name IN ('policy_compression', 'policy_retention')"
                    )
                ]
                if storage == "timescaledb"
                else []
            )
    finally:
        await pool.close()
    if storage == "postgresql":
        assert first == changed == {}  # nothing to set, and nothing pretended
        return
    assert first["prices"] == "compress after 30 d"
    assert changed["prices"] == "compress after 7 d, drop after 400 d"
    by_table = {(t, proc): cfg for t, proc, cfg in configs}
    assert len(configs) == 6  # replaced, not added: one of each per hypertable
    assert by_table[("prices", "policy_compression")]["compress_after"] == "7 days"
    assert by_table[("opportunity_events", "policy_retention")]["drop_after"] == "400 days"


async def test_start_up_reports_the_storage_the_server_offers(database_url: str, storage: str) -> None:
    described = await asyncio.to_thread(_server_storage, database_url)
    if storage == "timescaledb":
        assert described.startswith("timescaledb 2.") and "PostgreSQL 18" in described
    else:
        assert described.startswith("postgresql 18") and "no TimescaleDB" in described
    # A database whose schema was made as plain tables stays so; the banner must not claim otherwise.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE schema_info (key text PRIMARY KEY, value text NOT NULL)")
        await conn.execute("INSERT INTO schema_info VALUES ('storage', 'postgresql')")
    finally:
        await conn.close()
    described = await asyncio.to_thread(_server_storage, database_url)
    if storage == "timescaledb":
        assert described.startswith("postgresql tables on PostgreSQL 18") and "created before" in described
    else:
        assert described.startswith("postgresql 18")


async def _ready(health: HealthState) -> bool:
    return health.ready


def _start_recorder_process(nats_url: str, database_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INTHEGRID_NATS_URL": nats_url,
        "INTHEGRID_DATABASE_URL": database_url,
        "INTHEGRID_METRICS_PORT": "0",
        "INTHEGRID_RECORDER_BATCH": "200",
        "INTHEGRID_LOG_FORMAT": "text",
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "inthegrid.cli", "recorder"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


async def test_sigkill_mid_stream_then_restart_stores_every_price_exactly_once(
    bus: Bus, nats_url: str, database_url: str, tmp_path: Path
) -> None:
    prices = build_prices(4000)  # 20,000 prices
    log_path = tmp_path / "recorder.log"
    process = _start_recorder_process(nats_url, database_url, log_path)
    try:
        await publish_all(bus, price_items(prices))
        await wait_for_rows(database_url, "prices", 1000)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        at_kill = await count(database_url, "prices")
        assert at_kill < len(prices), "the recorder finished before the kill; the test proves nothing"
        process = _start_recorder_process(nats_url, database_url, log_path)
        await wait_for_rows(database_url, "prices", len(prices), timeout=120)
        await wait_until(lambda: _consumer_idle(bus, PRICES_DURABLE), what="consumer to ack everything")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log_path.read_text()[-3000:]
    conn = await asyncpg.connect(database_url)
    try:
        total, distinct, wrong = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT (zone, delivery_start)), "
            "count(*) FILTER (WHERE price_eur_mwh <> round((40 + 7 * array_position($1::text[], zone) - 7 "
            "+ extract(hour FROM delivery_start AT TIME ZONE 'UTC'))::numeric, 2)) FROM prices",
            list(ZONES),
        )
    finally:
        await conn.close()
    assert (total, distinct, wrong) == (len(prices), len(prices), 0)


async def test_a_database_outage_loses_nothing(bus: Bus, nats_url: str) -> None:
    with servers.postgres_server() as pg:
        url = pg.url()
        first, later = build_prices(20), build_prices(100)[len(ZONES) * 20 :]
        async with recorder(nats_url, url, batch=50) as running:
            await publish_all(bus, price_items(first))
            await wait_for_rows(url, "prices", len(first))
            pg.stop()
            await publish_all(bus, price_items(later))
            await wait_until(lambda: _not_ready(running.health), what="readiness to report the database down")
            await asyncio.sleep(3)
            pg.start()
            await wait_for_rows(url, "prices", len(first) + len(later))
            await wait_until(lambda: _ready(running.health), what="readiness to recover")
        assert await count(url, "prices") == len(first) + len(later)


async def _not_ready(health: HealthState) -> bool:
    return health.checks.get("database") is False


async def test_an_apache_only_timescaledb_gets_hypertables_and_the_plain_aggregates() -> None:
    """Compression, continuous aggregates and policies are Timescale-License code: on a server limited
    to the Apache-2 part the migrations keep the hypertables, record aggregates = none, set no
    policies, and the recorder still starts."""
    reason = servers.timescaledb_unavailable()
    if reason:
        if servers.timescaledb_required():
            pytest.fail(f"CI=true: TimescaleDB unavailable: {reason}", pytrace=False)
        pytest.skip(f"TimescaleDB unavailable: {reason}")
    with servers.server_dir("pg-apache") as base:
        server = EmbeddedPostgres(
            base / "data", fast=True, storage="timescaledb", settings={"timescaledb.license": "apache"}
        )
        with server:
            pool = await connect_pool(server.url(), timeout=30)
            try:
                assert await run_migrations(pool) == "timescaledb"
                policies = await apply_storage_policies(pool, compress_after_days=7, retention_days=400)
                async with pool.acquire() as conn:
                    info = {
                        r["key"]: r["value"] for r in await conn.fetch("SELECT key, value FROM schema_info")
                    }
                    hypertables = {
                        r["hypertable_name"]: r["compression_enabled"]
                        for r in await conn.fetch(
                            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
                        )
                    }
                    aggregates = await conn.fetchval(
                        "SELECT count(*) FROM timescaledb_information.continuous_aggregates"
                    )
            finally:
                await pool.close()
    assert info == {"storage": "timescaledb", "aggregates": "none"}
    assert hypertables == {"prices": False, "opportunities": False, "opportunity_events": False}
    assert aggregates == 0 and policies == {}
