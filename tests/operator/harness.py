"""The operator as a real child process under its own ServiceAccount, plus kubectl helpers.

A subprocess (not kopf's KopfRunner thread) because KUBECONFIG is process-wide: the operator must
hold only the chart's RBAC while the tests act as admin.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inthegrid.local.embedded import free_port
from tests.support.envtest import EnvTest
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
CHART_RBAC = ROOT / "charts" / "inthegrid" / "templates" / "operator-rbac.yaml"
CRDS = ROOT / "charts" / "inthegrid" / "crds"
EXAMPLES = ROOT / "k8s" / "examples"
OPERATOR_NAMESPACE = "inthegrid-system"
OPERATOR_SA = "inthegrid-operator"
IMAGE = "registry.test/inthegrid:0.0.0-test"
NATS_URL = "nats://nats.inthegrid-system:4222"
# Objects unchanged over this long count as settled (the controllers write within a second).
SETTLE_SECONDS = 2.0


def install_crds(env: EnvTest) -> None:
    """Apply the chart's CRDs and wait until the API server serves them."""
    env.kubectl("apply", "-f", str(CRDS))
    env.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/marketfeeds.inthegrid.io",
        "crd/arbitragerules.inthegrid.io",
    )


def render_rbac(helm: Path, namespace: str, service_account: str) -> str:
    """The chart's RBAC template rendered by real helm (in a throwaway chart holding only it, so
    the test does not depend on the rest of the chart)."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "rbac"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: inthegrid\nversion: 0.0.0\n")
        shutil.copy(CHART_RBAC, chart / "templates" / CHART_RBAC.name)
        out = subprocess.run(
            [
                str(helm),
                "template",
                "inthegrid",
                str(chart),
                "--namespace",
                namespace,
                "--set",
                f"operator.serviceAccountName={service_account}",
                # The harness runs one operator for namespaces of every test (the chart's default is
                # its own namespace only).
                "--set",
                "operator.clusterWide=true",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout


def get_json(env: EnvTest, *args: str) -> Any:
    return json.loads(env.kubectl("get", *args, "-o", "json").stdout)


def get_or_none(env: EnvTest, *args: str) -> Any:
    proc = env.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


class OperatorProcess:
    """``python -m inthegrid.cli operator -A`` with the ServiceAccount's kubeconfig."""

    def __init__(self, kubeconfig: Path, log_path: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTHEGRID_")}
        env.update(
            {
                "KUBECONFIG": str(self.kubeconfig),
                "INTHEGRID_IMAGE": IMAGE,
                "INTHEGRID_NATS_URL": NATS_URL,
                "INTHEGRID_OPERATOR_METRICS_PORT": str(self.metrics_port),
                "INTHEGRID_OPERATOR_LIVENESS_PORT": str(self.liveness_port),
            }
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "inthegrid.cli",
                    "operator",
                    "--all-namespaces",
                    "--log-format",
                    "plain",
                    "--liveness",
                    f"http://127.0.0.1:{self.liveness_port}/healthz",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        # Not serving yet is "not yet"; an exited operator (RuntimeError) fails at once, with its log.
        wait_until(
            self.alive, timeout, "operator liveness", every=0.2, retry_on=(OSError,), describe=self.log_tail
        )
        return self

    def alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"operator exited:\n{self.log_tail()}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2) as r:
            return bool(r.status == 200)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.metrics_port, self.liveness_port = free_port(), free_port()
        self.start()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not (line.startswith(name + "{") or line.startswith(name + " ")):
                continue
            head, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for(fn: Any, operator: OperatorProcess, timeout: float = 30.0, what: str = "condition") -> Any:
    """The one polling helper, with the operator's log in the failure message."""
    return wait_until(fn, timeout, what, every=0.25, retry_on=(Exception,), describe=operator.log_tail)


def mark_pods_ready(env: EnvTest, namespace: str, selector: str) -> int:
    """No kubelet here: report the pods Running and Ready through the status subresource, so the
    ReplicaSet and Deployment controllers compute readiness as they would in a cluster."""
    pods = get_json(env, "pods", "-n", namespace, "-l", selector)["items"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = [{"type": t, "status": "True", "lastTransitionTime": now} for t in ("Ready", "ContainersReady")]
    for pod in pods:
        env.kubectl(
            "patch",
            "pod",
            pod["metadata"]["name"],
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"phase": "Running", "conditions": ready}}),
        )
    return len(pods)


def settle(
    versions: Callable[[], dict[str, str]], operator: OperatorProcess, timeout: float, what: str
) -> dict[str, str]:
    """The objects' resource versions once two snapshots ``SETTLE_SECONDS`` apart are equal: the
    controllers (and the operator) have stopped writing."""
    snapshots = [versions()]

    def settled() -> bool:
        time.sleep(SETTLE_SECONDS)
        snapshots.append(versions())
        return snapshots[-1] == snapshots[-2]

    wait_for(settled, operator, timeout=timeout, what=what)
    return snapshots[-1]


def assert_a_restart_changes_nothing(
    operator: OperatorProcess,
    versions: Callable[[], dict[str, str]],
    resources: int,
    *,
    kill: bool = False,
    timeout: float = 60.0,
) -> float:
    """Restart the operator (SIGKILL first when ``kill``) once the namespace has settled, wait until
    it has resumed all ``resources`` and everything has settled again, and assert that no object
    changed. Returns the seconds from the restart to the last resume."""
    before = settle(versions, operator, timeout, "the namespace to settle before the restart")
    if kill:
        assert operator.process is not None
        operator.process.send_signal(signal.SIGKILL)
        assert operator.process.wait(timeout=10) == -signal.SIGKILL
        operator.process = None
    restarted = time.monotonic()
    operator.restart()
    wait_for(
        lambda: operator.metric("inthegrid_operator_reconciles_total") >= resources,
        operator,
        timeout=timeout,
        what="every resource resumed after the restart",
    )
    resumed_after = time.monotonic() - restarted
    # Whatever a resume writes (status, children) lands within the next settling window.
    after = settle(versions, operator, timeout, "the namespace to settle after the restart")
    changed = {
        k: (before.get(k), after.get(k))
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k)
    }
    assert not changed, f"changed by a restart: {changed}\n{operator.log_tail()}"
    return resumed_after
