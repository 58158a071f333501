"""The operator's pure parts: rendering children from the examples, the settings contract, CRDs, status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from inthegrid.domain.rules import RuleSpec, parse_rule_spec, rule_from_manifest
from inthegrid.domain.zones import ZONE_CODES
from inthegrid.errors import ValidationError
from inthegrid.platform.settings import CalculatorSettings, FeedSettings
from inthegrid_operator.crds import (
    CRD_FILES,
    render_arbitragerule_crd,
    render_crd_yaml,
    render_marketfeed_crd,
)
from inthegrid_operator.kube import KubeError, as_kopf_error
from inthegrid_operator.render import CONFIG_HASH_ANNOTATION, render_feed_deployment
from inthegrid_operator.render_calculator import RULE_DIR, render_calculator_deployment, render_rule_configmap
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import REPLICAS_FIELD, MarketFeedSpec, parse_feed_spec
from inthegrid_operator.status import (
    Outcome,
    Readiness,
    build_status,
    condition_of,
    deployment_readiness,
    status_delta,
    with_readiness,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "k8s" / "examples"
SETTINGS = OperatorSettings(image="registry.example/inthegrid:1.2.3", nats_url="nats://nats.test:4222")
SECRETS = {("entsoe-token", "token"): "entsoe-secret-token", ("alerts", "url"): "https://hooks.example/x"}


def _examples(kind: str) -> list[dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return [d for d in docs if d["kind"] == kind]


def _environment(env: list[dict[str, Any]]) -> dict[str, str]:
    """What the kubelet would give the process: values, and secretKeyRefs resolved from SECRETS."""
    out = {}
    for var in env:
        if "value" in var:
            out[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            out[var["name"]] = SECRETS[(ref["name"], ref["key"])]
    return out


def _settings_from(cls: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import os

    for key in list(os.environ):
        if key.startswith("INTHEGRID_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cls()


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_examples_cover_the_proof_of_concept_and_every_source() -> None:
    feeds = _examples("MarketFeed")
    assert {f["spec"]["source"] for f in feeds} == {"simulator", "entsoe", "replay"}
    assert all(set(f["spec"]["zones"]) == {"DE-LU", "FR", "NL", "BE", "AT"} for f in feeds)
    _, poc = rule_from_manifest(
        next(r for r in _examples("ArbitrageRule") if r["metadata"]["name"] == "proof-of-concept")
    )
    assert len(poc.pair_keys()) == 10
    assert poc.cost_model.type == "flat" and poc.cost_model.flat_cost_eur_per_mwh == 2.5
    assert poc.min_net_spread_eur_per_mwh == 0 and poc.min_profit_eur == 0


@pytest.mark.parametrize("manifest", _examples("MarketFeed"), ids=lambda m: m["metadata"]["name"])
def test_feed_env_parsed_by_feed_settings_equals_the_spec(
    manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, spec = manifest["metadata"]["name"], manifest["spec"]
    deployment = render_feed_deployment(name, "ns", parse_feed_spec(spec), SETTINGS)
    container = _container(deployment)
    assert container["command"] == ["inthegrid", "feed"]
    assert container["image"] == SETTINGS.image
    parsed = _settings_from(FeedSettings, _environment(container["env"]), monkeypatch)

    assert parsed.feed_name == name
    assert parsed.feed_zones == spec["zones"]
    assert parsed.feed_source == spec["source"]
    assert parsed.feed_market == spec.get("market", "day_ahead")
    assert parsed.feed_resolution == spec.get("resolution", "PT15M")
    assert parsed.feed_paused is bool(spec.get("paused", False))
    assert parsed.nats_url == SETTINGS.nats_url
    assert parsed.metrics_port == 9100
    if spec["source"] == "simulator":
        sim = spec["simulator"]
        assert (
            parsed.simulator_seed,
            parsed.simulator_volatility,
            parsed.simulator_speed,
            parsed.simulator_tick_seconds,
        ) == (sim["seed"], sim["volatility"], sim["speed"], sim["tickSeconds"])
    elif spec["source"] == "entsoe":
        ref = spec["entsoe"]["tokenSecretRef"]
        assert parsed.entsoe_token.get_secret_value() == SECRETS[(ref["name"], ref["key"])]
        assert parsed.entsoe_requests_per_minute == spec["entsoe"]["requestsPerMinute"]
        # the token never appears as a plain value
        assert not any(v.get("value") == "entsoe-secret-token" for v in container["env"])
    else:
        assert str(parsed.replay_path) == spec["replay"]["path"]
        assert parsed.replay_speed == spec["replay"]["speed"]
        assert (parsed.replay_from, parsed.replay_to) == (spec["replay"]["from"], spec["replay"]["to"])


def test_feed_defaults_mean_what_the_feed_does_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = render_feed_deployment("minimal", "ns", parse_feed_spec({"zones": ["DE", "FR"]}), SETTINGS)
    parsed = _settings_from(FeedSettings, _environment(_container(deployment)["env"]), monkeypatch)
    defaults = _settings_from(FeedSettings, {}, monkeypatch)
    assert parsed.feed_zones == ["DE-LU", "FR"]  # aliases canonicalised
    for field in (
        "feed_source",
        "feed_market",
        "feed_resolution",
        "simulator_seed",
        "simulator_volatility",
        "simulator_speed",
        "simulator_tick_seconds",
    ):
        assert getattr(parsed, field) == getattr(defaults, field), field


@pytest.mark.parametrize("manifest", _examples("ArbitrageRule"), ids=lambda m: m["metadata"]["name"])
def test_calculator_env_and_configmap_give_the_calculator_the_same_rule(
    manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name, spec = manifest["metadata"]["name"], manifest["spec"]
    rule = parse_rule_spec(spec)
    configmap = render_rule_configmap(name, "ns", spec)
    deployment = render_calculator_deployment(name, "ns", rule, configmap, SETTINGS)
    container = _container(deployment)
    assert container["command"] == ["inthegrid", "calculator"]
    env = _environment(container["env"])
    # The pod sees the ConfigMap at RULE_DIR; here that directory is tmp_path.
    ((key, text),) = configmap["data"].items()
    (tmp_path / key).write_text(text)
    assert env["INTHEGRID_RULE_FILE"] == f"{RULE_DIR}/{key}"
    env["INTHEGRID_RULE_FILE"] = str(tmp_path / key)
    parsed = _settings_from(CalculatorSettings, env, monkeypatch)
    assert parsed.rule_name == name
    assert parsed.nats_url == SETTINGS.nats_url
    loaded_name, loaded = rule_from_manifest(yaml.safe_load(parsed.rule_file.read_text()))
    assert (loaded_name, loaded) == (name, rule)
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "rule")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"] == f"{name}-rule"


def test_alert_webhook_url_comes_from_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"zones": ["FR", "BE"], "alert": {"webhookSecretRef": {"name": "alerts"}}}
    rule = parse_rule_spec(spec)
    deployment = render_calculator_deployment(
        "a", "ns", rule, render_rule_configmap("a", "ns", spec), SETTINGS
    )
    parsed = _settings_from(CalculatorSettings, _environment(_container(deployment)["env"]), monkeypatch)
    assert parsed.alert_webhook_url.get_secret_value() == SECRETS[("alerts", "url")]


def test_children_are_labelled_probed_limited_and_locked_down() -> None:
    spec = parse_feed_spec(
        {"zones": ["FR"], "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": 1}}}
    )
    deployment = render_feed_deployment("fr", "ns", spec, SETTINGS)
    labels = deployment["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/name": "inthegrid",
        "app.kubernetes.io/instance": "fr",
        "app.kubernetes.io/component": "feed",
        "app.kubernetes.io/part-of": "inthegrid",
        "app.kubernetes.io/managed-by": "inthegrid-operator",
    }
    template = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    container = _container(deployment)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": SETTINGS.default_memory_request},
        "limits": {"cpu": SETTINGS.default_cpu_limit, "memory": "1Gi"},
    }
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert template["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_config_hash_is_stable_and_changes_with_the_spec() -> None:
    spec = {"zones": ["FR", "BE"], "costModel": {"flatCostEurPerMWh": 2.5}}

    def digest(s: dict[str, Any]) -> str:
        cm = render_rule_configmap("r", "ns", s)
        d = render_calculator_deployment("r", "ns", parse_rule_spec(s), cm, SETTINGS)
        return d["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]

    assert digest(spec) == digest(dict(spec))
    assert digest(spec) != digest({**spec, "costModel": {"flatCostEurPerMWh": 3.0}})
    feed = parse_feed_spec({"zones": ["FR"]})
    a = render_feed_deployment("f", "ns", feed, SETTINGS)
    b = render_feed_deployment("f", "ns", parse_feed_spec({"zones": ["FR"], "paused": True}), SETTINGS)
    assert a == render_feed_deployment("f", "ns", feed, SETTINGS)
    assert (
        a["spec"]["template"]["metadata"]["annotations"] != b["spec"]["template"]["metadata"]["annotations"]
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"zones": ["DE", "DE-LU"]}, "spec.zones"),
        ({"zones": ["XX"]}, "spec.zones"),
        ({"zones": ["FR"], "source": "entsoe"}, "entsoe.tokenSecretRef"),
        ({"zones": ["FR"], "source": "replay"}, "replay.path"),
        ({"zones": ["FR"], "simulator": {"tickSeconds": -1}}, "spec.simulator.tickSeconds"),
        ({"zones": ["FR"], "bogus": 1}, "spec.bogus"),
    ],
)
def test_bad_feed_specs_are_refused_naming_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
        parse_feed_spec(spec)


# --- CRDs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", sorted(CRD_FILES))
def test_committed_crds_equal_the_generated_ones(filename: str) -> None:
    committed = (ROOT / "charts" / "inthegrid" / "crds" / filename).read_text()
    assert committed == render_crd_yaml(CRD_FILES[filename]), "run: .venv/bin/python tools/render_crds.py"


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def _aliases(model: Any) -> dict[str, Any]:
    """{camelCase name: nested model or None} of a pydantic model's fields."""
    out = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        nested = None
        for candidate in (ann, *getattr(ann, "__args__", ())):
            inner = getattr(candidate, "__args__", (candidate,))
            for c in (candidate, *inner):
                if isinstance(c, type) and hasattr(c, "model_fields"):
                    nested = c
        out[field.alias or name] = nested
    return out


