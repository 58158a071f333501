"""Prometheus inside the cluster (the chart's monitoring.prometheus.bundled, image built here from the Go
module by scripts/build-prometheus-image.sh) scrapes every component of the release and of the examples,
and every recording rule of prometheus/rules/inthegrid.rules.yml answers; queried through a port-forward."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.kind_cluster import ROOT, Cluster
from tests.e2e.kind_platform import COMPONENT, gateway_client, port_forward, ready, running_pods

pytestmark = pytest.mark.kind

RULES_FILE = ROOT / "prometheus" / "rules" / "inthegrid.rules.yml"
# The components serving /metrics (NATS' monitor port is JSON, the database has no exporter).
SCRAPED = {"operator", "recorder", "gateway", "feed", "calculator"}
# The records group evaluates every 30 s and rate() needs two scrapes (15 s apart) of each target.
RULES_SECONDS = 300.0


def api(prometheus: httpx.Client, path: str, **params: str) -> Any:
    body = prometheus.get(f"/api/v1/{path}", params=params).json()
    assert body["status"] == "success", body
    return body["data"]


def scraped_pods(cluster: Cluster) -> set[str] | None:
    """The pods of the components that serve metrics, once each component has one and all are Ready."""
    pods = {
        p["metadata"]["name"]: p["metadata"].get("labels", {}).get(COMPONENT)
        for p in running_pods(cluster)
        if p["metadata"].get("labels", {}).get(COMPONENT) in SCRAPED and ready(p)
    }
    return set(pods) if set(pods.values()) == SCRAPED else None


def test_prometheus_in_the_cluster_scrapes_every_component_and_every_recording_rule_answers(
    platform: Cluster,
) -> None:
    records = [
        r["record"]
        for g in yaml.safe_load(RULES_FILE.read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    ]
    with gateway_client(platform) as gateway:  # gateway requests for inthegrid_gateway_requests_total
        assert gateway.get("/api/prices/latest").status_code == 200
    with (
        port_forward(platform, "inthegrid-prometheus", 9090) as url,
        httpx.Client(base_url=url, timeout=30) as prom,
    ):

        def every_pod_up() -> list[dict[str, Any]] | None:
            targets = api(prom, "targets", state="active")["activeTargets"]
            up = {t["labels"].get("pod") for t in targets if t["health"] == "up"}
            pods = scraped_pods(platform)
            return targets if pods and up == pods and len(targets) == len(pods) else None  # one per pod

        targets = platform.wait_until("a target up for every pod serving metrics", every_pod_up)
        jobs = {t["labels"]["job"] for t in targets}
        assert jobs == {f"inthegrid-{component}" for component in SCRAPED}
        assert {t["labels"]["namespace"] for t in targets} == {"inthegrid"}

        def answers() -> dict[str, int] | None:
            found = {record: len(api(prom, "query", query=record)["result"]) for record in records}
            return found if all(found.values()) else None

        try:
            platform.wait_until("a series from every recording rule", answers, RULES_SECONDS)
        except AssertionError:
            missing = [r for r in records if not api(prom, "query", query=r)["result"]]
            raise AssertionError(f"recording rules without a series: {missing}") from None
        rules = [r for g in api(prom, "rules")["groups"] for r in g["rules"]]
        broken = [
            f"{r['name']}: {r['health']} {r.get('lastError', '')}" for r in rules if r["health"] != "ok"
        ]
        assert not broken, broken
        # Prices flow: the recorded rates of the feed, calculator and recorder are positive.
        for record in (
            "namespace_feed_zone:inthegrid_feed_prices_published:rate5m",
            "namespace_rule:inthegrid_calculator_prices_processed:rate5m",
            "namespace_table:inthegrid_recorder_rows_written:rate5m",
        ):
            values = [float(s["value"][1]) for s in api(prom, "query", query=record)["result"]]
            assert values and max(values) > 0, (record, values)
