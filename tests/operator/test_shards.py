"""An ArbitrageRule with spec.replicas on a real API server, the operator under the chart's RBAC:
one calculator Deployment per shard with its place in its env, the old layout deleted when the
count changes, Ready only when every shard is, and bad counts refused by the API server."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from inthegrid.domain.rules import parse_rule_spec
from inthegrid_operator.render_calculator import (
    SHARD_LABEL,
    calculator_deployment_names,
    render_calculator_deployments,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from tests.operator.harness import (
    IMAGE,
    NATS_URL,
    OperatorProcess,
    condition,
    get_json,
    get_or_none,
    mark_pods_ready,
    wait_for,
)
from tests.support.envtest import EnvTest

pytestmark = pytest.mark.operator

NS = "shards"
NAME = "sharded"
SPEC = {"zones": ["DE-LU", "FR", "NL", "BE", "AT"]}
SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=calculator"
EXPECTED_SETTINGS = OperatorSettings(image=IMAGE, nats_url=NATS_URL)


def _rule(spec: dict[str, Any], name: str = NAME) -> dict[str, Any]:
    return {
        "apiVersion": "inthegrid.io/v1alpha1",
        "kind": "ArbitrageRule",
        "metadata": {"name": name},
        "spec": spec,
    }


def _calculators(envtest: EnvTest) -> dict[str, dict[str, Any]]:
    items = get_json(envtest, "deployments", "-n", NS, "-l", SELECTOR)["items"]
    return {d["metadata"]["name"]: d for d in items}


def _env(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["env"])


@pytest.fixture(scope="module")
def sharded(envtest: EnvTest, operator: OperatorProcess) -> dict[str, dict[str, Any]]:
    """The rule applied with replicas 3, once its three shard Deployments exist."""
    envtest.kubectl("create", "namespace", NS)
    envtest.kubectl("apply", "-n", NS, "-f", "-", input=yaml.safe_dump(_rule({**SPEC, "replicas": 3})))
    names = set(calculator_deployment_names(NAME, 3))
    return dict(
        wait_for(
            lambda: (found := _calculators(envtest)) and set(found) == names and found,
            operator,
            what="three shard Deployments",
        )
    )


def test_three_replicas_run_three_single_pod_shards_with_their_place(
    envtest: EnvTest, operator: OperatorProcess, sharded: dict[str, dict[str, Any]]
) -> None:
    configmap = render_rule_configmap(NAME, NS, SPEC)
    expected = render_calculator_deployments(NAME, NS, parse_rule_spec(SPEC), configmap, EXPECTED_SETTINGS, 3)
    assert get_json(envtest, "configmap", f"{NAME}-rule", "-n", NS)["data"] == configmap["data"]
    for index, want in enumerate(expected):
        live = sharded[want["metadata"]["name"]]
        assert live["spec"]["replicas"] == 1
        assert live["spec"]["selector"]["matchLabels"] == want["spec"]["selector"]["matchLabels"]
        assert live["spec"]["selector"]["matchLabels"][SHARD_LABEL] == f"{index}-of-3"
        env = _env(live)
        assert env == _env(want)
        values = {e["name"]: e.get("value") for e in env}
        assert values["INTHEGRID_CALCULATOR_SHARD_COUNT"] == "3"
        assert values["INTHEGRID_CALCULATOR_SHARD_INDEX"] == str(index)
        assert values["INTHEGRID_STREAM_REPLICAS"] == "1"  # the operator here runs without a cluster
        (owner,) = live["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("ArbitrageRule", NAME, True)


def test_ready_only_when_every_shard_is_ready(
    envtest: EnvTest, operator: OperatorProcess, sharded: dict[str, dict[str, Any]]
) -> None:
    first = f"{SELECTOR},{SHARD_LABEL}=0-of-3"
    wait_for(
        lambda: len(get_json(envtest, "pods", "-n", NS, "-l", SELECTOR)["items"]) == 3,
        operator,
        what="one pod per shard (ReplicaSet controller)",
    )
    assert mark_pods_ready(envtest, NS, first) == 1

    def status_says(text: str) -> dict[str, Any] | None:
        obj = get_json(envtest, "ar", NAME, "-n", NS)
        return obj if text in condition(obj, "Ready").get("message", "") else None

    obj = wait_for(lambda: status_says("1/3 shard Deployments ready"), operator, what="1/3 shards ready")
    assert condition(obj, "Ready")["status"] == "False" and obj["status"]["readyReplicas"] == 1
    assert mark_pods_ready(envtest, NS, SELECTOR) == 3
    obj = wait_for(lambda: status_says("3/3 shard Deployments ready"), operator, what="3/3 shards ready")
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "DeploymentReady")
    assert obj["status"]["readyReplicas"] == 3
    assert obj["status"]["deploymentName"] == ",".join(calculator_deployment_names(NAME, 3))
    header, row = envtest.kubectl("get", "ar", NAME, "-n", NS).stdout.splitlines()[:2]
    # Columns are aligned under their headers; COST and PATHS are empty for this rule.
    column = {title: row[header.index(title) :].split()[0] for title in ("REPLICAS", "READY")}
    assert (column["REPLICAS"], column["READY"]) == ("3", "True")


def test_three_to_one_deletes_the_shards_and_leaves_the_single_calculator(
    envtest: EnvTest, operator: OperatorProcess, sharded: dict[str, dict[str, Any]]
) -> None:
    envtest.kubectl(
        "patch", "ar", NAME, "-n", NS, "--type=merge", "-p", json.dumps({"spec": {"replicas": 1}})
    )
    single = f"{NAME}-calculator"
    found = wait_for(
        lambda: (d := _calculators(envtest)) and set(d) == {single} and d,
        operator,
        what="the shard Deployments deleted and the single calculator applied",
    )
    values = {e["name"]: e.get("value") for e in _env(found[single])}
    assert not any(k.startswith("INTHEGRID_CALCULATOR_SHARD") for k in values)
    assert SHARD_LABEL not in found[single]["spec"]["selector"]["matchLabels"]
    obj = wait_for(
        lambda: (
            (o := get_json(envtest, "ar", NAME, "-n", NS))["status"].get("deploymentName") == single and o
        ),
        operator,
        what="status naming the single calculator",
    )
    assert condition(obj, "Reconciled")["status"] == "True"
    events = get_json(envtest, "events", "-n", NS, "--field-selector", f"involvedObject.name={NAME}")["items"]
    assert any("deleted" in e["message"] and "shard-0-of-3" in e["message"] for e in events)


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        (0, "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
        ("x", 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer'),
        (65, "spec.replicas: Invalid value: 65: spec.replicas in body should be less than or equal to 64"),
        (2.5, "spec.replicas"),
    ],
    ids=["zero", "string", "too-many", "fraction"],
)
def test_invalid_replicas_are_rejected_naming_the_field(
    envtest: EnvTest, operator_kubeconfig: Any, replicas: Any, expected: str
) -> None:
    manifest = yaml.safe_dump(_rule({**SPEC, "replicas": replicas}, name="bad-replicas"))
    proc = envtest.kubectl("apply", "-n", "default", "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0, f"accepted replicas {replicas!r}"
    assert expected in proc.stderr, proc.stderr
    assert get_or_none(envtest, "ar", "bad-replicas", "-n", "default") is None