def _assert_schema_has_every_field(
    model: Any, schema: dict[str, Any], where: str, operator_fields: frozenset[str] = frozenset()
) -> None:
    props = schema.get("properties") or schema.get("items", {}).get("properties") or {}
    props = {k: v for k, v in props.items() if k not in operator_fields}
    for alias, nested in _aliases(model).items():
        assert alias in props, f"{where}.{alias} missing from the CRD schema"
        if nested is not None:
            _assert_schema_has_every_field(nested, props[alias], f"{where}.{alias}")
    assert set(props) <= set(_aliases(model)), f"{where}: schema fields the model refuses"


def test_arbitragerule_schema_is_rulespec_field_for_field() -> None:
    # replicas is the operator's (how many calculators run the rule), taken off before RuleSpec.
    _assert_schema_has_every_field(
        RuleSpec, _schema(render_arbitragerule_crd()), "spec", frozenset({REPLICAS_FIELD})
    )


def test_marketfeed_schema_is_the_feed_spec_field_for_field() -> None:
    _assert_schema_has_every_field(MarketFeedSpec, _schema(render_marketfeed_crd()), "spec")


def test_zone_enums_come_from_the_domain() -> None:
    zones = _schema(render_marketfeed_crd())["properties"]["zones"]["items"]["enum"]
    assert list(ZONE_CODES) == zones[: len(ZONE_CODES)]
    pairs = _schema(render_arbitragerule_crd())["properties"]["pairs"]["items"]
    assert pairs["items"]["enum"] == zones and pairs["minItems"] == pairs["maxItems"] == 2


