"""The whole platform on the kind cluster (issue #12, section 3), installed once as a user installs it
(tests/e2e/kind_platform.py, the session's `platform` fixture). Proven here: every pod Ready as non-root
on a read-only root filesystem; the operator's feed and calculator Deployments Ready; prices reach the
database; the gateway answers the proof of concept's REST API through a port-forward with five zones
and ten pairs, and streams prices of the five zones and opportunities of the ten pairs as Server-Sent
Events; deleting the calculator and recorder pods mid-stream loses no price and duplicates no
opportunity, and deleting the NATS pod (a StatefulSet with a volume) likewise; editing a MarketFeed rolls
its Deployment. Prometheus, NetworkPolicies, `helm upgrade` and the uninstall have their own modules."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from inthegrid_operator.render import CONFIG_HASH_ANNOTATION
from tests.e2e.kind_cluster import Cluster
from tests.e2e.kind_platform import (
    COMPONENT,
    NAMESPACE,
    ZONES,
    all_pods_ready,
    deployments_by_component,
    gateway_client,
    psql,
    ready,
    zones_in_database,
)

pytestmark = pytest.mark.kind


def test_every_pod_is_ready_as_non_root_on_a_read_only_root_filesystem(platform: Cluster) -> None:
    pods = platform.wait_until(
        "every pod of the release and the examples to be Ready", lambda: all_pods_ready(platform)
    )
    for pod in pods:
        name = pod["metadata"]["name"]
        pod_context = pod["spec"].get("securityContext", {})
        for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, (name, container["name"])
            assert context.get("runAsUser", 0) != 0, (name, container["name"])
            assert context.get("readOnlyRootFilesystem") is True, (name, container["name"])


def test_the_operator_creates_the_feed_and_calculator_deployments(platform: Cluster) -> None:
    for kind in ("marketfeed", "arbitragerule"):
        platform.wait_until(
            f"the {kind} to report Ready",
            lambda kind=kind: ready(platform.get_json(kind, "proof-of-concept", "--namespace", NAMESPACE)),
        )

    def owned_and_ready() -> dict[str, list[dict[str, Any]]] | None:
        found = deployments_by_component(platform)
        workers = found.get("feed", []) + found.get("calculator", [])
        if not found.get("feed") or not found.get("calculator"):
            return None
        return found if all(d["status"].get("readyReplicas", 0) >= 1 for d in workers) else None

    found = platform.wait_until("the feed and calculator Deployments to be Ready", owned_and_ready)
    owners = {
        (ref["kind"], ref["name"])
        for d in found["feed"] + found["calculator"]
        for ref in d["metadata"].get("ownerReferences", [])
    }
    assert owners == {("MarketFeed", "proof-of-concept"), ("ArbitrageRule", "proof-of-concept")}
    # The printer columns read the same status.
    table = platform.kubectl("get", "marketfeed,arbitragerule", "--namespace", NAMESPACE, "-o", "wide")
    assert table.count("True") >= 2, table


def test_prices_flow_from_the_feed_through_nats_and_the_calculator_to_the_database(platform: Cluster) -> None:
    assert (
        platform.wait_until("all five zones' prices in TimescaleDB", lambda: zones_in_database(platform))
        >= ZONES
    )
    platform.wait_until(
        "an opportunity recorded from the calculator",
        lambda: int(psql(platform, "SELECT count(*) FROM opportunity_events") or 0) > 0,
    )


def test_the_gateway_answers_the_proof_of_concepts_api_with_five_zones_and_ten_pairs(
    platform: Cluster,
) -> None:
    platform.wait_until("prices in the database", lambda: zones_in_database(platform))
    with gateway_client(platform) as gateway:
        assert gateway.get("/health").json()["status"] == "healthy"

        def live() -> tuple[dict[str, Any], dict[str, Any]] | None:
            prices = gateway.get("/api/prices/latest").json()
            spreads = gateway.get("/api/spreads/latest").json()
            return (prices, spreads) if prices.get("count") == 5 and spreads.get("count") == 10 else None

        prices, spreads = platform.wait_until("five zones and ten pairs at the gateway", live)
        assert {p["market"] for p in prices["prices"]} == ZONES
        assert prices["status"] == "success"
        pairs = {frozenset(spread["pair"]) for spread in spreads["data"]}
        assert len(pairs) == 10 and set().union(*pairs) == ZONES
        opportunities = gateway.get("/api/spreads/opportunities")
        assert opportunities.status_code == 200 and opportunities.json()["status"] == "success"
        history = gateway.get("/api/prices/history/DE", params={"limit": 5})
        assert history.status_code == 200 and 1 <= history.json()["count"] <= 5
        assert gateway.get("/api/prices/latest", headers={"X-API-Key": "wrong"}).status_code == 401


def sse_events(
    gateway: httpx.Client, path: str, done: Any, seconds: float = 180.0, **headers: str
) -> list[dict[str, Any]]:
    """Read ``path``'s Server-Sent Events ({"id", "event", "data"}) until ``done(events)`` holds."""
    events: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    deadline = time.monotonic() + seconds
    with gateway.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(("id: ", "event: ")):
                field, value = line.split(": ", 1)
                frame[field] = int(value) if field == "id" else value
            elif line.startswith("data: "):
                frame["data"] = json.loads(line.removeprefix("data: "))
            elif not line and frame:
                events.append(frame)
                frame = {}
                if done(events):
                    return events
            assert time.monotonic() < deadline, f"{path}: {len(events)} events in {seconds:.0f} s, not done"
    raise AssertionError(f"{path} ended after {len(events)} events")


