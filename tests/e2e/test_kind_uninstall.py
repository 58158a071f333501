"""Last of the kind tier (conftest.py orders it so): the examples deleted, `helm uninstall`, the
namespace deleted. Nothing of the release is left, cluster-wide included; only the CRDs stay, as helm
leaves every chart's crds/."""

from __future__ import annotations

import pytest

from tests.e2e.kind_cluster import Cluster
from tests.e2e.kind_platform import EXAMPLE_FILES, NAMESPACE, RELEASE, deployments_by_component, helm

pytestmark = pytest.mark.kind


def test_uninstalling_and_deleting_the_namespace_leave_nothing_behind(platform: Cluster) -> None:
    platform.kubectl("delete", "--namespace", NAMESPACE, "--wait=true", *EXAMPLE_FILES)
    platform.wait_until(
        "the operator's Deployments gone with their resources",
        lambda: not (deployments_by_component(platform).keys() & {"feed", "calculator"}),
    )
    helm(platform, "uninstall", RELEASE, "--wait", "--timeout", "10m")
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