def test_printer_columns_read_the_ready_condition() -> None:
    for crd in (render_marketfeed_crd(), render_arbitragerule_crd()):
        version = crd["spec"]["versions"][0]
        columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
        assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
        assert columns["Reason"]["priority"] == 1
        assert version["subresources"] == {"status": {}}
    assert render_marketfeed_crd()["spec"]["names"]["shortNames"] == ["mf"]
    assert render_arbitragerule_crd()["spec"]["names"]["shortNames"] == ["ar"]


# --- status -----------------------------------------------------------------------------------


def _deployment(generation: int, observed: int, ready: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "x-feed", "generation": generation},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": ready},
    }


def test_deployment_readiness() -> None:
    assert deployment_readiness(None).reason == "DeploymentMissing"
    assert deployment_readiness(_deployment(2, 2, 1)).ready
    assert not deployment_readiness(_deployment(2, 1, 1)).ready  # controller has not seen the new template
    assert not deployment_readiness(_deployment(1, 1, 0)).ready


def test_status_is_idempotent_and_transition_time_moves_only_on_flips() -> None:
    ok = Outcome(True, "Applied", "applied")
    first = build_status(
        None,
        generation=3,
        deployment_name="x-feed",
        outcome=ok,
        readiness=deployment_readiness(_deployment(1, 1, 0)),
        now="2026-01-01T00:00:00Z",
    )
    again = build_status(
        first,
        generation=3,
        deployment_name="x-feed",
        outcome=ok,
        readiness=deployment_readiness(_deployment(1, 1, 0)),
        now="2026-01-01T00:05:00Z",
    )
    assert again == first and status_delta(first, again) == {}
    ready = with_readiness(first, deployment_readiness(_deployment(1, 1, 1)), "2026-01-01T00:10:00Z")
    assert ready is not None
    assert condition_of(ready, "Ready") == {
        "type": "Ready",
        "status": "True",
        "reason": "DeploymentReady",
        "message": "Deployment x-feed has 1/1 ready replicas",
        "lastTransitionTime": "2026-01-01T00:10:00Z",
        "observedGeneration": 3,
    }
    assert condition_of(ready, "Reconciled") == condition_of(first, "Reconciled")
    assert set(status_delta(first, ready)) == {"readyReplicas", "conditions"}


