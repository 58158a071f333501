"""The chart's NATS users and permissions, on a real nats-server running the rendered authorization.

Each service connects as its own user (creating its streams and consumers through the JetStream
API); a feed may publish prices but not opportunity events, a calculator events but not prices, and
the recorder and the gateway no data at all, so a pod that is not a feed cannot inject a price.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from inthegrid.calculator.shard_consumers import durable_name, price_consumers, running_rules
from inthegrid.domain.codec import encode_price
from inthegrid.domain.prices import make_price
from inthegrid.domain.rules import proof_of_concept_rule
from inthegrid.errors import InTheGridError
from inthegrid.local.embedded import find_nats_server, free_port
from inthegrid.platform.bus import (
    OPPORTUNITIES_STREAM,
    PRICES_STREAM,
    Bus,
    BusError,
    connect_bus,
    fetch_batch,
    opportunity_subject,
    price_subject,
    publish_all,
)
from inthegrid.platform.rules_kv import announce_rule
from inthegrid.platform.settings import CommonSettings
from inthegrid.recorder.service import PRICES_DURABLE
from tests.k8s.chart import documents, render
from tests.support.servers import server_dir

USERS = ("feed", "calculator", "recorder", "gateway")
AUTHORIZATION = re.compile(r"^authorization \{\n.*?^\}\n", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def nats_with_chart_users(helm: Path) -> Iterator[tuple[str, dict[str, str]]]:
    binary = find_nats_server()
    if binary is None:
        pytest.skip("nats-server not found")
    config_map = next(
        d
        for d in documents(render(helm))
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-nats")
    )
    found = AUTHORIZATION.search(config_map["data"]["nats.conf"])
    assert found, config_map["data"]["nats.conf"]
    passwords = {user: secrets.token_hex(16) for user in USERS}
    with server_dir("nats-auth") as base:
        conf = base / "nats.conf"
        conf.write_text(f"{found.group(0)}\njetstream {{\n  store_dir: {base / 'js'}\n}}\n")
        port = free_port()
        env = {**os.environ, **{f"{u.upper()}_PASSWORD": p for u, p in passwords.items()}}
        process = subprocess.Popen(
            [str(binary), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield f"nats://127.0.0.1:{port}", passwords
        finally:
            process.terminate()
            process.wait(10)


async def _bus(url: str, user: str, password: str) -> Bus:
    settings = CommonSettings.model_validate(
        {"nats_url": url, "nats_user": user, "nats_password": password, "connect_timeout_seconds": 20}
    )
    return await connect_bus(settings, f"auth-test-{user}")


async def _may_publish(bus: Bus, subject: str, payload: bytes, msg_id: str) -> bool:
    try:
        await asyncio.wait_for(publish_all(bus, [(subject, payload, msg_id)]), 3)
    except (BusError, TimeoutError, InTheGridError):
        return False
    return True


async def _check(url: str, passwords: dict[str, str]) -> dict[str, dict[str, bool]]:
    price = make_price("DE-LU", "2026-01-15T10:00Z", 50, source="auth", published_at=datetime.now(UTC))
    prices = (price_subject("day_ahead", "DE-LU"), encode_price(price))
    events = (opportunity_subject("proof-of-concept", ("DE-LU", "FR")), b"{}")
    outcome: dict[str, dict[str, bool]] = {}
    for user in USERS:
        bus = await _bus(url, user, passwords[user])  # creates or updates the streams: the JetStream API
        try:
            outcome[user] = {
                "prices": await _may_publish(bus, *prices, f"{user}-p"),
                "events": await _may_publish(bus, *events, f"{user}-e"),
            }
            if user in ("calculator", "recorder"):  # consumers: fetch and ack what the feed published
                sub = await bus.js.pull_subscribe(
                    "inthegrid.prices.>",
                    durable=f"auth-{user}",
                    stream=PRICES_STREAM,
                    config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
                )
                msgs = await fetch_batch(sub, 10, 5)
                for msg in msgs:
                    await msg.ack()
                outcome[user]["consumes"] = bool(msgs)
        finally:
            await bus.close()
    return outcome


def test_each_service_publishes_only_its_own_data(nats_with_chart_users: tuple[str, dict[str, str]]) -> None:
    url, passwords = nats_with_chart_users
    outcome = asyncio.run(_check(url, passwords))
    assert outcome == {
        "feed": {"prices": True, "events": False},
        "calculator": {"prices": False, "events": True, "consumes": True},
        "recorder": {"prices": False, "events": False, "consumes": True},
        "gateway": {"prices": False, "events": False},
    }


def test_no_user_no_entry(nats_with_chart_users: tuple[str, dict[str, str]]) -> None:
    url, passwords = nats_with_chart_users

    async def attempt(user: str | None, password: str | None) -> bool:
        settings = CommonSettings.model_validate(
            {"nats_url": url, "nats_user": user, "nats_password": password, "connect_timeout_seconds": 1}
        )
        try:
            bus = await connect_bus(settings, "auth-test-anonymous")
        except (BusError, InTheGridError):
            return False
        await bus.close()
        return True

    assert asyncio.run(attempt(None, None)) is False
    assert asyncio.run(attempt("feed", passwords["gateway"])) is False


async def _destroys(bus: Bus, consumer: str) -> dict[str, bool]:
    """Which destructive JetStream API calls this user's connection gets through."""

    async def succeeds(call: Any) -> bool:
        try:
            await asyncio.wait_for(call, 3)
        except (nats.errors.Error, TimeoutError):
            return False
        return True

    shrunk = (await bus.js.stream_info(PRICES_STREAM)).config
    shrunk.max_msgs = 1_000_000  # a limit that drops nothing here, but could drop history
    # At once: a denied call is never answered (the server only reports the violation), so each
    # costs its timeout; an allowed one answers in milliseconds.
    names = ("updates stream", "purges", "deletes consumer", "deletes message", "deletes stream")
    results = await asyncio.gather(
        succeeds(bus.js.update_stream(shrunk)),
        succeeds(bus.js.purge_stream(PRICES_STREAM)),
        succeeds(bus.js.delete_consumer(PRICES_STREAM, consumer)),
        succeeds(bus.js.delete_msg(PRICES_STREAM, 1)),
        succeeds(bus.js.delete_stream(PRICES_STREAM)),
    )
    return dict(zip(names, results, strict=True))


