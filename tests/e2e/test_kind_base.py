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


def test_the_node_boots_systemd_and_containerd_runs_an_imported_image(node: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    state = ""
    while time.monotonic() < deadline:
        state = node_exec(node, "systemctl", "is-system-running").stdout.decode().strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.5)
    failed = node_exec(node, "systemctl", "--failed", "--no-legend", "--plain").stdout.decode()
    assert state == "running", f"systemd is {state!r}; failed units:\n{failed}"
    assert node_exec(node, "systemctl", "is-active", "containerd").stdout.decode().strip() == "active"
    # The CRI that kubelet will talk to (through crictl, as kubeadm's preflight does): runtime ready;
    # the network is not, until a CNI configuration exists.
    info = node_exec(node, "crictl", "info")
    assert info.returncode == 0, info.stderr.decode()
    conditions = {c["type"]: c["status"] for c in json.loads(info.stdout)["status"]["conditions"]}
    assert conditions["RuntimeReady"] is True

    image = f"{docker.NATS_REPOSITORY}:{nats_image_version()}"
    if docker.image_config(image) is None:
        pytest.skip(f"image {image} not built (make image)")
    archive = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
    imported = node_exec(node, "ctr", "-n", "k8s.io", "images", "import", "-", stdin=archive)
    assert imported.returncode == 0, imported.stderr.decode()
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
