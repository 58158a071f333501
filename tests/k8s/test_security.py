"""Every container the chart renders, in every values variant, runs restricted: non-root, read-only
root filesystem, no capabilities, no privilege escalation, RuntimeDefault seccomp, resources set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.k8s.chart import VARIANTS, documents, pod_specs, render


def violations(pod: dict[str, Any]) -> list[str]:
    found = []
    pod_sc = pod.get("securityContext", {})
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        found.append("pod: host namespaces")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            found.append(f"volume {volume['name']}: hostPath")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        name = c["name"]

        def setting(key: str, sc: dict[str, Any] = sc) -> Any:
            return sc.get(key, pod_sc.get(key))

        if setting("runAsNonRoot") is not True:
            found.append(f"{name}: runAsNonRoot is not true")
        if setting("runAsUser") in (None, 0):
            found.append(f"{name}: no non-zero runAsUser")
        if sc.get("readOnlyRootFilesystem") is not True:
            found.append(f"{name}: root filesystem writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: privilege escalation allowed")
        if sc.get("privileged"):
            found.append(f"{name}: privileged")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            found.append(f"{name}: capabilities not dropped")
        if sc.get("capabilities", {}).get("add"):
            found.append(f"{name}: capabilities added")
        if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
            found.append(f"{name}: seccomp not RuntimeDefault")
        res = c.get("resources", {})
        for key in ("cpu", "memory"):
            if key not in res.get("requests", {}):
                found.append(f"{name}: no {key} request")
        if "memory" not in res.get("limits", {}):
            found.append(f"{name}: no memory limit")
    return found


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_container_is_restricted(helm: Path, variant: str) -> None:
    pods = list(pod_specs(documents(render(helm, *VARIANTS[variant]))))
    assert pods, "no workloads rendered"
    problems = [f"{where}: {v}" for where, pod in pods for v in violations(pod)]
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_unsafe_container() -> None:
    """The checker itself: a container with nothing set fails on every rule."""
    found = violations(
        {
            "containers": [{"name": "bad", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
            "hostNetwork": True,
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        }
    )
    for text in (
        "host namespaces",
        "hostPath",
        "runAsNonRoot",
        "runAsUser",
        "root filesystem",
        "escalation",
        "capabilities not dropped",
        "capabilities added",
        "seccomp",
        "cpu request",
        "memory limit",
    ):
        assert any(text in f for f in found), text


def test_workloads_need_no_service_account_token(helm: Path) -> None:
    """Only the operator talks to the API server."""
    for where, pod in pod_specs(documents(render(helm))):
        if "operator" not in where:
            assert pod.get("automountServiceAccountToken") is False, where