async def _check_destroy(url: str, passwords: dict[str, str]) -> tuple[dict[str, dict[str, bool]], int]:
    feed = await _bus(url, "feed", passwords["feed"])
    try:
        price = make_price("FR", "2026-01-15T11:00Z", 40, source="auth", published_at=datetime.now(UTC))
        await publish_all(feed, [(price_subject("day_ahead", "FR"), encode_price(price), "destroy-p")])
        # The recorder's durable: the one consumer whose loss would lose prices for the database.
        await feed.js.pull_subscribe(
            "inthegrid.prices.>",
            durable=PRICES_DURABLE,
            stream=PRICES_STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
    finally:
        await feed.close()
    outcome: dict[str, dict[str, bool]] = {}
    for user in USERS:
        bus = await _bus(url, user, passwords[user])
        try:
            outcome[user] = await _destroys(bus, PRICES_DURABLE)
        finally:
            await bus.close()
    gateway = await _bus(url, "gateway", passwords["gateway"])
    try:
        kept = (await gateway.js.stream_info(PRICES_STREAM)).state.messages
        await gateway.js.consumer_info(PRICES_STREAM, PRICES_DURABLE)
    finally:
        await gateway.close()
    return outcome, kept


def test_no_service_can_erase_history(nats_with_chart_users: tuple[str, dict[str, str]]) -> None:
    url, passwords = nats_with_chart_users
    outcome, kept = asyncio.run(_check_destroy(url, passwords))
    nothing = {
        "updates stream": False,
        "purges": False,
        "deletes consumer": False,
        "deletes message": False,
        "deletes stream": False,
    }
    # The recorder owns the streams' configuration (limits change with an upgrade); nothing more.
    assert outcome == {**dict.fromkeys(USERS, nothing), "recorder": {**nothing, "updates stream": True}}
    assert kept >= 1  # the stream and its messages are still there, and so is the consumer


async def _deletes_consumers(url: str, passwords: dict[str, str]) -> dict[str, dict[str, bool]]:
    """Which users may delete an old shard layout's durable on PRICES, or a consumer of another stream."""
    owner = await _bus(url, "recorder", passwords["recorder"])
    try:
        for user in USERS:
            await owner.js.add_consumer(
                PRICES_STREAM, ConsumerConfig(durable_name=durable_name(f"auth-{user}", 1, 3))
            )
            await owner.js.add_consumer(OPPORTUNITIES_STREAM, ConsumerConfig(durable_name=f"auth-{user}-ev"))
    finally:
        await owner.close()
    outcome: dict[str, dict[str, bool]] = {}
    for user in USERS:
        bus = await _bus(url, user, passwords[user])

        async def succeeds(stream: str, consumer: str, bus: Bus = bus) -> bool:
            try:
                await asyncio.wait_for(bus.js.delete_consumer(stream, consumer), 3)
            except (nats.errors.Error, TimeoutError):
                return False
            return True

        try:
            stale, events = await asyncio.gather(
                succeeds(PRICES_STREAM, durable_name(f"auth-{user}", 1, 3)),
                succeeds(OPPORTUNITIES_STREAM, f"auth-{user}-ev"),
            )
            outcome[user] = {"stale shard consumer": stale, "events consumer": events}
        finally:
            await bus.close()
    return outcome


def test_only_the_calculator_deletes_an_old_shard_consumer_and_only_on_prices(
    nats_with_chart_users: tuple[str, dict[str, str]],
) -> None:
    url, passwords = nats_with_chart_users
    outcome = asyncio.run(_deletes_consumers(url, passwords))
    nothing = {"stale shard consumer": False, "events consumer": False}
    # The recorder's own durable stays out of its reach (test_no_service_can_erase_history).
    assert outcome == {
        **dict.fromkeys(USERS, nothing),
        "calculator": {**nothing, "stale shard consumer": True},
    }


def test_a_service_with_other_stream_settings_starts_and_changes_nothing(
    nats_with_chart_users: tuple[str, dict[str, str]],
) -> None:
    url, passwords = nats_with_chart_users

    async def start_feed_with_other_limits() -> tuple[float | None, float | None]:
        gateway = await _bus(url, "gateway", passwords["gateway"])  # the streams exist, as the owner set them
        try:
            before = (await gateway.js.stream_info(PRICES_STREAM)).config.max_age
            settings = CommonSettings.model_validate(
                {
                    "nats_url": url,
                    "nats_user": "feed",
                    "nats_password": passwords["feed"],
                    "stream_max_age_hours": 1,
                }
            )
            feed = await connect_bus(settings, "auth-test-other-limits")  # starts despite the difference
            await feed.close()
            after = (await gateway.js.stream_info(PRICES_STREAM)).config.max_age
        finally:
            await gateway.close()
        return before, after

    before, after = asyncio.run(start_feed_with_other_limits())
    assert before is not None and before > 3600
    assert after == before


def test_the_calculator_may_read_what_its_stale_consumer_check_reads(
    nats_with_chart_users: tuple[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    url, passwords = nats_with_chart_users

    async def read() -> tuple[list[str], list[str]]:
        bus = await _bus(url, "calculator", passwords["calculator"])
        try:
            await announce_rule(bus, "auth-rule", proof_of_concept_rule().spec)
            await bus.js.add_consumer(PRICES_STREAM, ConsumerConfig(durable_name=durable_name("auth-rule")))
            names = [info.name for info in await price_consumers(bus)]
            rules = await running_rules(bus)
            await bus.nc.flush()  # a violation is reported before the server answers this PING
        finally:
            await bus.close()
        return names, rules

    with caplog.at_level(logging.WARNING, logger="inthegrid.platform.bus"):
        names, rules = asyncio.run(read())
    assert durable_name("auth-rule") in names and "auth-rule" in rules
    assert "permissions violation" not in caplog.text.lower()
