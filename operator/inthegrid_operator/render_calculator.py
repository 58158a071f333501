"""Pure builders of an ArbitrageRule's children: the ConfigMap holding the rule and one calculator
Deployment per shard (one, named as before shards existed, when the rule runs as one replica).

The env vars are exactly the fields of ``CalculatorSettings``; contract tests parse rendered env with
that class and compare the result with the custom resource's spec.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from inthegrid.domain.rules import RuleSpec
from inthegrid_operator import API_VERSION
from inthegrid_operator.render import (
    CALCULATOR_COMPONENT,
    MAX_CHILD_NAME,
    config_hash,
    env_var,
    render_common_env,
    render_deployment,
    render_labels,
    render_resources,
    secret_env_var,
)
from inthegrid_operator.settings import OperatorSettings

RULE_DIR = "/etc/inthegrid/rule"
RULE_FILE_KEY = "rule.yaml"
# Shard Deployments of one rule share its instance and component labels; this one keeps their
# selectors apart (overlapping selectors make Deployments fight over pods).
SHARD_LABEL = "inthegrid.io/shard"


def calculator_deployment_name(name: str) -> str:
    return f"{name}-calculator"


def calculator_shard_deployment_name(name: str, index: int, count: int) -> str:
    """``<name>-calculator-shard-<i>-of-<n>``; a name too long for that keeps its first characters
    and a hash of the whole name, so distinct rules never share a Deployment."""
    suffix = f"-shard-{index}-of-{count}"
    full = calculator_deployment_name(name) + suffix
    if len(full) <= MAX_CHILD_NAME:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    tail = f"-{digest}-calculator{suffix}"
    return name[: MAX_CHILD_NAME - len(tail)] + tail


def calculator_deployment_names(name: str, replicas: int) -> list[str]:
    """The calculator Deployments of a rule run by ``replicas`` shards: with one, today's single
    Deployment (nothing changes for rules written before replicas existed)."""
    if replicas == 1:
        return [calculator_deployment_name(name)]
    return [calculator_shard_deployment_name(name, i, replicas) for i in range(replicas)]


def rule_configmap_name(name: str) -> str:
    return f"{name}-rule"


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


def render_calculator_env(
    name: str, rule: RuleSpec, settings: OperatorSettings, *, index: int = 0, count: int = 1
) -> list[dict[str, Any]]:
    """CalculatorSettings as env vars; a shard of a rule run by several replicas also gets its place."""
    env = [
        env_var("INTHEGRID_RULE_NAME", name),
        env_var("INTHEGRID_RULE_FILE", f"{RULE_DIR}/{RULE_FILE_KEY}"),
    ]
    if count > 1:
        env += [
            env_var("INTHEGRID_CALCULATOR_SHARD_COUNT", count),
            env_var("INTHEGRID_CALCULATOR_SHARD_INDEX", index),
        ]
    ref = rule.alert.webhook_secret_ref if rule.alert is not None else None
    if ref is not None:
        env.append(secret_env_var("INTHEGRID_ALERT_WEBHOOK_URL", ref.name, ref.key))
    return env + render_common_env(settings, "calculator")


def render_calculator_deployment(
    name: str,
    namespace: str,
    rule: RuleSpec,
    configmap: dict[str, Any],
    settings: OperatorSettings,
    *,
    index: int = 0,
    count: int = 1,
) -> dict[str, Any]:
    """ArbitrageRule -> Deployment running ``inthegrid calculator`` on the rule in ``configmap``
    (shard ``index`` of ``count`` when the rule runs as several replicas).

    The calculator reads its rule once at start, so the ConfigMap's content is part of the pod
    template's hash: editing the rule rolls the Deployment.
    """
    env = render_calculator_env(name, rule, settings, index=index, count=count)
    resources = render_resources(settings)
    volume = {"name": "rule", "configMap": {"name": configmap["metadata"]["name"]}}
    mount = {"name": "rule", "mountPath": RULE_DIR, "readOnly": True}
    return render_deployment(
        name=calculator_deployment_names(name, count)[index],
        namespace=namespace,
        owner_name=name,
        component=CALCULATOR_COMPONENT,
        settings=settings,
        env=env,
        resources=resources,
        config_digest=config_hash(env, resources, configmap["data"]),
        volumes=[volume],
        mounts=[mount],
        shard_labels={SHARD_LABEL: f"{index}-of-{count}"} if count > 1 else None,
    )


def render_calculator_deployments(
    name: str,
    namespace: str,
    rule: RuleSpec,
    configmap: dict[str, Any],
    settings: OperatorSettings,
    replicas: int,
) -> list[dict[str, Any]]:
    """One Deployment of one pod per shard: each shard is its own durable consumer, and a
    Deployment per shard gives each pod its fixed index (as a StatefulSet would, without one)."""
    return [
        render_calculator_deployment(name, namespace, rule, configmap, settings, index=i, count=replicas)
        for i in range(replicas)
    ]
