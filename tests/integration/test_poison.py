"""Poison messages against the whole local platform (`inthegrid up`), then restarts of everything.

Each message below is schema-valid JSON that once stopped or broke a part of the platform: a delivery
in 9999 froze the calculator (every real price looked too old) and made the gateway answer 500 and the
launcher fail to start; a delivery in 1970 was stored; a publication in 9999 would beat every later
correction; a price on another zone's subject slipped past per-subject filters. They are published
with nats-py straight onto the price subjects, as a careless or hostile client would. The test proves
that the calculator and the recorder reject and count each (kept once in the dead-letter stream,
with the reason), that the gateway keeps answering,
and that detection continues after every component is SIGKILLed (the launcher restarts them) and after
`inthegrid up` itself is stopped and started again on the same data.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tests.support.platform import LocalPlatform
from tests.support.polling import wait_until
from tests.support.servers import free_port, missing_binaries, server_dir

WAIT_S = 120.0
NATS_LINE = re.compile(r"^\s*NATS\s+(?P<url>nats://\S+)", re.MULTILINE)
POSTGRES_LINE = re.compile(r"^\s*PostgreSQL\s+(?P<url>postgresql://\S+)", re.MULTILINE)


def _price(**changes: object) -> bytes:
    doc = {
        "schema": "inthegrid.price.v1",
        "zone": "DE-LU",
        "market": "day_ahead",
        "delivery_start": "2026-01-15T11:00:00Z",
        "resolution": "PT15M",
        "price_eur_mwh": 80.0,
        "source": "simulator",
        "published_at": "2026-01-15T09:00:00Z",
    }
    return json.dumps({**doc, **changes}).encode()


DE_LU = "inthegrid.prices.day_ahead.DE-LU"
# (what it is, subject, payload, words the dead-letter reason must contain)
POISON = [
    ("delivery in 9999", DE_LU, _price(delivery_start="9999-12-31T23:45:00Z"), "after now"),
    ("delivery in 1970", DE_LU, _price(delivery_start="1970-01-01T00:00:00Z"), "before the earliest"),
    ("publication in 9999", DE_LU, _price(published_at="9999-12-31T23:59:59Z"), "in the future"),
    ("zone not its subject", DE_LU, _price(zone="FR"), "arrived on"),
]


def _wait(condition: Callable[[], bool], what: str, platform: LocalPlatform, timeout: float = WAIT_S) -> None:
    """The one polling helper, with the platform's diagnostics when it times out."""
    wait_until(condition, timeout, what, every=0.25, describe=platform.diagnostics)


def _metric(url: str, name: str) -> float:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a local URL from the banner)
            text = response.read().decode()
    except OSError:
        return -1.0
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.split("{", 1)[0].split(" ", 1)[0] == name
    )


def _status(platform: LocalPlatform, path: str) -> int:
    try:
        with urllib.request.urlopen(platform.base_url + path, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _detection_continues(platform: LocalPlatform) -> None:
    """The calculator values new prices: its evaluation count grows between two looks."""
    url = platform.metrics_urls["calculator"]
    name = "inthegrid_calculator_evaluations_total"
    _wait(lambda: _metric(url, name) > 0, "the calculator's first evaluations", platform)
    before = _metric(url, name)
    _wait(lambda: _metric(url, name) > before, "more evaluations (detection continuing)", platform)


def _gateway_answers(platform: LocalPlatform) -> None:
    for path in ("/api/prices/latest", "/api/prices/history/DE?limit=10000", "/api/spreads/latest"):
        assert _status(platform, path) == 200, (path, platform.diagnostics())
    history = platform.get_json("/api/prices/history/DE?limit=10000")["prices"]
    assert history, "the simulator's prices are stored"
    assert not [p for p in history if p["delivery_start"][:4] in ("1970", "9999")]
    assert not [p for p in history if p["published_at"][:4] == "9999"]


async def _publish(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for _, subject, payload, _ in POISON:
            await js.publish(subject, payload)
    finally:
        await nc.close()


async def _dead_letters(nats_url: str) -> list[tuple[str, str]]:
    """(service, reason) of every dead-lettered message."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("DEADLETTER")
        if info.state.messages == 0:
            return []
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
        sub = await js.pull_subscribe("inthegrid.deadletter.>", stream="DEADLETTER", config=config)
        out: list[tuple[str, str]] = []
        while len(out) < info.state.messages:
            for msg in await sub.fetch(100, timeout=5):
                headers = msg.headers or {}
                out.append((headers.get("InTheGrid-Service", ""), headers.get("InTheGrid-Reason", "")))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def _store_implausible_rows(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for start, published in (
            (datetime(9999, 12, 31, 23, 45, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
            (datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)),
        ):
            await conn.execute(
                "INSERT INTO prices (zone, market, resolution_minutes, delivery_start, price_eur_mwh, source,"
                " published_at) VALUES ('DE-LU', 'day_ahead', 15, $1, 80, 'old-poison', $2)",
                start,
                published,
            )
    finally:
        await conn.close()


def _children(pid: int) -> list[int]:
    """The service processes the launcher started (not its embedded nats-server and PostgreSQL)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue  # exited meanwhile
            if b"inthegrid.cli" in command:
                found.append(int(child))
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    reason = missing_binaries()
    if reason is not None:
        pytest.skip(f"inthegrid up needs nats-server and PostgreSQL binaries: {reason}")
    with server_dir("poison") as base:
        yield base / "data"


def test_poison_messages_never_stop_detection_nor_a_restart(data_dir: Path) -> None:
    platform = LocalPlatform(data_dir, http_port=free_port()).start()
    try:
        found = NATS_LINE.search(platform.output)
        assert found, platform.output
        nats_url = found["url"]
        _detection_continues(platform)

        asyncio.run(_publish(nats_url))

        def every_poison_dead_lettered_once() -> bool:
            letters = asyncio.run(_dead_letters(nats_url))
            return len(letters) == len(POISON) and all(
                any(words in reason for _, reason in letters) for _, _, _, words in POISON
            )

        _wait(every_poison_dead_lettered_once, "each poison message dead-lettered once", platform)
        for consumer in ("calculator", "recorder"):  # each consumer rejected (and counted) each one
            _wait(
                lambda url=platform.metrics_urls[consumer]: (  # type: ignore[misc]
                    _metric(url, "inthegrid_bus_messages_rejected_total") >= len(POISON)
                ),
                f"{consumer} counting the rejections",
                platform,
            )
        _gateway_answers(platform)
        _detection_continues(platform)

        # Every component SIGKILLed: the launcher restarts each, and they replay the poison from the streams.
        assert platform.process is not None
        children = _children(platform.process.pid)
        assert len(children) == 4, children
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        _wait(lambda: len(set(_children(platform.process.pid)) - set(children)) == 4, "4 restarts", platform)
        _wait(lambda: _status(platform, "/api/prices/latest") == 200, "the gateway back", platform)
        _detection_continues(platform)
        _gateway_answers(platform)
    finally:
        code = platform.stop()
    assert code == 0, platform.diagnostics()

    # `inthegrid up` again on the same data: it starts (no OverflowError) and detection continues.
    again = LocalPlatform(data_dir, http_port=free_port()).start()
    try:
        _detection_continues(again)
        # Rows a platform without the window stored (as in the field): the history reader skips them.
        found = POSTGRES_LINE.search(again.output)
        assert found, again.output
        asyncio.run(_store_implausible_rows(found["url"]))
        _gateway_answers(again)
    finally:
        code = again.stop()
    assert code == 0, again.diagnostics()
