"""`skaffold run`, as the README tells users, on the kind cluster (issue #12, section 2): here through
scripts/skaffold.sh (`make skaffold-run`), the skaffold CLI built from its Go module with the profile that
uses images built on this machine. It runs last in the kind tier, once the helm release is gone
(conftest.py orders it so). Skaffold builds the image from the Dockerfile, loads it into the node and
installs the chart with it; the operator hands that same image to the feed and calculator it creates
from the examples; prices reach the database; the gateway answers on the NodePort that
k8s/kind-cluster.yaml maps to localhost; `skaffold delete` removes the release."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.kind_cluster import ROOT, Cluster
from tests.e2e.kind_platform import (
    COMPONENT,
    COMPONENTS,
    EXAMPLE_FILES,
    NAMESPACE,
    ZONES,
    all_pods_ready,
    api_key,
    zones_in_database,
)

pytestmark = pytest.mark.kind

# skaffold.yaml's gateway NodePort, which k8s/kind-cluster.yaml maps to localhost:30080.
NODE_PORT = 30080
# The components that run the project's image (the others: NATS and TimescaleDB built here).
PROJECT_IMAGE_COMPONENTS = {"operator", "recorder", "gateway", "feed", "calculator"}


def skaffold(cluster: Cluster, *args: str) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "skaffold.sh"), *args, "--kubeconfig", str(cluster.kubeconfig)],
        env={**os.environ, "INTHEGRID_KIND_CLUSTER": cluster.name},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"skaffold {args[0]} failed:\n{(done.stdout + done.stderr)[-4000:]}"
    return done.stdout + done.stderr


@pytest.fixture
def tag() -> Iterator[str]:
    tag = f"e2e-{os.getpid()}"
    yield tag
    subprocess.run(["docker", "rmi", f"inthegrid:{tag}"], capture_output=True)


def node_address(cluster: Cluster) -> str:
    inspect = subprocess.run(
        ["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
         f"{cluster.name}-control-plane"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return inspect.stdout.strip()


def test_skaffold_run_builds_the_image_and_installs_the_platform_that_runs_it(
    kind_cluster: Cluster, tag: str
) -> None:
    # Without skaffold's artifact cache, which would reuse an image of the same sources from an earlier
    # run instead of building (Docker's layer cache still makes an unchanged build quick).
    output = skaffold(kind_cluster, "run", "--tag", tag, "--cache-artifacts=false")
    assert "Build [inthegrid] succeeded" in output and "Deployments stabilized" in output
    kind_cluster.kubectl("apply", "--namespace", NAMESPACE, *EXAMPLE_FILES)
    # No bundled Prometheus in skaffold's release (profile `monitoring` is for kube-prometheus-stack).
    expected = COMPONENTS - {"prometheus"}
    pods = kind_cluster.wait_until("every pod Ready", lambda: all_pods_ready(kind_cluster, expected))
    images = {
        pod["metadata"]["labels"][COMPONENT]: {c["image"] for c in pod["spec"]["containers"]}
        for pod in pods
        if pod["metadata"]["labels"].get(COMPONENT) in PROJECT_IMAGE_COMPONENTS
    }
    assert images.keys() == PROJECT_IMAGE_COMPONENTS
    # Skaffold deploys a local build by its image ID (inthegrid:<id>), immutable where a tag is not:
    # every component runs the image just built as inthegrid:<tag>.
    built = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", f"inthegrid:{tag}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().removeprefix("sha256:")  # fmt: skip
    assert all(found == {f"inthegrid:{built}"} for found in images.values()), images
    kind_cluster.wait_until("prices of five zones in the database", lambda: zones_in_database(kind_cluster))

    url = f"http://{node_address(kind_cluster)}:{NODE_PORT}"
    with httpx.Client(base_url=url, headers={"X-API-Key": api_key(kind_cluster)}, timeout=30.0) as gateway:

        def five_zones() -> bool:
            latest = gateway.get("/api/prices/latest").json()
            return latest.get("count") == len(ZONES) and {p["market"] for p in latest["prices"]} == ZONES

        kind_cluster.wait_until("five zones at the gateway's NodePort", five_zones)

    kind_cluster.kubectl("delete", "--namespace", NAMESPACE, "--wait=true", *EXAMPLE_FILES)
    skaffold(kind_cluster, "delete")
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=true", timeout=900)
    assert NAMESPACE not in kind_cluster.kubectl("get", "namespaces", "-o", "name").split()
