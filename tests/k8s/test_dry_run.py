"""The rendered manifests against a real kube-apiserver (tests/support/envtest.py): CRDs applied for
real, every values variant and the dev overlay applied with a server-side dry run, the operator's
RBAC checked with `kubectl auth can-i`, and helm's NOTES rendered against the cluster."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.chart import CHART, NAMESPACE, ROOT, VARIANTS, render
from tests.support.envtest import EnvTest, find_tools_bin_dir

MONITORING_CRDS = Path(__file__).parent / "crds" / "monitoring.coreos.com.yaml"


@pytest.fixture(scope="module")
def cluster() -> Iterator[EnvTest]:
    bin_dir, reason = find_tools_bin_dir(("etcd", "kube-apiserver"))
    if bin_dir is None:
        pytest.skip(reason)
    with EnvTest(bin_dir, controller_manager=False) as env:
        for crds in (CHART / "crds", MONITORING_CRDS):
            env.kubectl("apply", "--server-side", "-f", str(crds))
        env.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        env.kubectl("create", "namespace", NAMESPACE)
        yield env


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_is_accepted_by_the_api_server(cluster: EnvTest, helm: Path, variant: str) -> None:
    manifests = render(helm, *VARIANTS[variant])
    out = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=manifests, check=False
    )
    assert out.returncode == 0, out.stderr
    applied = [line for line in out.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == manifests.count("\nkind: ") + manifests.startswith("kind: "), out.stdout


def test_dev_overlay_is_accepted_by_the_api_server(cluster: EnvTest) -> None:
    overlay = ROOT / "k8s" / "overlays" / "dev"
    out = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-k", str(overlay), check=False)
    assert out.returncode == 0, out.stderr
    assert "marketfeed.inthegrid.io/simulator serverside-applied (server dry run)" in out.stdout


def test_operator_rbac_is_least_privilege(cluster: EnvTest, helm: Path) -> None:
    """Apply the chart's RBAC for real, then ask the API server what the operator may do."""
    rbac = render(helm, "--show-only", "templates/operator-rbac.yaml")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=rbac)
    who = f"--as=system:serviceaccount:{NAMESPACE}:inthegrid-operator"

    def can(*args: str) -> bool:
        out = cluster.kubectl("auth", "can-i", who, *args, check=False)
        return out.stdout.strip() == "yes"

    for allowed in (
        ("watch", "marketfeeds.inthegrid.io"),
        ("patch", "arbitragerules.inthegrid.io"),
        ("patch", "marketfeeds.inthegrid.io", "--subresource=status"),
        ("create", "deployments.apps"),
        # A rule's calculator layout changes with spec.replicas: the old shard Deployments go.
        ("delete", "deployments.apps"),
        ("patch", "configmaps"),
    ):
        assert can(*allowed, "-n", NAMESPACE), allowed
        # Namespace-scoped by default: nothing in another namespace.
        assert not can(*allowed, "-n", "anywhere"), allowed
    for denied in (
        ("get", "secrets"),
        ("deletecollection", "deployments.apps"),
        ("create", "pods"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
        ("delete", "marketfeeds.inthegrid.io"),
    ):
        assert not can(*denied, "-n", NAMESPACE), denied


def test_notes_say_where_things_are(cluster: EnvTest, helm: Path) -> None:
    assert cluster.admin_kubeconfig is not None
    # A release and namespace of their own: the RBAC test created the operator's RBAC for real.
    cluster.kubectl("create", "namespace", "notes")
    out = subprocess.run(
        [
            str(helm),
            "install",
            "notes",
            str(CHART),
            "--dry-run",
            "--namespace",
            "notes",
            "--kubeconfig",
            str(cluster.admin_kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    notes = out.stdout.split("NOTES:", 1)[1]
    for text in (
        "port-forward svc/notes-inthegrid-gateway",
        "/dashboard",
        "svc/notes-inthegrid-recorder-metrics:9100/metrics",
        "grafana_dashboard",
        "nats://notes-inthegrid-nats:4222",
    ):
        assert text in notes, text
