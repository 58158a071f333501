"""The operator against a real API server, under only the RBAC the chart ships.

Users act through real kubectl (as admin); the operator runs as its own ServiceAccount.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from inthegrid.domain.rules import parse_rule_spec
from inthegrid_operator.render import CONFIG_HASH_ANNOTATION, render_feed_deployment
from inthegrid_operator.render_calculator import render_calculator_deployment, render_rule_configmap
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec, split_rule_spec
from tests.operator.harness import (
    EXAMPLES,
    IMAGE,
    NATS_URL,
    OPERATOR_NAMESPACE,
    OPERATOR_SA,
    OperatorProcess,
    assert_a_restart_changes_nothing,
    condition,
    get_json,
    get_or_none,
    mark_pods_ready,
    wait_for,
)
from tests.support.envtest import EnvTest

pytestmark = pytest.mark.operator

NS = "examples"
SA = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"
EXPECTED_SETTINGS = OperatorSettings(image=IMAGE, nats_url=NATS_URL)


def _manifests() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]


@pytest.fixture(scope="module")
def examples(envtest: EnvTest, operator: OperatorProcess) -> list[dict[str, Any]]:
    envtest.kubectl("create", "namespace", NS)
    envtest.kubectl("apply", "-n", NS, "-f", str(EXAMPLES))
    manifests = _manifests()
    for m in manifests:
        child = "-feed" if m["kind"] == "MarketFeed" else "-calculator"
        wait_for(
            lambda m=m, child=child: get_or_none(
                envtest, "deployment", m["metadata"]["name"] + child, "-n", NS
            ),
            operator,
            what=f"Deployment of {m['kind']} {m['metadata']['name']}",
        )
    return manifests


def _apply(envtest: EnvTest, manifest: dict[str, Any], namespace: str, check: bool = True) -> Any:
    return envtest.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest), check=check)


def test_operator_holds_only_the_chart_rbac(envtest: EnvTest, operator: OperatorProcess) -> None:
    def can(*args: str) -> bool:
        out = envtest.kubectl("auth", "can-i", *args, f"--as={SA}", check=False).stdout.strip()
        return out == "yes"

    assert can("patch", "deployments", "-n", NS) and can("watch", "marketfeeds.inthegrid.io", "-A")
    assert can("patch", "arbitragerules.inthegrid.io", "--subresource=status", "-n", NS)
    for verb, resource in [
        ("get", "secrets"),
        ("deletecollection", "deployments"),
        ("create", "pods"),
        ("update", "deployments"),
        ("delete", "marketfeeds.inthegrid.io"),
        ("create", "marketfeeds.inthegrid.io"),
        ("list", "configmaps"),
        ("create", "clusterroles"),
    ]:
        assert not can(verb, resource, "-n", NS), f"the operator may {verb} {resource}"


def test_examples_create_the_expected_children(
    envtest: EnvTest, operator: OperatorProcess, examples: list[dict[str, Any]]
) -> None:
    for m in examples:
        name, kind = m["metadata"]["name"], m["kind"]
        owner = get_json(envtest, kind.lower(), name, "-n", NS)
        if kind == "MarketFeed":
            expected = render_feed_deployment(name, NS, parse_feed_spec(m["spec"]), EXPECTED_SETTINGS)
        else:
            # The stored spec carries replicas (the schema defaults it); the ConfigMap holds the rule.
            cm = render_rule_configmap(name, NS, split_rule_spec(owner["spec"])[0])
            expected = render_calculator_deployment(
                name, NS, parse_rule_spec(m["spec"]), cm, EXPECTED_SETTINGS
            )
            live_cm = get_json(envtest, "configmap", f"{name}-rule", "-n", NS)
            assert live_cm["data"] == cm["data"]
            assert _controller(live_cm) == (kind, name, owner["metadata"]["uid"])
        live = get_json(envtest, "deployment", expected["metadata"]["name"], "-n", NS)
        assert _controller(live) == (kind, name, owner["metadata"]["uid"])
        assert expected["metadata"]["labels"].items() <= live["metadata"]["labels"].items()
        (want,), (got,) = (
            expected["spec"]["template"]["spec"]["containers"],
            live["spec"]["template"]["spec"]["containers"],
        )
        assert got["image"] == IMAGE and got["command"] == want["command"]
        assert got["env"] == want["env"]
        for key in ("ports", "resources", "securityContext", "volumeMounts"):
            assert got[key] == want[key], key
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert got[probe]["httpGet"]["path"] == want[probe]["httpGet"]["path"]
            assert got[probe]["httpGet"]["port"] == "metrics"
        pod_spec = live["spec"]["template"]["spec"]
        assert pod_spec["securityContext"]["runAsNonRoot"] is True
        assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert live["spec"]["selector"]["matchLabels"] == expected["spec"]["selector"]["matchLabels"]


def _controller(obj: dict[str, Any]) -> tuple[str, str, str]:
    (ref,) = [r for r in obj["metadata"].get("ownerReferences", []) if r.get("controller")]
    assert ref["apiVersion"] == "inthegrid.io/v1alpha1" and ref["blockOwnerDeletion"] is True
    return ref["kind"], ref["name"], ref["uid"]


def test_conditions_printer_columns_and_events(
    envtest: EnvTest, operator: OperatorProcess, examples: list[dict[str, Any]]
) -> None:
    def reconciled(kind: str, name: str) -> bool:
        obj = get_json(envtest, kind, name, "-n", NS)
        return condition(obj, "Reconciled").get("status") == "True" and (
            obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
        )

    for m in examples:
        wait_for(
            lambda m=m: reconciled(m["kind"].lower(), m["metadata"]["name"]), operator, what="Reconciled"
        )
    obj = get_json(envtest, "mf", "proof-of-concept", "-n", NS)
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "DeploymentProgressing")
    assert ready["observedGeneration"] == obj["metadata"]["generation"] and ready["lastTransitionTime"]
    assert obj["status"]["deploymentName"] == "proof-of-concept-feed"

    wide = envtest.kubectl("get", "mf,ar", "-n", NS, "-o", "wide").stdout
    rows = [line.split() for line in wide.splitlines() if line.strip()]
    lines = {row[0]: row for row in rows if "/" in row[0]}
    header = next(line for line in wide.splitlines() if line.startswith("NAME")).split()
    assert header[:6] == ["NAME", "ZONES", "SOURCE", "READY", "REASON", "DEPLOYMENT"]
    assert lines["marketfeed.inthegrid.io/proof-of-concept"][1:5] == [
        '["DE-LU","FR","NL","BE","AT"]',
        "simulator",
        "False",
        "DeploymentProgressing",
    ]
    assert lines["arbitragerule.inthegrid.io/cwe-interconnected"][1:3] == ["border", "graph"]
    narrow = envtest.kubectl("get", "mf", "-n", NS).stdout.splitlines()[0].split()
    assert narrow == ["NAME", "ZONES", "SOURCE", "READY", "AGE"]  # reason and deployment are wide-only

    events = get_json(
        envtest,
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.kind=ArbitrageRule,involvedObject.name=proof-of-concept",
    )["items"]
    assert any(e["reason"] == "Applied" and "proof-of-concept-calculator" in e["message"] for e in events)


def test_ready_follows_the_child_deployment(
    envtest: EnvTest, operator: OperatorProcess, examples: list[dict[str, Any]]
) -> None:
    selector = "app.kubernetes.io/instance=proof-of-concept,app.kubernetes.io/component=calculator"
    wait_for(
        lambda: get_json(envtest, "pods", "-n", NS, "-l", selector)["items"],
        operator,
        what="the calculator's pod (ReplicaSet controller)",
    )
    assert mark_pods_ready(envtest, NS, selector) == 1

    def ready() -> dict[str, Any] | None:
        obj = get_json(envtest, "ar", "proof-of-concept", "-n", NS)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    obj = wait_for(ready, operator, what="Ready=True on ArbitrageRule proof-of-concept")
    assert condition(obj, "Ready")["reason"] == "DeploymentReady"
    assert obj["status"]["readyReplicas"] == 1
    wide = envtest.kubectl("get", "ar", "proof-of-concept", "-n", NS, "-o", "wide").stdout
    assert "True" in wide.splitlines()[1].split() and "DeploymentReady" in wide


def test_spec_update_rolls_the_children(
    envtest: EnvTest, operator: OperatorProcess, examples: list[dict[str, Any]]
) -> None:
    def template(name: str) -> dict[str, Any]:
        return get_json(envtest, "deployment", name, "-n", NS)["spec"]["template"]

    feed_before = template("proof-of-concept-feed")["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    envtest.kubectl(
        "patch",
        "mf",
        "proof-of-concept",
        "-n",
        NS,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"simulator": {"seed": 7}, "paused": True}}),
    )

    def feed_env() -> dict[str, str] | None:
        env = {
            e["name"]: e.get("value")
            for e in template("proof-of-concept-feed")["spec"]["containers"][0]["env"]
        }
        return env if env["INTHEGRID_SIMULATOR_SEED"] == "7" else None

    env = wait_for(feed_env, operator, what="the feed Deployment to get seed 7")
    assert env["INTHEGRID_FEED_PAUSED"] == "true"
    assert template("proof-of-concept-feed")["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] != feed_before

    calc_before = template("proof-of-concept-calculator")["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    envtest.kubectl(
        "patch",
        "ar",
        "proof-of-concept",
        "-n",
        NS,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"costModel": {"flatCostEurPerMWh": 3.75}}}),
    )

    def rule_text() -> str | None:
        text = str(get_json(envtest, "configmap", "proof-of-concept-rule", "-n", NS)["data"]["rule.yaml"])
        return text if "flatCostEurPerMWh: 3.75" in text else None

    assert (
        parse_rule_spec(
            yaml.safe_load(wait_for(rule_text, operator, what="rule in ConfigMap"))["spec"]
        ).cost_model.flat_cost_eur_per_mwh
        == 3.75
    )
    wait_for(
        lambda: (
            template("proof-of-concept-calculator")["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
            != calc_before
        ),
        operator,
        what="the calculator's pod template to roll",
    )
    obj = get_json(envtest, "ar", "proof-of-concept", "-n", NS)
    wait_for(
        lambda: (
            get_json(envtest, "ar", "proof-of-concept", "-n", NS)["status"]["observedGeneration"]
            == obj["metadata"]["generation"]
        ),
        operator,
        what="observedGeneration",
    )


def test_deleting_a_resource_garbage_collects_its_children(
    envtest: EnvTest, operator: OperatorProcess
) -> None:
    ns = "deletion"
    envtest.kubectl("create", "namespace", ns)
    rule = {
        "apiVersion": "inthegrid.io/v1alpha1",
        "kind": "ArbitrageRule",
        "metadata": {"name": "short-lived"},
        "spec": {"zones": ["FR", "BE"]},
    }
    _apply(envtest, rule, ns)
    wait_for(
        lambda: get_or_none(envtest, "deployment", "short-lived-calculator", "-n", ns),
        operator,
        what="calculator Deployment",
    )
    assert get_or_none(envtest, "configmap", "short-lived-rule", "-n", ns)
    envtest.kubectl("delete", "ar", "short-lived", "-n", ns, "--wait=true", "--timeout=30s")
    wait_for(
        lambda: (
            get_or_none(envtest, "deployment", "short-lived-calculator", "-n", ns) is None
            and get_or_none(envtest, "configmap", "short-lived-rule", "-n", ns) is None
        ),
        operator,
        timeout=60,
        what="garbage collection of the children",
    )


_FEED = {"apiVersion": "inthegrid.io/v1alpha1", "kind": "MarketFeed", "metadata": {"name": "bad"}}
_RULE = {"apiVersion": "inthegrid.io/v1alpha1", "kind": "ArbitrageRule", "metadata": {"name": "bad"}}


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({**_FEED, "spec": {"zones": ["DE-LU", "XX"]}}, 'spec.zones[1]: Unsupported value: "XX"'),
        (
            {**_FEED, "spec": {"zones": ["FR"], "simulator": {"tickSeconds": -5}}},
            "spec.simulator.tickSeconds",
        ),
        ({**_FEED, "spec": {"zones": ["FR"], "simulator": {"speed": 0}}}, "spec.simulator.speed"),
        ({**_FEED, "spec": {"zones": ["FR", "FR"]}}, 'spec.zones[1]: Duplicate value: "FR"'),
        ({**_FEED, "spec": {"zones": []}}, "spec.zones"),
        (
            {**_FEED, "spec": {"zones": ["FR"], "source": "entsoe"}},
            "spec.entsoe.tokenSecretRef is required when spec.source is entsoe",
        ),
        (
            {**_FEED, "spec": {"zones": ["FR"], "source": "replay", "replay": {"speed": 10}}},
            "spec.replay.path is required when spec.source is replay",
        ),
        ({**_FEED, "spec": {"zones": ["FR"], "resolution": "PT30M"}}, "spec.resolution: Unsupported value"),
        ({**_FEED, "spec": {"zones": ["FR"], "source": "bloomberg"}}, "spec.source: Unsupported value"),
        ({**_FEED, "spec": {"zones": ["FR"], "simulator": {"volatility": 11}}}, "spec.simulator.volatility"),
        ({**_FEED, "spec": {"zones": ["FR"], "bogus": 1}}, 'unknown field "spec.bogus"'),
        (
            {**_FEED, "metadata": {"name": "x" * 51}, "spec": {"zones": ["FR"]}},
            "metadata.name must be at most 50 characters",
        ),
        ({**_RULE, "spec": {"pairs": [["FR", "FR"]]}}, "spec.pairs[]: a pair needs two distinct zones"),
        ({**_RULE, "spec": {"zones": ["FR", "NL", "FR"]}}, "spec.zones[2]: Duplicate value"),
        ({**_RULE, "spec": {"pairs": [["FR", "BE", "NL"]]}}, "spec.pairs[0]"),
        ({**_RULE, "spec": {}}, "spec.zones or spec.pairs must name what to watch"),
        (
            {**_RULE, "spec": {"zones": ["FR", "BE"], "paths": "graph"}},
            "spec.paths graph needs spec.costModel.type border",
        ),
        (
            {**_RULE, "spec": {"zones": ["FR", "BE"], "costModel": {"flatCostEurPerMWh": -1}}},
            "spec.costModel.flatCostEurPerMWh",
        ),
        (
            {
                **_RULE,
                "spec": {
                    "zones": ["FR", "BE"],
                    "costModel": {"type": "border", "borders": [{"zones": ["FR", "BE"], "lossFactor": 1.0}]},
                },
            },
            "spec.costModel.borders[0].lossFactor",
        ),
        ({**_RULE, "spec": {"zones": ["FR", "BE"], "maxHops": 9}}, "spec.maxHops"),
        ({**_RULE, "spec": {"zones": ["FR", "BE"], "minProfitEur": -3}}, "spec.minProfitEur"),
        (
            {**_RULE, "spec": {"zones": ["FR", "BE"], "alert": {"webhookSecretRef": {"key": "url"}}}},
            "spec.alert.webhookSecretRef.name",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_resources_are_rejected_naming_the_field(
    envtest: EnvTest, manifest: dict[str, Any], expected: str, operator_kubeconfig: Any
) -> None:
    proc = _apply(envtest, manifest, "default", check=False)
    assert proc.returncode != 0, f"accepted: {manifest}"
    assert expected in proc.stderr, proc.stderr


def test_a_bad_spec_past_the_schema_sets_ready_false_without_crash_looping(
    envtest: EnvTest, operator: OperatorProcess
) -> None:
    ns = "slipped"
    envtest.kubectl("create", "namespace", ns)
    # DE is an alias of DE-LU: the schema's set accepts both, the domain sees one zone twice.
    rule = {**_RULE, "metadata": {"name": "aliases"}, "spec": {"zones": ["DE", "DE-LU", "FR"]}}
    _apply(envtest, rule, ns)

    def invalid() -> dict[str, Any] | None:
        obj = get_or_none(envtest, "ar", "aliases", "-n", ns)
        return obj if condition(obj, "Ready").get("reason") == "InvalidSpec" else None

    obj = wait_for(invalid, operator, what="Ready=False InvalidSpec")
    assert condition(obj, "Ready")["status"] == "False" and "spec.zones" in condition(obj, "Ready")["message"]
    assert condition(obj, "Reconciled")["reason"] == "InvalidSpec"
    assert get_or_none(envtest, "deployment", "aliases-calculator", "-n", ns) is None
    events = get_json(envtest, "events", "-n", ns)["items"]
    assert any(e["reason"] == "InvalidSpec" and e["type"] == "Warning" for e in events)
    before = operator.metric("inthegrid_operator_reconciles_total", kind="ArbitrageRule", result="invalid")
    assert operator.alive() and before >= 1

    envtest.kubectl(
        "patch", "ar", "aliases", "-n", ns, "--type=merge", "-p", '{"spec":{"zones":["DE","FR"]}}'
    )
    wait_for(
        lambda: get_or_none(envtest, "deployment", "aliases-calculator", "-n", ns),
        operator,
        what="the calculator once the spec is fixed",
    )
    wait_for(
        lambda: condition(get_json(envtest, "ar", "aliases", "-n", ns), "Reconciled").get("status") == "True",
        operator,
        what="Reconciled=True after the fix",
    )
    # the invalid spec was handled once, not retried in a loop
    assert (
        operator.metric("inthegrid_operator_reconciles_total", kind="ArbitrageRule", result="invalid")
        == before
    )


def test_restarting_the_operator_changes_nothing(
    envtest: EnvTest, operator: OperatorProcess, examples: list[dict[str, Any]]
) -> None:
    def versions() -> dict[str, str]:
        items = get_json(envtest, "mf,ar,deployments,configmaps,replicasets", "-n", NS)["items"]
        return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}

    wait_for(
        lambda: all(
            condition(
                get_json(envtest, m["kind"].lower(), m["metadata"]["name"], "-n", NS), "Reconciled"
            ).get("status")
            == "True"
            for m in examples
        ),
        operator,
        what="all examples reconciled",
    )
    # Earlier tests rolled Deployments and readied pods: the helper lets the controllers settle
    # first, so any change it sees is the operator's.
    everything = len(get_json(envtest, "mf,ar", "--all-namespaces")["items"])
    assert_a_restart_changes_nothing(operator, versions, everything)


def test_operator_metrics(operator: OperatorProcess, examples: list[dict[str, Any]]) -> None:
    assert operator.metric("inthegrid_operator_reconciles_total", kind="MarketFeed", result="ok") >= 1
    assert operator.metric("inthegrid_operator_reconcile_duration_seconds_count", kind="ArbitrageRule") >= 1
