"""A kind node base image built here (scripts/build-kind-base-image.sh) boots as kind boots its
nodes: `docker run --privileged` through the runc-bounded runtime, systemd as PID 1 reaching
`running` with containerd active and its CRI ready for crictl, and containerd inside it runs an
image imported from this engine into its k8s.io namespace, the step that replaces kind's registry
pulls."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import docker
from tests.e2e.nats_image import nats_image_version

ROOT = Path(__file__).parents[2]
WAIT_SECONDS = 120.0


def kind_base_image() -> str:
    for line in (ROOT / "tools" / "kind" / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "sigs.k8s.io/kind":
            return f"inthegrid-kind-base:{parts[1]}-bookworm"
    raise AssertionError("no sigs.k8s.io/kind in tools/kind/go.mod")


def node_exec(node: str, *command: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["docker", "exec", "-i", node, *command], input=stdin, capture_output=True)


@pytest.fixture
def node(engine: None) -> Iterator[str]:
    image = kind_base_image()
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (scripts/build-kind-base-image.sh)")
    name = f"inthegrid-e2e-node-{uuid.uuid4().hex[:8]}"
    # The options kind gives its nodes (pkg/cluster/internal/providers/docker/create.go).
    options = (
        "--detach", "--privileged", "--name", name, "--hostname", name,
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--tmpfs", "/tmp", "--tmpfs", "/run", "--volume", "/var", "--volume", "/lib/modules:/lib/modules:ro",
    )  # fmt: skip
    started = subprocess.run(["docker", "run", *options, image], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True)


def wait_for_systemd(node: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    state = ""
    while time.monotonic() < deadline:
        state = node_exec(node, "systemctl", "is-system-running").stdout.decode().strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.5)
    failed = node_exec(node, "systemctl", "--failed", "--no-legend", "--plain").stdout.decode()
    assert state == "running", f"systemd is {state!r}; failed units:\n{failed}"


def import_image(node: str, image: str) -> None:
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (make image, make kind-base)")
    archive = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
    imported = node_exec(node, "ctr", "-n", "k8s.io", "images", "import", "-", stdin=archive)
    assert imported.returncode == 0, imported.stderr.decode()


def test_the_node_boots_systemd_and_containerd_runs_an_imported_image(node: str) -> None:
    wait_for_systemd(node)
    assert node_exec(node, "systemctl", "is-active", "containerd").stdout.decode().strip() == "active"
    # The CRI that kubelet will talk to (through crictl, as kubeadm's preflight does): runtime ready;
    # the network is not, until a CNI configuration exists.
    info = node_exec(node, "crictl", "info")
    assert info.returncode == 0, info.stderr.decode()
    conditions = {c["type"]: c["status"] for c in json.loads(info.stdout)["status"]["conditions"]}
    assert conditions["RuntimeReady"] is True

    image = f"{docker.NATS_REPOSITORY}:{nats_image_version()}"
    import_image(node, image)
    ran = node_exec(
        node,
        "ctr",
        "-n",
        "k8s.io",
        "run",
        "--rm",
        f"docker.io/library/{image}",
        "probe",
        "nats-server",
        "--version",
    )
    assert ran.returncode == 0, ran.stderr.decode()
    assert ran.stdout.decode().strip() == f"nats-server: v{nats_image_version()}"


# A single-node pod network from the CNI plugins in the base image (what kindnetd would write).
BRIDGE_CNI = {
    "cniVersion": "0.4.0",
    "name": "e2e-bridge",
    "plugins": [
        {
            "type": "bridge",
            "bridge": "cni0",
            "isGateway": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]]},
        },
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}
# What kubelet asks for a pod (systemd cgroup driver: the parent is a slice).
SANDBOX = {
    "metadata": {"name": "e2e", "namespace": "default", "uid": "e2e-uid", "attempt": 0},
    "log_directory": "/tmp",
    "linux": {"cgroup_parent": "e2e.slice"},
}


def test_the_node_runs_a_pod_sandbox_with_a_pod_network(node: str) -> None:
    # The step kubelet takes for every pod: the sandbox (pause) container in its own network
    # namespace. It needs the node's restrict_oom_score_adj on a host without CAP_SYS_RESOURCE.
    wait_for_systemd(node)
    pause = "registry.k8s.io/pause:3.10"
    import_image(node, pause)
    wrote = node_exec(
        node, "sh", "-c", "mkdir -p /etc/cni/net.d && cat > /etc/cni/net.d/10-e2e.conflist",
        stdin=json.dumps(BRIDGE_CNI).encode(),
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr.decode()
    node_exec(node, "sh", "-c", "cat > /tmp/sandbox.json", stdin=json.dumps(SANDBOX).encode())
    ran = node_exec(node, "crictl", "runp", "/tmp/sandbox.json")
    assert ran.returncode == 0, ran.stderr.decode()
    pod_id = ran.stdout.decode().strip()
    status = json.loads(node_exec(node, "crictl", "inspectp", pod_id).stdout)["status"]
    assert status["state"] == "SANDBOX_READY"
    assert status["network"]["ip"].startswith("10.244.0.")
    assert node_exec(node, "crictl", "stopp", pod_id).returncode == 0
    assert node_exec(node, "crictl", "rmp", pod_id).returncode == 0
