"""An ArbitrageRule run as several calculator replicas (shards), and the stream replicas every child
gets: rendering, the env contract with CalculatorSettings/FeedSettings, names, status, clean-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inthegrid.domain.rules import parse_rule_spec, rule_from_manifest
from inthegrid.domain.shards import MAX_SHARDS
from inthegrid.errors import ValidationError
from inthegrid.platform.settings import CalculatorSettings, FeedSettings
from inthegrid_operator.crds import render_arbitragerule_crd
from inthegrid_operator.reconcile import child_deployment_names, stale_deployments
from inthegrid_operator.render import MAX_CHILD_NAME, render_feed_deployment
from inthegrid_operator.render_calculator import (
    SHARD_LABEL,
    calculator_deployment_names,
    render_calculator_deployment,
    render_calculator_deployments,
    render_rule_configmap,
)
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import parse_feed_spec, split_rule_spec
from inthegrid_operator.status import deployments_readiness
from tests.unit.test_operator_render import SETTINGS, _container, _environment, _settings_from

SPEC = {"zones": ["DE-LU", "FR", "NL", "BE", "AT"], "costModel": {"flatCostEurPerMWh": 2.5}}


def _render(name: str, spec: dict[str, Any], settings: OperatorSettings = SETTINGS) -> list[dict[str, Any]]:
    raw, replicas = split_rule_spec(spec)
    configmap = render_rule_configmap(name, "ns", raw)
    return render_calculator_deployments(name, "ns", parse_rule_spec(raw), configmap, settings, replicas)


def test_one_replica_renders_exactly_todays_deployment() -> None:
    today = render_calculator_deployment(
        "poc", "ns", parse_rule_spec(SPEC), render_rule_configmap("poc", "ns", SPEC), SETTINGS
    )
    assert _render("poc", SPEC) == [today]
    assert _render("poc", {**SPEC, "replicas": 1}) == [today]  # as the schema's default stores it
    assert today["metadata"]["name"] == "poc-calculator"
    names = {e["name"] for e in _container(today)["env"]}
    assert not any("SHARD" in n for n in names)
    assert SHARD_LABEL not in today["spec"]["selector"]["matchLabels"]


def test_replicas_is_not_part_of_the_rule_the_calculator_reads() -> None:
    raw, replicas = split_rule_spec({**SPEC, "replicas": 3})
    assert (raw, replicas) == (SPEC, 3)
    text = render_rule_configmap("poc", "ns", raw)["data"]["rule.yaml"]
    assert "replicas" not in text
    assert rule_from_manifest(yaml.safe_load(text)) == ("poc", parse_rule_spec(SPEC))


def test_three_replicas_give_three_single_pod_shards_the_calculator_parses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deployments = _render("poc", {**SPEC, "replicas": 3})
    assert [d["metadata"]["name"] for d in deployments] == [
        "poc-calculator-shard-0-of-3",
        "poc-calculator-shard-1-of-3",
        "poc-calculator-shard-2-of-3",
    ]
    configmap = render_rule_configmap("poc", "ns", SPEC)
    (tmp_path / "rule.yaml").write_text(configmap["data"]["rule.yaml"])
    selectors = []
    for index, deployment in enumerate(deployments):
        assert deployment["spec"]["replicas"] == 1
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector[SHARD_LABEL] == f"{index}-of-3"
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        selectors.append(tuple(sorted(selector.items())))
        env = _environment(_container(deployment)["env"])
        env["INTHEGRID_RULE_FILE"] = str(tmp_path / "rule.yaml")
        parsed = _settings_from(CalculatorSettings, env, monkeypatch)
        assert (parsed.calculator_shard_count, parsed.calculator_shard_index) == (3, index)
        assert parsed.rule_name == "poc"
        assert rule_from_manifest(yaml.safe_load(parsed.rule_file.read_text())) == (
            "poc",
            parse_rule_spec(SPEC),
        )
    assert len(set(selectors)) == 3  # no two Deployments select each other's pods


def test_shard_names_fit_in_a_label_and_stay_distinct() -> None:
    longest = "r" * 50  # the CRDs' MAX_NAME_LENGTH
    for count in (2, 3, MAX_SHARDS):
        names = calculator_deployment_names(longest, count)
        assert len(set(names)) == count
        assert all(len(n) <= MAX_CHILD_NAME for n in names), max(names, key=len)
        assert names == calculator_deployment_names(longest, count)  # deterministic
    other = calculator_deployment_names("r" * 49 + "s", MAX_SHARDS)
    assert not set(other) & set(calculator_deployment_names(longest, MAX_SHARDS))
    assert not set(calculator_deployment_names("a", 2)) & set(calculator_deployment_names("a", 3))


@pytest.mark.parametrize("bad", [0, -1, MAX_SHARDS + 1, "x", "3", True, 2.5])
def test_invalid_replicas_are_refused_naming_the_field(bad: Any) -> None:
    with pytest.raises(ValidationError, match=r"spec\.replicas"):
        split_rule_spec({**SPEC, "replicas": bad})


def test_crd_validates_and_shows_replicas() -> None:
    crd = render_arbitragerule_crd()
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"]
    assert schema == {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_SHARDS,
        "default": 1,
        "description": schema["description"],
    }
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert columns["Replicas"]["jsonPath"] == ".spec.replicas" and "priority" not in columns["Replicas"]


def _deployment(name: str, ready: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": ready},
    }


def test_ready_only_when_every_shard_is_and_says_how_many() -> None:
    names = calculator_deployment_names("poc", 3)
    all_ready = deployments_readiness({n: _deployment(n, 1) for n in names})
    assert (all_ready.ready, all_ready.ready_replicas, all_ready.reason) == (True, 3, "DeploymentReady")
    assert all_ready.message == "3/3 shard Deployments ready"
    one_waiting = deployments_readiness(
        {**{n: _deployment(n, 1) for n in names}, names[1]: _deployment(names[1], 0)}
    )
    assert (one_waiting.ready, one_waiting.ready_replicas) == (False, 2)
    assert one_waiting.reason == "DeploymentProgressing"
    assert one_waiting.message.startswith("2/3 shard Deployments ready") and names[1] in one_waiting.message
    missing = deployments_readiness({names[0]: _deployment(names[0], 1), names[1]: None, names[2]: None})
    assert (missing.ready, missing.reason) == (False, "DeploymentMissing")
    assert missing.message.startswith("1/3") and names[1] in missing.message
    single = deployments_readiness({"poc-calculator": _deployment("poc-calculator", 1)})
    assert single.message == "Deployment poc-calculator has 1/1 ready replicas"


def test_status_reads_the_deployments_of_the_current_spec() -> None:
    rule = {"metadata": {"name": "poc"}, "spec": {**SPEC, "replicas": 2}}
    assert child_deployment_names("ArbitrageRule", rule) == [
        "poc-calculator-shard-0-of-2",
        "poc-calculator-shard-1-of-2",
    ]
    assert child_deployment_names("ArbitrageRule", {"metadata": {"name": "poc"}, "spec": SPEC}) == [
        "poc-calculator"
    ]
    assert child_deployment_names("MarketFeed", {"metadata": {"name": "f"}, "spec": {}}) == ["f-feed"]


def test_only_our_deployments_of_an_old_layout_are_stale() -> None:
    def live(name: str, uid: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "ownerReferences": [{"controller": True, "uid": uid}]}}

    wanted = set(calculator_deployment_names("poc", 1))
    deployments = [
        live("poc-calculator", "u1"),
        live("poc-calculator-shard-0-of-3", "u1"),
        live("poc-calculator-shard-2-of-3", "u1"),
        live("poc-calculator-shard-1-of-3", "someone-else"),
        {"metadata": {"name": "poc-calculator-shard-1-of-2"}},  # no owner: not ours
    ]
    assert stale_deployments(deployments, "u1", wanted) == [
        "poc-calculator-shard-0-of-3",
        "poc-calculator-shard-2-of-3",
    ]
    assert stale_deployments(deployments, None, wanted) == []


def test_children_create_streams_with_the_clusters_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTHEGRID_STREAM_REPLICAS", "3")
    settings = OperatorSettings(image="registry.example/inthegrid:1.2.3", nats_url="nats://n:4222")
    assert settings.stream_replicas == 3
    feed = render_feed_deployment("fr", "ns", parse_feed_spec({"zones": ["FR"]}), settings)
    parsed_feed = _settings_from(FeedSettings, _environment(_container(feed)["env"]), monkeypatch)
    assert parsed_feed.stream_replicas == 3
    for shard in _render("poc", {**SPEC, "replicas": 2}, settings):
        parsed = _settings_from(CalculatorSettings, _environment(_container(shard)["env"]), monkeypatch)
        assert parsed.stream_replicas == 3
    default = _render("poc", SPEC)[0]
    assert _environment(_container(default)["env"])["INTHEGRID_STREAM_REPLICAS"] == "1"
