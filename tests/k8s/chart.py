"""Helpers of the tests/k8s tests: find helm and promtool, render the chart, walk containers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.envtest import default_tools_dir

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "inthegrid"
RELEASE = "inthegrid"
NAMESPACE = "inthegrid"

# Values that must all render (and stay secure): the default, and the ways users grow out of it.
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "clustered": [
        "--set",
        "nats.replicas=3",
        "--set",
        "database.bundled.replicas=2",
        "--set",
        "gateway.replicas=3",
    ],
    "external": [
        "--set",
        "nats.external.url=nats://nats.messaging:4222",
        "--set",
        "nats.external.streamReplicas=3",
        "--set",
        "database.external.existingSecret=inthegrid-db-url",
    ],
    "monitoring": [
        "--set",
        "monitoring.serviceMonitor.enabled=true",
        "--set",
        "monitoring.prometheusRule.enabled=true",
        "--set",
        "monitoring.prometheus.bundled.enabled=true",
        "--set",
        "entsoe.existingSecret=inthegrid-entsoe-token",
        "--set",
        "gateway.apiKeysSecret=inthegrid-api-keys",
        "--set-json",
        'samples.marketFeeds=[{"name":"sim","spec":{"zones":["DE-LU","FR"]}}]',
        "--set-json",
        'samples.arbitrageRules=[{"name":"poc","spec":{"zones":["DE-LU","FR"]}}]',
    ],
}


def find_helm() -> Path | None:
    """helm on PATH, else the one scripts/build-k8s-tools.sh built."""
    found = shutil.which("helm")
    if found:
        return Path(found)
    built = default_tools_dir() / "bin" / "helm"
    return built if built.is_file() else None


def find_promtool() -> Path | None:
    found = shutil.which("promtool")
    return Path(found) if found else None


def run_helm(helm: Path, *args: str) -> str:
    proc = subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def render(helm: Path, *extra: str) -> str:
    return run_helm(helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def redact_secrets(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Generated passwords differ on every render: replace Secret data by a placeholder."""
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["data"] = {key: "<redacted>" for key in doc.get("data", {})}
    return docs
