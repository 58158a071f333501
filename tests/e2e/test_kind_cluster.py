"""A kind cluster from the node image built here (issue #12, section 2): `kind create cluster
--config k8s/kind-cluster.yaml` reaches a Ready node with the control plane, kube-proxy and CoreDNS
running from images built here, and `kind load docker-image inthegrid:dev` (as the README tells
users) gives the node an image a pod then runs as non-root on a read-only root filesystem, resolving
a Service name through CoreDNS over the pod network."""

from __future__ import annotations

import json

import pytest

from tests.e2e import docker
from tests.e2e.kind_cluster import Cluster

pytestmark = pytest.mark.kind


# Prints the uid and the address CoreDNS gives the API server's Service name.
RESOLVE = (
    "import os, socket; print(os.getuid(), socket.gethostbyname('kubernetes.default.svc.cluster.local'))"
)


def ready(item: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"].get("conditions", []))


def test_the_node_is_ready_with_the_control_plane_and_coredns(kind_cluster: Cluster) -> None:
    nodes = kind_cluster.get_json("nodes")["items"]
    assert len(nodes) == 1
    node = nodes[0]
    assert ready(node)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.13"

    wanted = ("coredns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-proxy", "kube-scheduler")

    def system_pods_ready() -> list[str] | None:
        pods = kind_cluster.get_json("pods", "--namespace", "kube-system")["items"]
        names = sorted(p["metadata"]["name"] for p in pods if ready(p))
        return names if all(any(n.startswith(f"{w}-") for n in names) for w in wanted) else None

    kind_cluster.wait_until("the kube-system pods to be Ready", system_pods_ready)

    def coredns_available() -> dict | None:
        coredns = kind_cluster.get_json("deployment", "coredns", "--namespace", "kube-system")
        return coredns if coredns["status"].get("readyReplicas") == coredns["spec"]["replicas"] else None

    coredns = kind_cluster.wait_until("every CoreDNS replica to be Ready", coredns_available)
    # The images are the ones built here, under the names kubeadm asks for.
    images = {c["image"] for c in coredns["spec"]["template"]["spec"]["containers"]}
    assert images == {"registry.k8s.io/coredns/coredns:v1.12.0"}


def test_a_loaded_image_runs_as_non_root_and_resolves_a_service_through_coredns(
    kind_cluster: Cluster,
) -> None:
    image = docker.VARIANTS["full"]
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (make image)")
    kind_cluster.load_image(image)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "dns-probe", "namespace": "default"},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", RESOLVE],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    kind_cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))

    def finished() -> str | None:
        phase = kind_cluster.get_json("pod", "dns-probe", "--namespace", "default")["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = kind_cluster.wait_until("the probe pod to finish", finished)
    logs = kind_cluster.kubectl("logs", "dns-probe", "--namespace", "default").split()
    assert phase == "Succeeded", logs
    service_ip = kind_cluster.get_json("service", "kubernetes", "--namespace", "default")["spec"]["clusterIP"]
    assert logs == ["10001", service_ip]
    kind_cluster.kubectl("delete", "pod", "dns-probe", "--namespace", "default", "--wait=false")
