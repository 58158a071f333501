"""Pure builders of the children of MarketFeeds and ArbitrageRules, as plain dicts.

No API calls here: the reconciler adopts these (owner reference) and applies them. The env vars are
exactly the fields of ``FeedSettings`` / ``CalculatorSettings``; a contract test parses rendered env
with those classes and compares the result with the custom resource's spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import yaml

from inthegrid.domain.price_sources import SourceKind, source_kind
from inthegrid.domain.rules import RuleSpec
from inthegrid_operator import API_VERSION, FIELD_MANAGER
from inthegrid_operator.settings import OperatorSettings
from inthegrid_operator.specs import MarketFeedSpec

METRICS_PORT = 9100  # INTHEGRID_METRICS_PORT of every child: /metrics, /healthz, /readyz
RUN_AS = 10001
RULE_DIR = "/etc/inthegrid/rule"
RULE_FILE_KEY = "rule.yaml"
CONFIG_HASH_ANNOTATION = "inthegrid.io/config-hash"

FEED_COMPONENT = "feed"
CALCULATOR_COMPONENT = "calculator"


def feed_deployment_name(name: str) -> str:
    return f"{name}-feed"


def calculator_deployment_name(name: str) -> str:
    return f"{name}-calculator"


def rule_configmap_name(name: str) -> str:
    return f"{name}-rule"


def render_labels(name: str, component: str) -> dict[str, str]:
    """The recommended app.kubernetes.io labels; the first three also select the pods."""
    return {
        "app.kubernetes.io/name": "inthegrid",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "inthegrid",
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
    }


def selector_labels(name: str, component: str) -> dict[str, str]:
    labels = render_labels(name, component)
    return {
        k: labels[k]
        for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
    }


def config_hash(*parts: Any) -> str:
    """A short stable hash of what the pods run with; in the pod template, so a change rolls them."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _env(name: str, value: object) -> dict[str, Any]:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return {"name": name, "value": text}


def _secret_env(name: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def render_common_env(settings: OperatorSettings, role: str) -> list[dict[str, Any]]:
    """What every child needs; NATS credentials of its role's user (least permissions: a feed may
    publish prices only, a calculator opportunity events only) when the chart set up NATS users."""
    env = [_env("INTHEGRID_NATS_URL", settings.nats_url)]
    if settings.nats_users_secret_name:
        env.append(_env("INTHEGRID_NATS_USER", role))
        env.append(
            _secret_env("INTHEGRID_NATS_PASSWORD", settings.nats_users_secret_name, f"{role}-password")
        )
    elif settings.nats_secret_name:
        env.append(_secret_env("INTHEGRID_NATS_USER", settings.nats_secret_name, "user"))
        env.append(_secret_env("INTHEGRID_NATS_PASSWORD", settings.nats_secret_name, "password"))
    env.append(_env("INTHEGRID_LOG_FORMAT", settings.child_log_format))
    env.append(_env("INTHEGRID_METRICS_PORT", METRICS_PORT))
    return env


def _simulator_env(spec: MarketFeedSpec) -> list[dict[str, Any]]:
    sim = spec.simulator
    env = [
        _env("INTHEGRID_SIMULATOR_SEED", sim.seed),
        _env("INTHEGRID_SIMULATOR_VOLATILITY", sim.volatility),
        _env("INTHEGRID_SIMULATOR_SPEED", sim.speed),
        _env("INTHEGRID_SIMULATOR_TICK_SECONDS", sim.tick_seconds),
    ]
    if sim.start:
        env.append(_env("INTHEGRID_SIMULATOR_START", sim.start))
    return env


def _entsoe_env(spec: MarketFeedSpec) -> list[dict[str, Any]]:
    ent = spec.entsoe
    env = []
    if ent.token_secret_ref is not None:  # always set: the spec refuses entsoe without it
        env.append(_secret_env("INTHEGRID_ENTSOE_TOKEN", ent.token_secret_ref.name, ent.token_secret_ref.key))
    env += [
        _env("INTHEGRID_ENTSOE_BASE_URL", ent.base_url),
        _env("INTHEGRID_ENTSOE_REQUESTS_PER_MINUTE", ent.requests_per_minute),
    ]
    return env


def _replay_env(spec: MarketFeedSpec) -> list[dict[str, Any]]:
    rep = spec.replay
    env = [_env("INTHEGRID_REPLAY_PATH", rep.path), _env("INTHEGRID_REPLAY_SPEED", rep.speed)]
    if rep.from_day:
        env.append(_env("INTHEGRID_REPLAY_FROM", rep.from_day))
    if rep.to_day:
        env.append(_env("INTHEGRID_REPLAY_TO", rep.to_day))
    return env


# One renderer per registered source (a unit test checks every SourceKind has one): an unknown
# source is an error, never rendered as some other source's settings.
SOURCE_ENV: dict[SourceKind, Callable[[MarketFeedSpec], list[dict[str, Any]]]] = {
    SourceKind.SIMULATOR: _simulator_env,
    SourceKind.ENTSOE: _entsoe_env,
    SourceKind.REPLAY: _replay_env,
}


def render_feed_env(name: str, spec: MarketFeedSpec, settings: OperatorSettings) -> list[dict[str, Any]]:
    """FeedSettings as env vars: the feed's identity, then only the chosen source's settings."""
    source = source_kind(spec.source)
    env = [
        _env("INTHEGRID_FEED_NAME", name),
        _env("INTHEGRID_FEED_ZONES", ",".join(spec.zones)),
        _env("INTHEGRID_FEED_SOURCE", source.value),
        _env("INTHEGRID_FEED_MARKET", spec.market),
        _env("INTHEGRID_FEED_RESOLUTION", spec.resolution),
        _env("INTHEGRID_FEED_PAUSED", spec.paused),
    ]
    return env + SOURCE_ENV[source](spec) + render_common_env(settings, "feed")


def render_resources(settings: OperatorSettings, spec: MarketFeedSpec | None = None) -> dict[str, Any]:
    """The operator's default resources, overridden key by key by the spec's."""
    out = settings.default_resources()
    if spec is not None and spec.resources is not None:
        out["requests"].update({k: str(v) for k, v in spec.resources.requests.items()})
        out["limits"].update({k: str(v) for k, v in spec.resources.limits.items()})
    return out


def render_container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def render_pod_placement(settings: OperatorSettings) -> dict[str, Any]:
    """The pod-spec fields the chart's values hand to every child: pull secrets, nodeSelector, tolerations."""
    out: dict[str, Any] = {}
    if settings.child_image_pull_secrets:
        out["imagePullSecrets"] = [{"name": ref.name} for ref in settings.child_image_pull_secrets]
    if settings.child_node_selector:
        out["nodeSelector"] = dict(settings.child_node_selector)
    if settings.child_tolerations:
        out["tolerations"] = [dict(t) for t in settings.child_tolerations]
    return out


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _deployment(
    *,
    name: str,
    namespace: str,
    owner_name: str,
    component: str,
    settings: OperatorSettings,
    env: list[dict[str, Any]],
    resources: dict[str, Any],
    config_digest: str,
    volumes: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    labels = render_labels(owner_name, component)
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [
            {
                "name": component,
                "image": settings.image,
                "imagePullPolicy": settings.image_pull_policy,
                "command": ["inthegrid", component],
                "env": env,
                "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
                # Liveness only says the process serves HTTP; readiness says NATS answers.
                "startupProbe": _probe("/healthz", 2, 30),
                "livenessProbe": _probe("/healthz", 10, 3),
                "readinessProbe": _probe("/readyz", 5, 2),
                "resources": resources,
                "securityContext": render_container_security_context(),
                # A read-only root filesystem still needs somewhere for temporary files.
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],  # noqa: S108 - an emptyDir
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *volumes],
    }
    if settings.service_account_name:
        pod_spec["serviceAccountName"] = settings.service_account_name
    pod_spec.update(render_pod_placement(settings))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            # One publisher/consumer per resource at a time: never two feeds of one MarketFeed.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(owner_name, component)},
            "template": {
                "metadata": {
                    # The operator's labels win: the selector and the NetworkPolicies rely on them.
                    "labels": {**settings.child_pod_labels, **labels},
                    "annotations": {**settings.child_pod_annotations, CONFIG_HASH_ANNOTATION: config_digest},
                },
                "spec": pod_spec,
            },
        },
    }