def test_the_gateway_streams_prices_of_five_zones_and_opportunities_of_ten_pairs_as_server_sent_events(
    platform: Cluster,
) -> None:
    platform.wait_until("prices in the database", lambda: zones_in_database(platform))
    with gateway_client(platform) as gateway:
        prices = sse_events(
            gateway, "/api/stream/prices", lambda events: {e["data"]["zone"] for e in events} >= ZONES
        )
        assert {e["event"] for e in prices} == {"price"}
        assert {e["data"]["zone"] for e in prices} == ZONES
        ids = [e["id"] for e in prices]
        assert ids == sorted(set(ids)), "event ids must increase"
        # Resuming after the last event seen goes on from there: no event again, none skipped.
        resumed = sse_events(gateway, "/api/stream/prices", bool, **{"Last-Event-ID": str(ids[-1])})
        assert resumed[0]["id"] > ids[-1]
        # From the start of the opportunities stream: events of every pair of the five zones.
        pairs = sse_events(
            gateway,
            "/api/stream/opportunities",
            lambda events: len({frozenset(e["data"]["pair"]) for e in events}) >= 10,
            **{"Last-Event-ID": "0"},
        )
        found = {frozenset(e["data"]["pair"]) for e in pairs}
        assert len(found) == 10 and set().union(*found) == ZONES, found
        assert {e["event"] for e in pairs} == {"opportunity"}
        assert {e["data"]["rule"] for e in pairs} == {"proof-of-concept"}


def price_gaps(cluster: Cluster) -> str:
    """Zones whose recorded delivery periods skip one between their first and last (none: empty)."""
    return psql(
        cluster,
        "SELECT string_agg(zone, ',') FROM (SELECT zone FROM prices WHERE market = 'day_ahead' GROUP BY zone"
        " HAVING count(DISTINCT delivery_start) <> 1 + extract(epoch FROM max(delivery_start)"
        " - min(delivery_start))::bigint / 900) gaps",
    )


def delete_pods_mid_stream(cluster: Cluster, components: tuple[str, ...]) -> None:
    """Delete the components' pods while prices flow; once every pod is Ready again and more prices
    are recorded, no zone misses a delivery period and no opportunity event is stored twice."""
    cluster.wait_until("prices in the database", lambda: zones_in_database(cluster))
    before = int(psql(cluster, "SELECT count(*) FROM prices"))
    for component in components:
        cluster.kubectl(
            "delete", "pod", "--namespace", NAMESPACE, "-l", f"{COMPONENT}={component}", "--wait=false"
        )
    cluster.wait_until(
        f"the replaced {', '.join(components)} pods Ready and new prices recorded",
        lambda: all_pods_ready(cluster) and int(psql(cluster, "SELECT count(*) FROM prices")) > before + 50,
    )
    assert price_gaps(cluster) == ""
    duplicates = psql(
        cluster,
        "SELECT count(*) FROM (SELECT rule, pair_a, pair_b, market, delivery_start, revision FROM opportunity_events"
        " GROUP BY 1, 2, 3, 4, 5, 6 HAVING count(*) > 1) d",
    )
    assert duplicates == "0"


def test_deleting_the_calculator_and_recorder_pods_mid_stream_loses_no_price_and_duplicates_no_opportunity(
    platform: Cluster,
) -> None:
    delete_pods_mid_stream(platform, ("calculator", "recorder"))


def feed_template(cluster: Cluster) -> tuple[str, int] | None:
    """(config hash of the feed's pod template, ready replicas of its newest generation)."""
    feeds = deployments_by_component(cluster).get("feed", [])
    if len(feeds) != 1:
        return None
    feed = feeds[0]
    annotations = feed["spec"]["template"]["metadata"].get("annotations", {})
    status = feed["status"]
    current = status.get("observedGeneration") == feed["metadata"]["generation"]
    updated = status.get("updatedReplicas", 0) if current else 0
    return annotations.get(CONFIG_HASH_ANNOTATION, ""), min(updated, status.get("readyReplicas", 0))


def test_editing_a_marketfeed_rolls_its_deployment(platform: Cluster) -> None:
    before = platform.wait_until("the feed Deployment", lambda: feed_template(platform))
    platform.kubectl(
        "patch", "marketfeed", "proof-of-concept", "--namespace", NAMESPACE, "--type", "merge",
        "-p", '{"spec": {"simulator": {"volatility": 1.1}}}',
    )  # fmt: skip

    def rolled() -> tuple[str, int] | None:
        now = feed_template(platform)
        return now if now and now[0] != before[0] and now[1] >= 1 and all_pods_ready(platform) else None

    platform.wait_until("a new feed pod template, rolled out and Ready", rolled)
    env = {
        e["name"]: e.get("value")
        for e in deployments_by_component(platform)["feed"][0]["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert env["INTHEGRID_SIMULATOR_VOLATILITY"] == "1.1"


def test_deleting_the_nats_pod_recovers_losing_no_price_and_duplicating_no_opportunity(
    platform: Cluster,
) -> None:
    """NATS is a StatefulSet with a volume: its replacement finds the streams and consumers on it."""
    delete_pods_mid_stream(platform, ("nats",))
