"""The whole platform on the kind cluster (issue #12, section 3), installed as a user installs it:
`kind load docker-image` of the images built here, `helm install` of charts/inthegrid (its bundled
NATS and TimescaleDB, with the images built here in place of the public ones), then the proof of
concept's MarketFeed and ArbitrageRule from k8s/examples/. Proven: every pod Ready as non-root on a
read-only root filesystem; the operator's feed and calculator Deployments Ready; prices reach the
database; the gateway answers the proof of concept's REST API through a port-forward with five zones
and ten pairs; deleting the calculator and recorder pods mid-stream loses no price and duplicates no
opportunity, and deleting the NATS pod (a StatefulSet with a volume) likewise; editing a MarketFeed rolls
its Deployment; uninstalling and deleting the namespace leave nothing behind."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from inthegrid_operator.render import CONFIG_HASH_ANNOTATION
from tests.e2e import docker
from tests.e2e.kind_cluster import ROOT, Cluster, script_output, tool
from tests.e2e.nats_image import nats_image_version

pytestmark = pytest.mark.kind

NAMESPACE = "inthegrid"
RELEASE = "inthegrid"  # the chart's fullname is then "inthegrid"
EXAMPLES = ("marketfeed-proof-of-concept.yaml", "arbitragerule-proof-of-concept.yaml")
EXAMPLE_FILES = [arg for name in EXAMPLES for arg in ("-f", str(ROOT / "k8s" / "examples" / name))]
ZONES = {"DE-LU", "FR", "NL", "BE", "AT"}
COMPONENT = "app.kubernetes.io/component"


def ready(item: dict[str, Any]) -> bool:
    conditions = item.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def platform(kind_cluster: Cluster) -> Cluster:
    full = docker.VARIANTS["full"]
    nats = f"{docker.NATS_REPOSITORY}:{nats_image_version()}"
    timescaledb = script_output("build-timescaledb-image.sh", "--name")
    for image in (full, nats, timescaledb):
        if docker.image_config(image) is None:
            pytest.skip(f"image {image} not built (make image, scripts/build-timescaledb-image.sh)")
        kind_cluster.load_image(image)
    helm = tool("helm")
    assert helm is not None, "helm not built (scripts/build-k8s-tools.sh)"
    settings: dict[str, str] = {}
    for key, image in (("image", full), ("nats.image", nats), ("database.bundled.image", timescaledb)):
        repository, tag = image.rsplit(":", 1)
        settings |= {f"{key}.repository": repository, f"{key}.tag": tag, f"{key}.pullPolicy": "Never"}
    installed = subprocess.run(
        [
            str(helm), "install", RELEASE, str(ROOT / "charts" / "inthegrid"), "--namespace", NAMESPACE,
            "--create-namespace", "--kubeconfig", str(kind_cluster.kubeconfig), "--wait", "--timeout", "20m",
            *(arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if installed.returncode != 0:
        pods = kind_cluster.kubectl("get", "pods", "--namespace", NAMESPACE, "-o", "wide")
        raise AssertionError(f"helm install failed: {installed.stderr.strip()}\n{pods}")
    kind_cluster.kubectl("apply", "--namespace", NAMESPACE, *EXAMPLE_FILES)
    return kind_cluster


def deployments_by_component(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in cluster.get_json("deployments", "--namespace", NAMESPACE)["items"]:
        component = item["metadata"].get("labels", {}).get(COMPONENT, "")
        found.setdefault(component, []).append(item)
    return found


def all_pods_ready(cluster: Cluster) -> list[dict[str, Any]] | None:
    pods = cluster.get_json("pods", "--namespace", NAMESPACE)["items"]
    running = [p for p in pods if p["status"].get("phase") != "Succeeded"]
    components = {p["metadata"].get("labels", {}).get(COMPONENT) for p in running}
    wanted = {"operator", "recorder", "gateway", "nats", "timescaledb", "feed", "calculator"}
    if not wanted <= components or not all(ready(p) for p in running):
        return None
    return running


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


def psql(cluster: Cluster, query: str) -> str:
    # The database pod's own socket (local connections are trusted inside the pod).
    return cluster.kubectl(
        "exec", "--namespace", NAMESPACE, "inthegrid-timescaledb-0", "--", "psql", "-h", "/var/run/postgresql",
        "-U", "inthegrid", "-d", "inthegrid", "-tAc", query,
    ).strip()  # fmt: skip


def zones_in_database(cluster: Cluster) -> set[str] | None:
    try:
        zones = set(psql(cluster, "SELECT DISTINCT zone FROM prices").split())
    except AssertionError:  # the recorder has not created the table yet
        return None
    return zones if zones >= ZONES else None


def test_prices_flow_from_the_feed_through_nats_and_the_calculator_to_the_database(platform: Cluster) -> None:
    assert (
        platform.wait_until("all five zones' prices in TimescaleDB", lambda: zones_in_database(platform))
        >= ZONES
    )
    platform.wait_until(
        "an opportunity recorded from the calculator",
        lambda: int(psql(platform, "SELECT count(*) FROM opportunity_events") or 0) > 0,
    )


@contextmanager
def gateway_client(cluster: Cluster) -> Iterator[httpx.Client]:
    secret = cluster.get_json("secret", "inthegrid-api-keys", "--namespace", NAMESPACE)
    key = base64.b64decode(secret["data"]["apiKeys"]).decode().split(",")[0].strip()
    forward = subprocess.Popen(
        [
            str(cluster.kubectl_binary), "--kubeconfig", str(cluster.kubeconfig), "port-forward",
            "--namespace", NAMESPACE, "service/inthegrid-gateway", ":80",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None
        first = forward.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> 8000"
        match = re.search(r"127\.0\.0\.1:(\d+)", first)
        assert match, f"port-forward said {first!r}"
        with httpx.Client(
            base_url=f"http://127.0.0.1:{match.group(1)}", headers={"X-API-Key": key}, timeout=30.0
        ) as client:
            yield client
    finally:
        forward.terminate()
        forward.wait(timeout=30)


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


def test_uninstalling_and_deleting_the_namespace_leave_nothing_behind(platform: Cluster) -> None:
    """Last in this module: the examples deleted, `helm uninstall`, the namespace deleted. Nothing of the
    release is left, cluster-wide included; only the CRDs stay, as helm leaves every chart's crds/."""
    platform.kubectl("delete", "--namespace", NAMESPACE, "--wait=true", *EXAMPLE_FILES)
    platform.wait_until(
        "the operator's Deployments gone with their resources",
        lambda: not (deployments_by_component(platform).keys() & {"feed", "calculator"}),
    )
    helm = tool("helm")
    assert helm is not None
    uninstalled = subprocess.run(
        [str(helm), "uninstall", RELEASE, "--namespace", NAMESPACE, "--kubeconfig", str(platform.kubeconfig),
         "--wait", "--timeout", "10m"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert uninstalled.returncode == 0, uninstalled.stderr
    platform.kubectl("delete", "namespace", NAMESPACE, "--wait=true", timeout=900)
    selector = f"app.kubernetes.io/instance={RELEASE}"
    leftovers = platform.kubectl(
        "get", "clusterroles,clusterrolebindings,persistentvolumes", "-l", selector, "-o", "name"
    )
    assert leftovers.strip() == ""

    def volumes_released() -> bool:  # the provisioner deletes a claim's volume after the claim
        volumes = platform.get_json("persistentvolumes")["items"]
        return not [v for v in volumes if v["spec"].get("claimRef", {}).get("namespace") == NAMESPACE]

    platform.wait_until("the release's volumes deleted", volumes_released)
    assert NAMESPACE not in platform.kubectl("get", "namespaces", "-o", "name").split()
