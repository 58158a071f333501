"""`helm upgrade` to a new image tag (the same image loaded under a second tag) rolls every component
that runs the InTheGrid image: the chart's Deployments and the operator's children (the restarted
operator re-renders the feed and calculator Deployments with the image it is now told), all Ready
again on the new tag. NATS, the database and Prometheus keep their own images."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import docker
from tests.e2e.kind_cluster import ROOT, Cluster
from tests.e2e.kind_platform import (
    COMPONENT,
    RELEASE,
    all_pods_ready,
    deployments_by_component,
    helm,
    image_settings,
)

pytestmark = pytest.mark.kind

# The components that run the InTheGrid image.
ROLLED = {"operator", "recorder", "gateway", "feed", "calculator"}


@pytest.fixture
def upgraded_image(platform: Cluster) -> Iterator[str]:
    repository = docker.VARIANTS["full"].rsplit(":", 1)[0]
    image = f"{repository}:e2e-upgrade-{platform.name}"  # per cluster: concurrent runs do not share it
    subprocess.run(["docker", "tag", docker.VARIANTS["full"], image], check=True)
    try:
        platform.load_image(image)
        yield image
    finally:
        subprocess.run(["docker", "image", "rm", image], capture_output=True)  # the tag only


def rolled_out(deployment: dict[str, Any]) -> bool:
    status, replicas = deployment["status"], deployment["spec"].get("replicas", 1)
    return (
        status.get("observedGeneration") == deployment["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == replicas
        and status.get("readyReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas  # no old pod left
    )


def on_image(cluster: Cluster, image: str) -> dict[str, list[dict[str, Any]]] | None:
    """The rolled components' Deployments when each runs ``image``, rolled out, every pod Ready."""
    found = {c: d for c, d in deployments_by_component(cluster).items() if c in ROLLED}
    if found.keys() != ROLLED:
        return None
    for deployments in found.values():
        for deployment in deployments:
            images = {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
            if images != {image} or not rolled_out(deployment):
                return None
    pods = all_pods_ready(cluster)
    if pods is None:
        return None
    rolled_pods = [p for p in pods if p["metadata"].get("labels", {}).get(COMPONENT) in ROLLED]
    if any({c["image"] for c in p["spec"]["containers"]} != {image} for p in rolled_pods):
        return None
    return found


def test_helm_upgrade_to_a_new_image_tag_rolls_every_component_and_the_operators_children(
    platform: Cluster, upgraded_image: str
) -> None:
    others = {
        c: {x["image"] for d in ds for x in d["spec"]["template"]["spec"]["containers"]}
        for c, ds in deployments_by_component(platform).items()
        if c not in ROLLED
    }
    helm(
        platform, "upgrade", RELEASE, str(ROOT / "charts" / "inthegrid"), "--reuse-values", "--wait",
        "--timeout", "20m", *image_settings("image", upgraded_image),
    )  # fmt: skip
    found = platform.wait_until(
        f"every component on {upgraded_image}, rolled out and Ready",
        lambda: on_image(platform, upgraded_image),
    )
    assert found["feed"] and found["calculator"]
    operator_env = {
        e["name"]: e.get("value")
        for e in found["operator"][0]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert operator_env["INTHEGRID_IMAGE"] == upgraded_image
    after = {
        c: {x["image"] for d in ds for x in d["spec"]["template"]["spec"]["containers"]}
        for c, ds in deployments_by_component(platform).items()
        if c not in ROLLED
    }
    assert after == others  # Prometheus untouched
