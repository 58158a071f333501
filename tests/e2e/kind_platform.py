"""The platform installed on the kind cluster once for every kind test module (the `platform`
fixture in conftest.py): `kind load docker-image` of the images built here, `helm install` of
charts/inthegrid (its bundled NATS, TimescaleDB and Prometheus, with the images built here in place
of public ones), then the proof of concept's MarketFeed and ArbitrageRule from k8s/examples/; and
what the tests ask of it (pods, Deployments, psql in the database pod, port-forwards)."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.e2e import docker
from tests.e2e.kind_cluster import ROOT, Cluster, script_output, tool
from tests.e2e.nats_image import nats_image_version

NAMESPACE = "inthegrid"
RELEASE = "inthegrid"  # the chart's fullname is then "inthegrid"
EXAMPLES = ("marketfeed-proof-of-concept.yaml", "arbitragerule-proof-of-concept.yaml")
EXAMPLE_FILES = [arg for name in EXAMPLES for arg in ("-f", str(ROOT / "k8s" / "examples" / name))]
ZONES = {"DE-LU", "FR", "NL", "BE", "AT"}
COMPONENT = "app.kubernetes.io/component"
# Every pod of the release and of the examples, by component.
COMPONENTS = {"operator", "recorder", "gateway", "nats", "timescaledb", "prometheus", "feed", "calculator"}


def ready(item: dict[str, Any]) -> bool:
    conditions = item.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def helm(cluster: Cluster, *args: str) -> None:
    binary = tool("helm")
    assert binary is not None, "helm not built (scripts/build-k8s-tools.sh)"
    done = subprocess.run(
        [str(binary), *args, "--namespace", NAMESPACE, "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pods = cluster.kubectl("get", "pods", "--namespace", NAMESPACE, "-o", "wide")
        raise AssertionError(f"helm {args[0]} failed: {done.stderr.strip()}\n{pods}")


def image_settings(key: str, image: str) -> list[str]:
    """`--set` arguments that make the chart run ``image`` (loaded into the nodes, never pulled)."""
    repository, tag = image.rsplit(":", 1)
    settings = {f"{key}.repository": repository, f"{key}.tag": tag, f"{key}.pullPolicy": "Never"}
    return [arg for setting, value in settings.items() for arg in ("--set", f"{setting}={value}")]


def install(cluster: Cluster) -> Cluster:
    images = {
        "image": docker.VARIANTS["full"],
        "nats.image": f"{docker.NATS_REPOSITORY}:{nats_image_version()}",
        "database.bundled.image": script_output("build-timescaledb-image.sh", "--name"),
        "monitoring.prometheus.bundled.image": script_output("build-prometheus-image.sh", "--name"),
    }
    for image in images.values():
        if docker.image_config(image) is None:
            pytest.skip(f"image {image} not built (make image kind-node)")
        cluster.load_image(image)
    helm(
        cluster, "install", RELEASE, str(ROOT / "charts" / "inthegrid"), "--create-namespace",
        "--wait", "--timeout", "20m", "--set", "monitoring.prometheus.bundled.enabled=true",
        *(arg for key, image in images.items() for arg in image_settings(key, image)),
    )  # fmt: skip
    cluster.kubectl("apply", "--namespace", NAMESPACE, *EXAMPLE_FILES)
    return cluster


def deployments_by_component(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in cluster.get_json("deployments", "--namespace", NAMESPACE)["items"]:
        component = item["metadata"].get("labels", {}).get(COMPONENT, "")
        found.setdefault(component, []).append(item)
    return found


def running_pods(cluster: Cluster) -> list[dict[str, Any]]:
    pods = cluster.get_json("pods", "--namespace", NAMESPACE)["items"]
    return [p for p in pods if p["status"].get("phase") != "Succeeded"]


def all_pods_ready(cluster: Cluster, expected: set[str] = COMPONENTS) -> list[dict[str, Any]] | None:
    running = running_pods(cluster)
    components = {p["metadata"].get("labels", {}).get(COMPONENT) for p in running}
    if not components >= expected or not all(ready(p) for p in running):
        return None
    return running


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


@contextmanager
def port_forward(cluster: Cluster, service: str, port: int) -> Iterator[str]:
    """``kubectl port-forward`` to a Service on a free local port; yields its base URL."""
    forward = subprocess.Popen(
        [
            str(cluster.kubectl_binary), "--kubeconfig", str(cluster.kubeconfig), "port-forward",
            "--namespace", NAMESPACE, f"service/{service}", f":{port}",
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
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        forward.terminate()
        forward.wait(timeout=30)


def api_key(cluster: Cluster) -> str:
    secret = cluster.get_json("secret", "inthegrid-api-keys", "--namespace", NAMESPACE)
    return base64.b64decode(secret["data"]["apiKeys"]).decode().split(",")[0].strip()


@contextmanager
def gateway_client(cluster: Cluster) -> Iterator[httpx.Client]:
    with (
        port_forward(cluster, "inthegrid-gateway", 80) as url,
        httpx.Client(base_url=url, headers={"X-API-Key": api_key(cluster)}, timeout=30.0) as client,
    ):
        yield client