def test_invalid_spec_sets_ready_false_and_readiness_does_not_override_it() -> None:
    bad = Outcome(False, "InvalidSpec", "invalid ArbitrageRule: spec.zones: ...")
    status = build_status(
        None,
        generation=2,
        deployment_name="r-calculator",
        outcome=bad,
        readiness=Readiness(False, 0, "InvalidSpec", bad.message),
        now="2026-01-01T00:00:00Z",
    )
    assert (condition_of(status, "Ready") or {})["reason"] == "InvalidSpec"
    assert (condition_of(status, "Reconciled") or {})["status"] == "False"
    assert with_readiness(status, deployment_readiness(_deployment(1, 1, 1)), "2026-01-01T00:01:00Z") is None


def test_api_errors_are_classified_temporary_or_permanent() -> None:
    assert isinstance(as_kopf_error(KubeError(422, "invalid")), kopf.PermanentError)
    assert isinstance(as_kopf_error(KubeError(0, "connection refused")), kopf.TemporaryError)
    assert isinstance(as_kopf_error(KubeError(409, "conflict")), kopf.TemporaryError)
    forbidden = as_kopf_error(KubeError(403, "forbidden"))
    assert isinstance(forbidden, kopf.TemporaryError) and forbidden.delay == 60


def test_children_connect_as_the_nats_user_of_their_role() -> None:
    settings = OperatorSettings(
        image="registry.example/inthegrid:1.2.3",
        nats_url="nats://nats.test:4222",
        nats_users_secret_name="rel-nats-users",
    )
    spec = {"zones": ["FR", "BE"]}
    calculator = render_calculator_deployment(
        "a", "ns", parse_rule_spec(spec), render_rule_configmap("a", "ns", spec), settings
    )
    feed = render_feed_deployment("fr", "ns", parse_feed_spec({"zones": ["FR"]}), settings)
    for deployment, role in ((feed, "feed"), (calculator, "calculator")):
        env = {e["name"]: e for e in _container(deployment)["env"]}
        assert env["INTHEGRID_NATS_USER"]["value"] == role
        assert env["INTHEGRID_NATS_PASSWORD"]["valueFrom"] == {
            "secretKeyRef": {"name": "rel-nats-users", "key": f"{role}-password"}
        }