def render_feed_deployment(
    name: str, namespace: str, spec: MarketFeedSpec, settings: OperatorSettings
) -> dict[str, Any]:
    """MarketFeed -> Deployment running ``inthegrid feed`` configured by FeedSettings env vars."""
    env = render_feed_env(name, spec, settings)
    resources = render_resources(settings, spec)
    return _deployment(
        name=feed_deployment_name(name),
        namespace=namespace,
        owner_name=name,
        component=FEED_COMPONENT,
        settings=settings,
        env=env,
        resources=resources,
        config_digest=config_hash(env, resources),
        volumes=[],
        mounts=[],
    )


def render_rule_document(name: str, spec: dict[str, Any]) -> str:
    """The rule as the calculator reads it: an ArbitrageRule manifest (rule_from_manifest parses it)."""
    doc = {"apiVersion": API_VERSION, "kind": "ArbitrageRule", "metadata": {"name": name}, "spec": spec}
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)


def render_rule_configmap(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": rule_configmap_name(name),
            "namespace": namespace,
            "labels": render_labels(name, CALCULATOR_COMPONENT),
        },
        "data": {RULE_FILE_KEY: render_rule_document(name, spec)},
    }


def render_calculator_env(name: str, rule: RuleSpec, settings: OperatorSettings) -> list[dict[str, Any]]:
    env = [
        _env("INTHEGRID_RULE_NAME", name),
        _env("INTHEGRID_RULE_FILE", f"{RULE_DIR}/{RULE_FILE_KEY}"),
    ]
    ref = rule.alert.webhook_secret_ref if rule.alert is not None else None
    if ref is not None:
        env.append(_secret_env("INTHEGRID_ALERT_WEBHOOK_URL", ref.name, ref.key))
    return env + render_common_env(settings, "calculator")


def render_calculator_deployment(
    name: str, namespace: str, rule: RuleSpec, configmap: dict[str, Any], settings: OperatorSettings
) -> dict[str, Any]:
    """ArbitrageRule -> Deployment running ``inthegrid calculator`` on the rule in ``configmap``.

    The calculator reads its rule once at start, so the ConfigMap's content is part of the pod
    template's hash: editing the rule rolls the Deployment.
    """
    env = render_calculator_env(name, rule, settings)
    resources = render_resources(settings)
    volume = {"name": "rule", "configMap": {"name": configmap["metadata"]["name"]}}
    mount = {"name": "rule", "mountPath": RULE_DIR, "readOnly": True}
    return _deployment(
        name=calculator_deployment_name(name),
        namespace=namespace,
        owner_name=name,
        component=CALCULATOR_COMPONENT,
        settings=settings,
        env=env,
        resources=resources,
        config_digest=config_hash(env, resources, configmap["data"]),
        volumes=[volume],
        mounts=[mount],
    )
