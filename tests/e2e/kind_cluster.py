"""A kind cluster from the node image built here (scripts/build-kind-node-image.sh), created as the
README tells users (`kind create cluster --config k8s/kind-cluster.yaml`, less its host port), with
its own name and kubeconfig so the tests never touch the user's. The kind CLI, kubectl and helm are the binaries the build
scripts cache (scripts/build-kind-cli.sh, scripts/build-k8s-tools.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
TOOLS_DIR = Path(os.environ.get("INTHEGRID_TOOLS_DIR", Path.home() / ".cache" / "inthegrid" / "tools"))
# Overridable so that two runs on one machine (a developer's and CI's) do not delete each other's cluster.
CLUSTER_NAME = os.environ.get("INTHEGRID_E2E_KIND_CLUSTER", "inthegrid-e2e")
# Generous: the machine is shared and slow; every wait ends as soon as its condition holds.
CREATE_TIMEOUT = "10m"
WAIT_SECONDS = 600.0


def script_output(script: str, *args: str) -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/{script} {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def node_image() -> str:
    return script_output("build-kind-node-image.sh", "--name")


def kind_binary() -> Path | None:
    for line in (ROOT / "tools" / "kind" / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "sigs.k8s.io/kind":
            binary = TOOLS_DIR / f"kind-{parts[1]}" / "kind"
            return binary if binary.is_file() else None
    raise AssertionError("no sigs.k8s.io/kind in tools/kind/go.mod")


def tool(name: str) -> Path | None:
    binary = TOOLS_DIR / "bin" / name
    return binary if binary.exists() else None


@dataclass(frozen=True)
class Cluster:
    name: str
    kind: Path
    kubectl_binary: Path
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = WAIT_SECONDS) -> str:
        done = subprocess.run(
            [str(self.kubectl_binary), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr.strip()}"
        return done.stdout

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def wait_until(self, what: str, check: Any, seconds: float = WAIT_SECONDS) -> Any:
        """Poll ``check`` (returns a truthy result when the condition holds) until it does."""
        deadline = time.monotonic() + seconds
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(1.0)
        raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}; last: {last!r}")

    def load_image(self, image: str) -> None:
        done = subprocess.run(
            [str(self.kind), "load", "docker-image", "--name", self.name, image],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"kind load docker-image {image}: {done.stderr.strip()}"


def config_without_host_ports(directory: Path) -> Path:
    """k8s/kind-cluster.yaml without its host port mappings: the tests reach the cluster through
    port-forwards, and a fixed host port would collide with a user's own cluster on the machine."""
    config = yaml.safe_load((ROOT / "k8s" / "kind-cluster.yaml").read_text())
    for node in config["nodes"]:
        node.pop("extraPortMappings", None)
    path = directory / "kind-cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def create_cluster(image: str, directory: Path) -> Cluster:
    kind = kind_binary()
    kubectl = tool("kubectl")
    assert kind is not None and kubectl is not None, "kind or kubectl not built (make kind-node)"
    delete_cluster(kind)  # a cluster left over by an interrupted run
    kubeconfig = directory / "kubeconfig"
    created = subprocess.run(
        [
            str(kind), "create", "cluster", "--name", CLUSTER_NAME, "--image", image,
            "--config", str(config_without_host_ports(directory)), "--kubeconfig", str(kubeconfig),
            "--wait", CREATE_TIMEOUT,
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if created.returncode != 0:
        delete_cluster(kind)
        raise AssertionError(f"kind create cluster failed:\n{created.stderr[-4000:]}")
    return Cluster(CLUSTER_NAME, kind, kubectl, kubeconfig)


def delete_cluster(kind: Path) -> None:
    subprocess.run([str(kind), "delete", "cluster", "--name", CLUSTER_NAME], capture_output=True)
