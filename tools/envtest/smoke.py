#!/usr/bin/env python3
"""Self-check of tests/support/envtest.py against the binaries of scripts/build-k8s-tools.sh.

    python tools/envtest/smoke.py        (needs `cryptography`; exit 0 = ok, 77 = tools missing)

Starts EnvTest; applies a namespace and a ConfigMap; creates a ServiceAccount + Role +
RoleBinding and checks what the SA's own kubeconfig may do; checks that the controller manager
turns a Deployment into a ReplicaSet and that the garbage collector removes it with the
Deployment; deletes the namespace (namespace controller); stops and checks nothing is left.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.envtest import EnvTest, find_tools_bin_dir, wait_until  # noqa: E402

NS = "smoke"

MANIFESTS = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {NS}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello
  namespace: {NS}
data:
  greeting: hello
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: operator
  namespace: {NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: configmap-reader
  namespace: {NS}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: operator-reads-configmaps
  namespace: {NS}
subjects:
- kind: ServiceAccount
  name: operator
  namespace: {NS}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: configmap-reader
"""

DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NS}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
"""


def step(msg: str) -> None:
    print(f"[smoke] {msg}", flush=True)


def replicasets(env: EnvTest) -> list[dict[str, Any]]:
    out = env.kubectl("get", "replicasets", "-n", NS, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def main() -> int:
    bin_dir, reason = find_tools_bin_dir()
    if bin_dir is None:
        print(f"[smoke] SKIP: {reason}")
        return 77
    t0 = time.monotonic()
    env = EnvTest(bin_dir)
    with env:
        step(f"started {env.server} in {env.startup_seconds:.1f} s (bin dir {bin_dir})")
        step(f"kubectl {env.kubectl_path}")
        version = json.loads(env.kubectl("version", "-o", "json").stdout)
        server_v, client_v = version["serverVersion"], version["clientVersion"]
        step(f"server version {server_v['gitVersion']}, client {client_v['gitVersion']}")

        env.kubectl("apply", "-f", "-", input=MANIFESTS)
        cm = json.loads(env.kubectl("get", "configmap", "hello", "-n", NS, "-o", "json").stdout)
        assert cm["data"] == {"greeting": "hello"}, cm
        step("namespace, ConfigMap, ServiceAccount, Role, RoleBinding applied")

        sa_kc = env.kubeconfig_for_serviceaccount(NS, "operator")
        assert sa_kc.is_file() and "certificate-authority-data" in sa_kc.read_text()
        who = env.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=sa_kc)
        assert who.stdout == f"system:serviceaccount:{NS}:operator", who.stdout
        can = env.kubectl("auth", "can-i", "get", "configmaps", "-n", NS, kubeconfig=sa_kc, check=False)
        assert can.returncode == 0 and can.stdout.strip() == "yes", can
        cannot = env.kubectl("auth", "can-i", "delete", "configmaps", "-n", NS, kubeconfig=sa_kc, check=False)
        assert cannot.returncode == 1 and cannot.stdout.strip() == "no", cannot
        other_ns = env.kubectl(
            "auth", "can-i", "get", "configmaps", "-n", "default", kubeconfig=sa_kc, check=False
        )
        assert other_ns.stdout.strip() == "no", other_ns
        got = env.kubectl("get", "configmap", "hello", "-o", "jsonpath={.data.greeting}", kubeconfig=sa_kc)
        assert got.stdout == "hello", got
        denied = env.kubectl("get", "secrets", kubeconfig=sa_kc, check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr, denied
        step("ServiceAccount kubeconfig: whoami ok, can-i yes/no as granted, RBAC enforced")

        env.kubectl("apply", "-f", "-", input=DEPLOYMENT)
        rs = wait_until(lambda: replicasets(env), timeout=30, message="a ReplicaSet for Deployment web")
        owner = rs[0]["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "Deployment" and owner["name"] == "web", owner
        pods = wait_until(
            lambda: json.loads(env.kubectl("get", "pods", "-n", NS, "-o", "json").stdout)["items"],
            timeout=30,
            message="a Pod from ReplicaSet",
        )
        rs_name, pod_name = rs[0]["metadata"]["name"], pods[0]["metadata"]["name"]
        step(f"deployment controller made ReplicaSet {rs_name} -> Pod {pod_name} (Pending: no scheduler)")

        env.kubectl("delete", "deployment", "web", "-n", NS, "--wait=true")
        wait_until(lambda: not replicasets(env), timeout=60, message="GC to delete the ReplicaSet")
        step("garbage collector removed the ReplicaSet after the Deployment was deleted")

        env.kubectl("delete", "namespace", NS, "--wait=true", timeout=120)
        gone = env.kubectl("get", "namespace", NS, check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr, gone
        step("namespace controller finalised the namespace")

        procs = [p for _, p in env._procs]
        tmp = env.dir
        t_stop0 = time.monotonic()
    t_stop = time.monotonic()
    assert all(p.poll() is not None for p in procs), "processes still running after stop()"
    assert tmp is not None and not tmp.exists(), f"{tmp} not removed"
    step(f"stopped cleanly in {t_stop - t_stop0:.1f} s; total {t_stop - t0:.1f} s")
    print("[smoke] OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
