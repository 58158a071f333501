"""Chart conventions users expect (issue 16): pod settings reach the pods the operator creates, two
releases share a namespace, generated Secrets survive GitOps tools, the schema takes `global` and
partial resources, Grafana may be let into the database, and NOTES give the CRD upgrade command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inthegrid.domain.rules import parse_rule_spec
from inthegrid_operator.render import render_feed_deployment
from inthegrid_operator.render_calculator import render_calculator_deployment, render_rule_configmap
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec
from tests.k8s.chart import CHART, NAMESPACE, documents, render, run_helm


def _kinds(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _operator_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    operator = _kinds(docs, "Deployment")["inthegrid-operator"]
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if "value" in e}


def test_pod_settings_reach_the_feeds_and_calculators_the_operator_creates(
    helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = documents(
        render(
            helm,
            "--set-json",
            'imagePullSecrets=[{"name":"regcred"}]',
            "--set-json",
            'nodeSelector={"pool":"grid"}',
            "--set-json",
            'tolerations=[{"key":"dedicated","operator":"Equal","value":"grid","effect":"NoSchedule"}]',
            "--set-json",
            'operator.workloadPodAnnotations={"sidecar.istio.io/inject":"false"}',
            "--set-json",
            'operator.workloadPodLabels={"team":"trading","app.kubernetes.io/component":"spoof"}',
        )
    )
    # The operator reads its env with its own settings class, exactly as in the pod.
    for name, value in _operator_env(docs).items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    feed = render_feed_deployment("sim", "ns", parse_feed_spec({"zones": ["DE", "FR"]}), settings)
    spec = parse_rule_spec({"zones": ["DE", "FR"]})
    configmap = render_rule_configmap("poc", "ns", {"zones": ["DE", "FR"]})
    calculator = render_calculator_deployment("poc", "ns", spec, configmap, settings)
    for child, component in ((feed, "feed"), (calculator, "calculator")):
        template = child["spec"]["template"]
        pod = template["spec"]
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]
        assert pod["nodeSelector"] == {"pool": "grid"}
        assert pod["tolerations"][0]["key"] == "dedicated"
        assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
        assert "inthegrid.io/config-hash" in template["metadata"]["annotations"]
        labels = template["metadata"]["labels"]
        assert labels["team"] == "trading"
        assert labels["app.kubernetes.io/component"] == component  # the operator's own labels win
        assert child["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_a_component_value_overrides_the_chart_default_for_the_children(helm: Path) -> None:
    env = _operator_env(
        documents(
            render(
                helm,
                "--set-json",
                'nodeSelector={"pool":"general"}',
                "--set-json",
                'operator.workloadNodeSelector={"pool":"feeds"}',
            )
        )
    )
    assert json.loads(env["INTHEGRID_CHILD_NODE_SELECTOR"]) == {"pool": "feeds"}
    plain = _operator_env(documents(render(helm)))
    assert not any(
        name.startswith("INTHEGRID_CHILD_") and name != "INTHEGRID_CHILD_LOG_FORMAT" for name in plain
    )


def test_two_releases_share_a_namespace_without_a_name_in_common(helm: Path) -> None:
    def names(release: str) -> set[tuple[str, str]]:
        text = run_helm(helm, "template", release, str(CHART), "--namespace", NAMESPACE)
        return {(d["kind"], d["metadata"]["name"]) for d in documents(text)}

    assert names("alpha") & names("beta") == set()
    sa = _kinds(documents(run_helm(helm, "template", "alpha", str(CHART))), "ServiceAccount")
    assert "alpha-inthegrid-operator" in sa


def test_every_generated_secret_survives_uninstall_and_pruning(helm: Path) -> None:
    secrets = _kinds(documents(render(helm)), "Secret")
    assert {"inthegrid-database", "inthegrid-api-keys", "inthegrid-nats-users", "inthegrid-entsoe"} <= set(
        secrets
    )
    for name, secret in secrets.items():
        assert secret["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep", name
    mine = documents(
        render(
            helm,
            "--set",
            "database.bundled.existingSecret=db",
            "--set",
            "gateway.apiKeysSecret=keys",
            "--set",
            "nats.usersSecret=nats",
            "--set",
            "entsoe.existingSecret=token",
        )
    )
    assert _kinds(mine, "Secret") == {}  # existingSecret: the chart makes none


def test_the_schema_takes_global_and_partial_or_empty_resources(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "global: {imageRegistry: registry.local}\n"
        "operator:\n  resources: {requests: null, limits: null}\n"
        "gateway:\n  resources:\n    requests: {cpu: null}\n"
        "recorder:\n  resources: {}\n"
    )
    docs = documents(render(helm, "-f", str(values)))
    deployments = _kinds(docs, "Deployment")
    assert deployments["inthegrid-operator"]["spec"]["template"]["spec"]["containers"][0]["resources"] == {}
    gateway = deployments["inthegrid-gateway"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert "cpu" not in gateway["requests"] and gateway["requests"]["memory"]
    with pytest.raises(AssertionError, match="schema"):
        render(helm, "--set", "notAValue=1")  # everything else stays strict


def test_grafana_can_be_let_into_the_database(helm: Path) -> None:
    grafana = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}},
    }
    docs = documents(render(helm, "--set-json", f"networkPolicy.databaseFrom=[{json.dumps(grafana)}]"))
    ingress = _kinds(docs, "NetworkPolicy")["inthegrid-timescaledb"]["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": "postgres"}], "from": [grafana]} in ingress
    default = _kinds(documents(render(helm)), "NetworkPolicy")["inthegrid-timescaledb"]["spec"]["ingress"]
    assert len(default) == 1  # by default only the release's own pods


def test_notes_and_docs_give_the_crd_upgrade_command() -> None:
    # NOTES.txt is static text here; `helm template` does not render NOTES, and `helm install --dry-run`
    # needs a reachable cluster.
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    command = "helm show crds <chart> | kubectl apply --server-side --force-conflicts -f -"
    assert command in notes and "never upgrades" in notes
    docs = (CHART.parents[1] / "docs" / "run-on-kubernetes.md").read_text()
    assert "helm show crds charts/inthegrid | kubectl apply --server-side --force-conflicts -f -" in docs


@pytest.mark.parametrize(
    "args",
    [["inthegrid"], ["alpha"], ["x", "--set", "fullnameOverride=grid"], ["y", "--set", "nameOverride=ig"]],
)
def test_the_operator_runs_as_the_service_account_its_rbac_binds(helm: Path, args: list[str]) -> None:
    # operator-rbac.yaml is rendered alone by tests/operator, so it spells the helper's name out itself.
    docs = documents(run_helm(helm, "template", *args, str(CHART)))
    operator = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-operator")
    )
    account = operator["spec"]["template"]["spec"]["serviceAccountName"]
    assert account in _kinds(docs, "ServiceAccount")
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert bindings and all(s["name"] == account for b in bindings for s in b["subjects"])
