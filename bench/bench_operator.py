"""Operator benchmark against a real kube-apiserver: reconcile latency and the operator's CPU/memory.

    .venv/bin/python bench/bench_operator.py [--feeds 200] [--rules 200] [--out FILE.json]

Latency = a resource's create call returned -> its child Deployment is seen on a watch (kubectl
get --watch-only). Phase 1 creates a few resources at a slow pace (latency without load); phase 2
creates the rest in a burst. Then: CPU and RSS of the operator process (psutil) during the burst,
at rest, and how long a restarted operator takes to resume everything (its reconcile counter).
The operator runs as `inthegrid operator` under its ServiceAccount with the chart's RBAC.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.operator.harness import (  # noqa: E402
    OPERATOR_NAMESPACE,
    OPERATOR_SA,
    OperatorProcess,
    install_crds,
    render_rbac,
)
from tests.support.envtest import EnvTest, find_tools_bin_dir  # noqa: E402
from tests.support.polling import wait_until  # noqa: E402

NS = "bench"
ZONES = ["DE-LU", "FR", "NL", "BE", "AT", "CH", "PL", "CZ"]


def _feed(i: int) -> dict[str, Any]:
    zones = [ZONES[i % len(ZONES)], ZONES[(i + 1) % len(ZONES)]]
    return {
        "apiVersion": "inthegrid.io/v1alpha1",
        "kind": "MarketFeed",
        "metadata": {"name": f"feed-{i:03d}"},
        "spec": {"zones": zones, "source": "simulator", "simulator": {"seed": i}},
    }


def _rule(i: int) -> dict[str, Any]:
    zones = [ZONES[i % len(ZONES)], ZONES[(i + 3) % len(ZONES)], ZONES[(i + 5) % len(ZONES)]]
    return {
        "apiVersion": "inthegrid.io/v1alpha1",
        "kind": "ArbitrageRule",
        "metadata": {"name": f"rule-{i:03d}"},
        "spec": {"zones": zones, "costModel": {"flatCostEurPerMWh": 2.5 + i / 100}},
    }


class DeploymentWatch:
    """First time each Deployment name appears on a kubectl watch."""

    def __init__(self, env: EnvTest) -> None:
        assert env.kubectl_path is not None
        self.seen: dict[str, float] = {}
        self._proc = subprocess.Popen(
            [
                str(env.kubectl_path),
                f"--kubeconfig={env.admin_kubeconfig}",
                "get",
                "deployments",
                "-n",
                NS,
                "--watch-only",
                "-o",
                "name",
                "--request-timeout=0",
            ],
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            name = line.strip().rpartition("/")[2]
            self.seen.setdefault(name, time.monotonic())

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


def _create(env: EnvTest, obj: dict[str, Any]) -> float:
    plural = "marketfeeds" if obj["kind"] == "MarketFeed" else "arbitragerules"
    status, body = env.api_request("POST", f"/apis/inthegrid.io/v1alpha1/namespaces/{NS}/{plural}", obj)
    if status != 201:
        raise RuntimeError(f"create {obj['metadata']['name']}: {status} {body}")
    return time.monotonic()


def _child(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"] + ("-feed" if obj["kind"] == "MarketFeed" else "-calculator")


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


class Sampler:
    """Peak RSS of a process, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        self._stop.set()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--paced", type=int, default=20, help="resources created one every 0.5 s first")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        print(reason, file=sys.stderr)
        return 2
    helm = bin_dir / "helm"
    with EnvTest(bin_dir) as env:
        install_crds(env)
        env.kubectl("create", "namespace", OPERATOR_NAMESPACE)
        env.kubectl("apply", "-f", "-", input=render_rbac(helm, OPERATOR_NAMESPACE, OPERATOR_SA))
        env.kubectl("create", "namespace", NS)
        kubeconfig = env.kubeconfig_for_serviceaccount(OPERATOR_NAMESPACE, OPERATOR_SA)
        assert env.dir is not None
        operator = OperatorProcess(kubeconfig, env.dir / "operator.log").start()
        assert operator.process is not None
        sampler = Sampler(operator.process.pid)
        watch = DeploymentWatch(env)
        time.sleep(1.0)
        idle_rss = sampler.proc.memory_info().rss

        objs = [_feed(i) for i in range(args.feeds)] + [_rule(i) for i in range(args.rules)]
        objs = [o for pair in zip(objs[: args.feeds], objs[args.feeds :], strict=False) for o in pair] + objs[
            2 * min(args.feeds, args.rules) :
        ]
        created: dict[str, float] = {}
        for obj in objs[: args.paced]:
            created[_child(obj)] = _create(env, obj)
            time.sleep(0.5)
        wait_until(
            lambda: all(n in watch.seen for n in created),
            timeout=60,
            what="paced children",
            retry_on=(Exception,),
        )
        paced = [watch.seen[n] - t for n, t in created.items()]

        cpu0, t0 = sampler.cpu_seconds(), time.monotonic()
        burst: dict[str, float] = {}
        for obj in objs[args.paced :]:
            burst[_child(obj)] = _create(env, obj)
        create_seconds = time.monotonic() - t0
        wait_until(
            lambda: all(n in watch.seen for n in burst),
            timeout=600,
            every=0.5,
            what="burst children",
            retry_on=(Exception,),
            describe=operator.log_tail,
        )
        burst_done = max(watch.seen[n] for n in burst)
        total = len(objs)
        wait_until(
            lambda: operator.metric("inthegrid_operator_reconciles_total", result="ok") >= total,
            timeout=600,
            every=0.5,
            what="all reconciled",
            retry_on=(Exception,),
        )
        busy_seconds = time.monotonic() - t0
        cpu_burst = sampler.cpu_seconds() - cpu0
        burst_latency = [watch.seen[n] - t for n, t in burst.items()]

        time.sleep(5)  # let readiness events from the Deployment controller settle
        cpu1 = sampler.cpu_seconds()
        time.sleep(20)
        idle_cpu_share = (sampler.cpu_seconds() - cpu1) / 20
        rss_after = sampler.proc.memory_info().rss
        peak_rss = sampler.peak_rss
        sampler.stop()

        versions_before = {
            d["metadata"]["name"]: d["metadata"]["generation"]
            for d in json.loads(env.kubectl("get", "deployments", "-n", NS, "-o", "json").stdout)["items"]
        }
        t_restart = time.monotonic()
        operator.restart()
        wait_until(
            lambda: operator.metric("inthegrid_operator_reconciles_total", result="ok") >= total,
            timeout=600,
            every=0.5,
            what="resume after restart",
            retry_on=(Exception,),
        )
        resume_seconds = time.monotonic() - t_restart
        versions_after = {
            d["metadata"]["name"]: d["metadata"]["generation"]
            for d in json.loads(env.kubectl("get", "deployments", "-n", NS, "-o", "json").stdout)["items"]
        }
        watch.stop()
        operator.stop()

    result = {
        "resources": {"marketfeeds": args.feeds, "arbitragerules": args.rules},
        "latency_paced": _summary(paced),
        "latency_burst": _summary(burst_latency),
        "burst": {
            "resources": len(burst),
            "create_calls_seconds": round(create_seconds, 2),
            "last_child_after_seconds": round(burst_done - t0, 2),
            "all_reconciled_after_seconds": round(busy_seconds, 2),
            "operator_cpu_seconds": round(cpu_burst, 2),
        },
        "operator_rss_mib": {
            "idle_before": round(idle_rss / 2**20, 1),
            "peak": round(peak_rss / 2**20, 1),
            "after": round(rss_after / 2**20, 1),
        },
        "operator_idle_cpu_share_after": round(idle_cpu_share, 4),
        "restart": {
            "resume_all_seconds": round(resume_seconds, 2),
            # generation moves only when a Deployment's spec changes: the operator's writes, not the
            # Deployment controller's status updates (still rolling pods out for 400 Deployments here)
            "deployment_specs_changed": sum(
                versions_before[k] != versions_after.get(k) for k in versions_before
            ),
        },
        "machine": {"cpus": psutil.cpu_count(), "python": sys.version.split()[0]},
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
