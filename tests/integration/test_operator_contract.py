"""Contract: what the operator renders runs. The feed and calculator Deployments' command and env
(the proof-of-concept examples) run as local processes against real NATS and PostgreSQL, and
prices flow from the feed through the bus into the calculator and the database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
import yaml
from nats.js.errors import NotFoundError

from inthegrid.calculator.shard_consumers import durable_name
from inthegrid.domain.rules import parse_rule_spec
from inthegrid.platform.bus import PRICES_STREAM
from inthegrid_operator.render import render_feed_deployment
from inthegrid_operator.render_calculator import (
    RULE_DIR,
    render_calculator_deployment,
    render_calculator_deployments,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec, split_rule_spec
from tests.support import servers
from tests.support.nats_cluster import nats_cluster
from tests.support.processes import ServiceProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "k8s" / "examples"


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _environment(container: dict[str, Any]) -> dict[str, str]:
    # The examples used here reference no Secrets: every variable has a plain value.
    return {var["name"]: var["value"] for var in container["env"]}


def _subcommand(container: dict[str, Any]) -> list[str]:
    # `inthegrid X` in the image == `python -m inthegrid.cli X` here.
    assert container["command"][0] == "inthegrid"
    return list(container["command"][1:])


async def test_rendered_feed_and_calculator_run_and_prices_flow(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    settings = OperatorSettings(image="unused", nats_url=nats_url)
    feed = yaml.safe_load((EXAMPLES / "marketfeed-proof-of-concept.yaml").read_text())
    rule = yaml.safe_load((EXAMPLES / "arbitragerule-proof-of-concept.yaml").read_text())
    feed_container = _container(
        render_feed_deployment(feed["metadata"]["name"], "ns", parse_feed_spec(feed["spec"]), settings)
    )
    configmap = render_rule_configmap(rule["metadata"]["name"], "ns", rule["spec"])
    calc_container = _container(
        render_calculator_deployment(
            rule["metadata"]["name"], "ns", parse_rule_spec(rule["spec"]), configmap, settings
        )
    )
    # The ConfigMap volume, as the kubelet would mount it.
    rule_dir = tmp_path / "rule"
    rule_dir.mkdir()
    for key, text in configmap["data"].items():
        (rule_dir / key).write_text(text)
    calc_env = _environment(calc_container)
    calc_env["INTHEGRID_RULE_FILE"] = calc_env["INTHEGRID_RULE_FILE"].replace(RULE_DIR, str(rule_dir))

    # ServiceProcess gives each process its own free metrics port (all pods use 9100; here they share a host).
    procs = {
        "feed": ServiceProcess(
            _subcommand(feed_container), _environment(feed_container), tmp_path / "feed.log"
        ),
        "calculator": ServiceProcess(_subcommand(calc_container), calc_env, tmp_path / "calculator.log"),
        "recorder": ServiceProcess(
            ["recorder"],
            {"INTHEGRID_NATS_URL": nats_url, "INTHEGRID_DATABASE_URL": database_url},
            tmp_path / "recorder.log",
        ),
    }
    try:
        for p in procs.values():
            p.start(wait_ready=60)
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + 60
            zones: set[str] = set()
            while time.monotonic() < deadline:
                try:
                    rows = await conn.fetch("SELECT DISTINCT zone FROM prices")
                    zones = {r["zone"] for r in rows}
                except asyncpg.UndefinedTableError:
                    zones = set()
                if zones == set(feed["spec"]["zones"]):
                    break
                await asyncio.sleep(0.3)
            logs = "\n".join(f"--- {n}\n{p.log_tail()}" for n, p in procs.items())
            assert zones == set(feed["spec"]["zones"]), logs
            sources = {r["source"] for r in await conn.fetch("SELECT DISTINCT source FROM prices")}
            # the feed stamps its name (INTHEGRID_FEED_NAME = the MarketFeed's name) on every price
            assert sources == {feed["metadata"]["name"]}
        finally:
            await conn.close()
        published = procs["feed"].metric_value(
            "inthegrid_feed_prices_published_total", feed="proof-of-concept"
        )
        assert published >= len(feed["spec"]["zones"])
        deadline = time.monotonic() + 30
        processed = 0.0
        while time.monotonic() < deadline and processed < len(feed["spec"]["zones"]):
            processed = procs["calculator"].metric_value(
                "inthegrid_calculator_prices_processed_total", rule="proof-of-concept"
            )
            await asyncio.sleep(0.3)
        assert processed >= len(feed["spec"]["zones"]), procs["calculator"].log_tail()
    finally:
        for p in procs.values():
            p.terminate()


async def test_rendered_shards_run_as_their_shards(nats_url: str, tmp_path: Path) -> None:
    """spec.replicas 2: each rendered Deployment's env starts a calculator that is its shard (its own
    durable consumer, filtered to its pairs' zones), not a second copy of the whole rule."""
    rule = yaml.safe_load((EXAMPLES / "arbitragerule-proof-of-concept.yaml").read_text())
    name = rule["metadata"]["name"]
    raw, _ = split_rule_spec(rule["spec"])
    configmap = render_rule_configmap(name, "ns", raw)
    rule_dir = tmp_path / "rule"
    rule_dir.mkdir()
    for key, text in configmap["data"].items():
        (rule_dir / key).write_text(text)
    settings = OperatorSettings(image="unused", nats_url=nats_url)
    deployments = render_calculator_deployments(name, "ns", parse_rule_spec(raw), configmap, settings, 2)
    procs = []
    for i, deployment in enumerate(deployments):
        container = _container(deployment)
        env = _environment(container)
        env["INTHEGRID_RULE_FILE"] = env["INTHEGRID_RULE_FILE"].replace(RULE_DIR, str(rule_dir))
        procs.append(ServiceProcess(_subcommand(container), env, tmp_path / f"shard{i}.log"))
    nc = await nats.connect(nats_url)
    try:
        for p in procs:
            p.start(wait_ready=60)
        js = nc.jetstream()
        for i, p in enumerate(procs):
            await js.consumer_info(PRICES_STREAM, durable_name(name, i, 2))  # raises when absent
            # 10 pairs split round-robin: 5 each (the five zones' pairs all need all five zones)
            assert f"(shard {i + 1} of 2) watching 5 pairs" in p.log_tail(), p.log_tail()
        with pytest.raises(NotFoundError):  # no shard runs as the whole rule
            await js.consumer_info(PRICES_STREAM, durable_name(name))
    finally:
        await nc.close()
        for p in procs:
            p.terminate()


async def test_rendered_feed_creates_streams_with_the_clusters_replicas(tmp_path: Path) -> None:
    """The operator's INTHEGRID_STREAM_REPLICAS reaches the feed: on a 3-node JetStream cluster the
    streams a feed it renders creates are replicated 3 times (they were created with 1 before)."""
    reason = servers.missing_binaries()
    if reason:
        pytest.skip(f"server binaries unavailable: {reason}")
    feed = yaml.safe_load((EXAMPLES / "marketfeed-proof-of-concept.yaml").read_text())
    with nats_cluster(3) as cluster:
        settings = OperatorSettings(image="unused", nats_url=cluster.url, stream_replicas=3)
        container = _container(
            render_feed_deployment(feed["metadata"]["name"], "ns", parse_feed_spec(feed["spec"]), settings)
        )
        proc = ServiceProcess(_subcommand(container), _environment(container), tmp_path / "feed.log")
        nc = await nats.connect(servers=cluster.urls)
        try:
            proc.start(wait_ready=120)  # ready once connected and the streams exist
            info = await nc.jetstream().stream_info(PRICES_STREAM)
            assert info.config.num_replicas == 3, proc.log_tail()
        finally:
            await nc.close()
            proc.terminate()
