"""SIGKILL of the operator in the middle of reconciling many resources, then restart (issue 7).

Eighty resources (forty MarketFeeds and forty ArbitrageRules, copies of k8s/examples under distinct
names) are applied at once; the operator is killed with SIGKILL while it is still working through
them, started again, and must converge: exactly the expected children, owned by the right parents,
every status Reconciled at the current generation, no kopf progress left behind. The time from the
restart to everything reconciled is measured and printed. A further SIGKILL and restart, once all is
settled, must change nothing at all.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from inthegrid.domain.rules import parse_rule_spec
from inthegrid_operator import GROUP
from inthegrid_operator.render import CONFIG_HASH_ANNOTATION, feed_deployment_name, render_feed_deployment
from inthegrid_operator.render_calculator import (
    calculator_deployment_name,
    render_calculator_deployment,
    render_rule_configmap,
    rule_configmap_name,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec, split_rule_spec
from tests.operator.harness import (
    EXAMPLES,
    IMAGE,
    NATS_URL,
    OperatorProcess,
    assert_a_restart_changes_nothing,
    condition,
    wait_for,
)
from tests.support.envtest import EnvTest

pytestmark = pytest.mark.operator

NS = "operator-crash"
COPIES_PER_KIND = 40
#: Kill once this many children exist: early enough that most of the work is still to do.
KILL_AT_CHILDREN = 6
EXPECTED_SETTINGS = OperatorSettings(image=IMAGE, nats_url=NATS_URL)
#: kopf's bookkeeping annotations (main.configure puts them under our group). The diff base and
#: kopf's brand marker stay; anything else under the prefixes is per-handler progress of a reconcile
#: that has not finished.
DIFFBASE = f"{GROUP}/last-handled-configuration"
KOPF_KEEPS = {DIFFBASE, f"{GROUP}/kopf-managed"}
KOPF_PREFIXES = (f"{GROUP}/", "kopf.zalando.org/")
#: What kopf logs when a parent's handler returned (the plain log format names no object).
PARENT_HANDLERS = ("Handler 'marketfeed' succeeded.", "Handler 'arbitragerule' succeeded.")
SYSTEM_CONFIGMAPS = {"kube-root-ca.crt"}  # published into every namespace by the controller manager
CUSTOM = f"/apis/{GROUP}/v1alpha1/namespaces/{NS}"


def _copies() -> list[dict[str, Any]]:
    """COPIES_PER_KIND of each kind, cycling through the example files, each under its own name."""
    examples = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    out: list[dict[str, Any]] = []
    for kind in ("MarketFeed", "ArbitrageRule"):
        of_kind = [m for m in examples if m["kind"] == kind]
        for i in range(COPIES_PER_KIND):
            base = of_kind[i % len(of_kind)]
            out.append(
                {
                    "apiVersion": base["apiVersion"],
                    "kind": kind,
                    "metadata": {"name": f"{base['metadata']['name']}-{i:02d}", "namespace": NS},
                    "spec": base["spec"],
                }
            )
    return out


def _expected_children(manifests: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """{Deployment name: owner name} and {ConfigMap name: owner name}."""
    deployments, configmaps = {}, {}
    for m in manifests:
        name = m["metadata"]["name"]
        if m["kind"] == "MarketFeed":
            deployments[feed_deployment_name(name)] = name
        else:
            deployments[calculator_deployment_name(name)] = name
            configmaps[rule_configmap_name(name)] = name
    return deployments, configmaps


def _list(envtest: EnvTest, path: str) -> list[dict[str, Any]]:
    """A LIST as admin straight over HTTP: fast enough to poll while the operator races."""
    status, body = envtest.api_request("GET", path)
    assert status == 200, (path, body)
    return list(body["items"])


def _deployments(envtest: EnvTest) -> list[dict[str, Any]]:
    return _list(envtest, f"/apis/apps/v1/namespaces/{NS}/deployments")


def _configmaps(envtest: EnvTest) -> list[dict[str, Any]]:
    items = _list(envtest, f"/api/v1/namespaces/{NS}/configmaps")
    return [c for c in items if c["metadata"]["name"] not in SYSTEM_CONFIGMAPS]


def _parents(envtest: EnvTest) -> list[dict[str, Any]]:
    return _list(envtest, f"{CUSTOM}/marketfeeds") + _list(envtest, f"{CUSTOM}/arbitragerules")


def _reconciled(obj: dict[str, Any]) -> bool:
    return condition(obj, "Reconciled").get("status") == "True" and (
        (obj.get("status") or {}).get("observedGeneration") == obj["metadata"]["generation"]
    )


def _sigkill(operator: OperatorProcess) -> None:
    assert operator.process is not None
    operator.process.send_signal(signal.SIGKILL)
    assert operator.process.wait(timeout=10) == -signal.SIGKILL


@pytest.fixture
def crash_namespace(envtest: EnvTest, operator: OperatorProcess) -> Iterator[str]:
    envtest.kubectl("create", "namespace", NS)
    try:
        yield NS
    finally:
        # The parents go now (no finalizers), so later tests that count every resource in the
        # cluster do not count these; the garbage collector removes the children in the background.
        for plural in ("marketfeeds", "arbitragerules"):
            envtest.api_request("DELETE", f"{CUSTOM}/{plural}")  # deletecollection
        envtest.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_sigkill_mid_reconcile_then_restart_converges_exactly(
    envtest: EnvTest, operator: OperatorProcess, crash_namespace: str
) -> None:
    manifests = _copies()
    want_deployments, want_configmaps = _expected_children(manifests)
    total_children = len(want_deployments) + len(want_configmaps)
    log_offset = operator.log_path.stat().st_size

    # All eighty at once (kubectl in a thread) while this thread watches the children appear.
    applied: list[Any] = []
    apply = threading.Thread(
        target=lambda: applied.append(
            envtest.kubectl(
                "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests})
            )
        ),
        daemon=True,
    )
    apply.start()
    deadline = time.monotonic() + 30
    while len(_deployments(envtest)) + len(_configmaps(envtest)) < KILL_AT_CHILDREN:
        assert time.monotonic() < deadline, f"no children appeared\n{operator.log_tail()}"
        time.sleep(0.01)
    _sigkill(operator)
    apply.join(timeout=60)
    assert applied and applied[0].returncode == 0, "kubectl apply did not finish"

    # Requests the API server had already received when the operator died have landed by now.
    time.sleep(1)
    at_kill_children = len(_deployments(envtest)) + len(_configmaps(envtest))
    at_kill = _parents(envtest)
    at_kill_reconciled = sum(_reconciled(p) for p in at_kill)
    at_kill_in_progress = sum(bool(_kopf_progress(p)) for p in at_kill)
    # Status written but kopf's diff base not: killed between the two, inside a handler.
    at_kill_unrecorded = sum(
        _reconciled(p) and DIFFBASE not in (p["metadata"].get("annotations") or {}) for p in at_kill
    )
    # Only this test creates resources while it runs, so every parent handler logged since the
    # apply is one of ours.
    logged = operator.log_path.read_bytes()[log_offset:].decode(errors="replace").splitlines()
    succeeded_before_kill = sum(line.strip() in PARENT_HANDLERS for line in logged)
    print(
        f"\nat the SIGKILL: {at_kill_children}/{total_children} children, "
        f"{at_kill_reconciled}/{len(manifests)} resources Reconciled, "
        f"{succeeded_before_kill} handlers logged as succeeded, "
        f"{at_kill_in_progress} with kopf progress annotations, "
        f"{at_kill_unrecorded} Reconciled but not yet recorded as handled by kopf"
    )
    # Proof that the kill came mid-reconcile: some of the work was done, most of it was not.
    assert 0 < at_kill_children < total_children
    assert at_kill_reconciled < len(manifests) and succeeded_before_kill < len(manifests)

    restarted = time.monotonic()
    operator.restart()  # the killed process is reaped already: this only starts a new one
    live_after = time.monotonic() - restarted

    def converged() -> bool:
        parents = _parents(envtest)
        return (
            len(parents) == len(manifests)
            and all(_reconciled(p) for p in parents)
            and {d["metadata"]["name"] for d in _deployments(envtest)} >= want_deployments.keys()
            and {c["metadata"]["name"] for c in _configmaps(envtest)} >= want_configmaps.keys()
        )

    wait_for(converged, operator, timeout=45, what="every resource reconciled after the restart")
    recovered_after = time.monotonic() - restarted
    print(
        f"recovery: operator live {live_after:.2f} s after the restart, "
        f"all {len(manifests)} resources reconciled {recovered_after:.2f} s after the restart"
    )

    _assert_exact_children(envtest, manifests, want_deployments, want_configmaps)
    _assert_no_kopf_progress_left(envtest)
    _assert_one_replicaset_per_deployment(envtest, operator, len(want_deployments))
    _assert_a_second_restart_changes_nothing(envtest, operator)


def _owner(obj: dict[str, Any]) -> tuple[str, str, str]:
    """The one owner reference of a child: exactly one, the controller, blocking deletion."""
    refs = obj["metadata"].get("ownerReferences") or []
    assert len(refs) == 1, f"{obj['metadata']['name']}: owner references {refs}"
    (ref,) = refs
    assert ref["apiVersion"] == f"{GROUP}/v1alpha1" and ref["controller"] is True
    assert ref["blockOwnerDeletion"] is True
    return ref["kind"], ref["name"], ref["uid"]


def _assert_exact_children(
    envtest: EnvTest,
    manifests: list[dict[str, Any]],
    want_deployments: dict[str, str],
    want_configmaps: dict[str, str],
) -> None:
    parents = {p["metadata"]["name"] + "/" + p["kind"]: p for p in _parents(envtest)}
    deployments = {d["metadata"]["name"]: d for d in _deployments(envtest)}
    configmaps = {c["metadata"]["name"]: c for c in _configmaps(envtest)}
    # No orphans and nothing missing: the children are exactly the expected set.
    assert deployments.keys() == want_deployments.keys()
    assert configmaps.keys() == want_configmaps.keys()

    for m in manifests:
        name, kind = m["metadata"]["name"], m["kind"]
        parent = parents[f"{name}/{kind}"]
        uid = parent["metadata"]["uid"]
        assert _reconciled(parent), parent.get("status")
        spec = parent["spec"]  # as stored: with the schema's defaults, as the operator reads it
        if kind == "MarketFeed":
            deployment_name = feed_deployment_name(name)
            expected = render_feed_deployment(name, NS, parse_feed_spec(spec), EXPECTED_SETTINGS)
        else:
            deployment_name = calculator_deployment_name(name)
            rule, replicas = split_rule_spec(spec)  # the stored spec carries the defaulted replicas
            assert replicas == 1
            cm = render_rule_configmap(name, NS, rule)
            expected = render_calculator_deployment(name, NS, parse_rule_spec(rule), cm, EXPECTED_SETTINGS)
            live_cm = configmaps[rule_configmap_name(name)]
            assert live_cm["data"] == cm["data"], name
            assert _owner(live_cm) == (kind, name, uid)
        live = deployments[deployment_name]
        assert _owner(live) == (kind, name, uid)
        assert parent["status"]["deploymentName"] == deployment_name
        # The spec that was applied last is the spec the resource has (no half-written child).
        annotations = live["spec"]["template"]["metadata"]["annotations"]
        assert (
            annotations[CONFIG_HASH_ANNOTATION]
            == expected["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        ), deployment_name


def _kopf_progress(parent: dict[str, Any]) -> dict[str, str]:
    annotations = parent["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith(KOPF_PREFIXES) and k not in KOPF_KEEPS}


def _assert_no_kopf_progress_left(envtest: EnvTest) -> None:
    for parent in _parents(envtest):
        meta = parent["metadata"]
        annotations = meta.get("annotations") or {}
        stale = _kopf_progress(parent)
        assert not stale, f"{parent['kind']} {meta['name']}: stale kopf progress {stale}"
        assert not meta.get("finalizers"), f"{meta['name']}: finalizers {meta['finalizers']}"
        # kopf recorded the current spec as handled: nothing is pending for a future start.
        handled = json.loads(annotations[DIFFBASE])
        assert handled["spec"] == parent["spec"], meta["name"]


def _assert_one_replicaset_per_deployment(envtest: EnvTest, operator: OperatorProcess, count: int) -> None:
    """A child applied twice with different templates would have rolled out a second ReplicaSet."""
    path = f"/apis/apps/v1/namespaces/{NS}/replicasets"
    started = time.monotonic()
    wait_for(
        lambda: len(_list(envtest, path)) >= count,
        operator,
        timeout=45,
        what="a ReplicaSet for every Deployment (controller manager)",
    )
    print(f"{count} ReplicaSets created in {time.monotonic() - started:.1f} s")
    owners: dict[str, int] = {}
    for rs in _list(envtest, path):
        (ref,) = rs["metadata"]["ownerReferences"]
        owners[ref["name"]] = owners.get(ref["name"], 0) + 1
    assert len(owners) == count and set(owners.values()) == {1}, owners


def _versions(envtest: EnvTest) -> dict[str, str]:
    # Items of a LIST of built-in kinds carry no "kind": key them by the list they came from.
    lists = {
        "marketfeed": _list(envtest, f"{CUSTOM}/marketfeeds"),
        "arbitragerule": _list(envtest, f"{CUSTOM}/arbitragerules"),
        "deployment": _deployments(envtest),
        "configmap": _configmaps(envtest),
        "replicaset": _list(envtest, f"/apis/apps/v1/namespaces/{NS}/replicasets"),
    }
    return {
        f"{kind}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for kind, items in lists.items()
        for o in items
    }


def _assert_a_second_restart_changes_nothing(envtest: EnvTest, operator: OperatorProcess) -> None:
    # The controller manager is still creating pods and updating Deployment status: let it settle,
    # so any change seen afterwards is the operator's.
    everything = len(_list(envtest, f"/apis/{GROUP}/v1alpha1/marketfeeds")) + len(
        _list(envtest, f"/apis/{GROUP}/v1alpha1/arbitragerules")
    )
    resumed_after = assert_a_restart_changes_nothing(
        operator, lambda: _versions(envtest), everything, kill=True
    )
    print(f"second restart: {everything} resources resumed in {resumed_after:.2f} s, nothing changed")
