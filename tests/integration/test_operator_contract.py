"""Contract: what the operator renders runs. The feed and calculator Deployments' command and env
(the proof-of-concept examples) run as local processes against real NATS and PostgreSQL, and
prices flow from the feed through the bus into the calculator and the database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from inthegrid.domain.rules import parse_rule_spec
from inthegrid_operator.render import (
    RULE_DIR,
    render_calculator_deployment,
    render_feed_deployment,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec
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
